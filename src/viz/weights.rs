//! The learned convolution kernels themselves, on a diverging colormap centred at zero.

use std::path::Path;

use super::render::{legend, range, Canvas, Colormap, Grid};
use crate::error::{Error, Result};
use crate::model::{NetSpec, ParamLayout};

/// A convolution layer that the pictures can show: a network's first or second
/// (LeNet-1998: C1 or C3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvLayer {
    Conv1,
    Conv2,
}

impl ConvLayer {
    /// Its name in file names and titles: conv1, conv2.
    pub fn name(self) -> &'static str {
        match self {
            ConvLayer::Conv1 => "conv1",
            ConvLayer::Conv2 => "conv2",
        }
    }
}

/// The kernels of the network's first or second convolution (LeNet-1998: C1, or C3 with
/// its connection table's gaps left blank) as a grid: one row per output channel. One
/// symmetric range (±max |w|) for all, so colours compare; the legend gives the values.
pub fn render_kernels(net: NetSpec, layout: &ParamLayout, params: &[f32], layer: ConvLayer, path: &Path) -> Result<()> {
    let network = net.network();
    let (Some(name), Some(k)) = (
        network.convs().get(layer as usize).copied(),
        network.conv_kernels(layout, params).into_iter().nth(layer as usize),
    ) else {
        return Err(Error::Config(format!("{} has no {layer:?}", network.name)));
    };
    let title = match &k.connected {
        None => format!("{} weights {:?} (row: output channel <- input channel)", name, k.shape),
        Some(c) => format!(
            "{} weights: {} connections (row: output map <- input map; blank: none)",
            name,
            c.iter().filter(|&&on| on).count()
        ),
    };
    render_kernel_grid(&k.weights, k.shape, k.connected.as_deref(), &title, path)
}

/// Kernels (OC, IC, KH, KW) as a grid, one row per output channel; `connected[o*IC + i]`
/// false leaves that cell blank (captioned "-").
fn render_kernel_grid(
    w: &[f32],
    [oc, ic, kh, kw]: [usize; 4],
    connected: Option<&[bool]>,
    title: &str,
    path: &Path,
) -> Result<()> {
    let m = w.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-12);
    let len = kh * kw;
    let maps = (0..oc * ic)
        .map(|i| {
            let on = connected.is_none_or(|c| c[i]);
            let caption = match (ic, on) {
                (_, false) => "-".to_string(),
                (1, true) => format!("#{i}"),
                _ => format!("{}<-{}", i / ic, i % ic),
            };
            (&w[i * len..(i + 1) * len], caption)
        })
        .collect();
    let grid = Grid {
        title: title.to_string(),
        maps,
        h: kh as u32,
        w: kw as u32,
        scale: if ic == 1 { 16 } else { 10 },
        columns: if ic == 1 { oc as u32 } else { ic as u32 },
        cmap: Colormap::RedBlue,
        shared_range: Some((-m, m)),
    };
    let (gw, gh) = grid.size();
    let mut canvas = Canvas::new(gw.max(260), gh + 50);
    grid.draw(&mut canvas, 0, 0);
    legend(&mut canvas, 12, gh + 8, 236, Colormap::RedBlue, (-m, m));
    canvas.save(path)
}

/// LeNet-1998's fixed RBF centers: the ten 7x12 target bitmaps F6's outputs are compared
/// against, ink dark (f(+1)) on light background (f(-1)).
pub fn render_rbf_centers(squash: crate::kernels::squash::SquashFn, path: &Path) -> Result<()> {
    use crate::model::lenet1998::{rbf_centers, BITMAP_H, BITMAP_W};
    // Negated so that ink, the larger target, comes out dark on the gray map.
    let centers: Vec<f32> = rbf_centers(squash).iter().map(|c| -c).collect();
    let len = BITMAP_W * BITMAP_H;
    let (lo, hi) = range(&centers);
    let grid = Grid {
        title: "LeNet-1998 output: RBF centers (7x12 bitmaps, fixed)".into(),
        maps: (0..10).map(|d| (&centers[d * len..(d + 1) * len], format!("{d}"))).collect(),
        h: BITMAP_H as u32,
        w: BITMAP_W as u32,
        scale: 12,
        columns: 10,
        cmap: Colormap::Gray,
        shared_range: Some((lo, hi)),
    };
    grid.render().save(path)
}
