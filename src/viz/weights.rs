//! The learned convolution kernels themselves, on a diverging colormap centred at zero.

use std::path::Path;

use super::render::{legend, range, Canvas, Colormap, Grid};
use crate::error::Result;
use crate::model::ParamLayout;

/// A convolution layer that the pictures can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvLayer {
    Conv1,
    Conv2,
}

impl ConvLayer {
    pub fn weight_name(self) -> &'static str {
        match self {
            ConvLayer::Conv1 => "conv1.weight",
            ConvLayer::Conv2 => "conv2.weight",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ConvLayer::Conv1 => "conv1",
            ConvLayer::Conv2 => "conv2",
        }
    }
}

/// conv1: its 6 kernels 5x5 in a row; conv2: 16 rows (output channels) x 6 columns
/// (input channels). One symmetric range (±max |w|) for all, so colours compare; the
/// legend gives the values.
pub fn render_kernels(layout: &ParamLayout, params: &[f32], layer: ConvLayer, path: &Path) -> Result<()> {
    let t = layout.get(layer.weight_name());
    let shape = [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
    let title = format!("{} weights {:?} (row: output channel <- input channel)", layer.name(), t.shape);
    render_kernel_grid(&params[t.range()], shape, None, &title, path)
}

/// LeNet-1998's C1 (6 kernels) or C3 (16 x 6, the connection table's gaps left blank).
pub fn render_kernels_1998(layout: &ParamLayout, params: &[f32], layer: ConvLayer, path: &Path) -> Result<()> {
    use crate::model::lenet1998::{c3_dense_index, c3_span};
    match layer {
        ConvLayer::Conv1 => {
            let t = layout.get("c1.weight");
            let title = format!("LeNet-1998 C1 weights {:?}", t.shape);
            render_kernel_grid(&params[t.range()], [6, 1, 5, 5], None, &title, path)
        }
        ConvLayer::Conv2 => {
            let index = c3_dense_index(layout);
            let stored = &params[c3_span(layout)];
            let dense: Vec<f32> = index
                .iter()
                .map(|&i| if i == crate::kernels::table::NONE { 0.0 } else { stored[i as usize] })
                .collect();
            let connected: Vec<bool> = index.chunks(25).map(|k| k[0] != crate::kernels::table::NONE).collect();
            let title = "LeNet-1998 C3 weights: 60 connections (row: C3 map <- S2 map; blank: none)";
            render_kernel_grid(&dense, [16, 6, 5, 5], Some(&connected), title, path)
        }
    }
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
