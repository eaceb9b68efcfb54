//! The learned convolution kernels themselves, on a diverging colormap centred at zero.

use std::path::Path;

use super::render::{legend, Canvas, Colormap, Grid};
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
    let (oc, ic, kh, kw) = (t.shape[0], t.shape[1], t.shape[2] as u32, t.shape[3] as u32);
    let w = &params[t.range()];
    let m = w.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-12);
    let len = (kh * kw) as usize;
    let maps = (0..oc * ic)
        .map(|i| {
            let caption = if ic == 1 { format!("#{i}") } else { format!("{}<-{}", i / ic, i % ic) };
            (&w[i * len..(i + 1) * len], caption)
        })
        .collect();
    let grid = Grid {
        title: format!("{} weights {:?} (row: output channel <- input channel)", layer.name(), t.shape),
        maps,
        h: kh,
        w: kw,
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
