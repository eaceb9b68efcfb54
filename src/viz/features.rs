//! Feature maps: every layer's activations for one image, as one PNG per layer plus an
//! overview (the tutorial's pictures for test image 12).

use std::path::{Path, PathBuf};

use super::render::{Canvas, Colormap, Grid, BLACK, GRAY};
use crate::error::Result;
use crate::gpu::View;
use crate::model::layers::Picture;
use crate::model::lenet5::IMAGE_SIDE;
use crate::model::summary::LayerInfo;
use crate::model::{Arch, Ctx, Dims, HeadKind, InputSource, Mode, NetSpec};

/// One tensor of the forward pass for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    pub name: String,
    pub dims: Dims,
    pub picture: Picture,
    pub values: Vec<f32>,
}

/// Every named tensor of a network's forward pass for one image (batch 1), in order: the
/// input as the network sees it, each layer's output (LeNet-5's convolutions before their
/// pools too), the class scores (`probs`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMaps {
    pub net: NetSpec,
    pub head: HeadKind,
    pub maps: Vec<FeatureMap>,
}

impl std::ops::Index<&str> for FeatureMaps {
    type Output = [f32];
    /// The values of tensor `name`; panics on a name the network does not have.
    fn index(&self, name: &str) -> &[f32] {
        let names: Vec<&str> = self.maps.iter().map(|m| m.name.as_str()).collect();
        let found = self.maps.iter().find(|m| m.name == name);
        &found.unwrap_or_else(|| panic!("no feature map {name}; there are {names:?}")).values
    }
}

impl FeatureMaps {
    /// The predicted class and its score (softmax probability, or softmin of the RBF
    /// distances: the nearest bitmap).
    pub fn prediction(&self) -> (usize, f32) {
        let probs = &self["probs"];
        let c = crate::eval::argmax(probs);
        (c, probs[c])
    }

    /// The prediction in words: LeNet-5's probability, LeNet-1998's nearest bitmap.
    fn prediction_text(&self) -> String {
        let (class, p) = self.prediction();
        match self.head {
            HeadKind::Softmax => format!("predicted {class} (p = {p:.3})"),
            HeadKind::Rbf => format!("nearest bitmap {class} (distance {:.1})", self["dist"][class]),
        }
    }
}

/// Runs the forward pass on the GPU for one 28x28 image (values in [0, 1]) and reads
/// every tap back.
pub async fn feature_maps(ctx: &Ctx<'_>, net: NetSpec, image: &[f32]) -> Result<FeatureMaps> {
    let gpu = ctx.gpu;
    let plan = net.plan(ctx, 1, Mode::FeatureMaps, InputSource::Buffer)?;
    gpu.write(View::whole(plan.x().expect("an f32 input")), image);
    gpu.write(View::whole(plan.labels()), &[0u32]);
    gpu.run(&plan.forward_dispatches())?;
    let mut maps = Vec::new();
    for t in plan.taps() {
        let len = t.tensor.dims.len() as u64;
        let values = gpu.read(View { buffer: &t.tensor.value, offset: 0, len }).await?;
        maps.push(FeatureMap { name: t.name.clone(), dims: t.tensor.dims, picture: t.picture, values });
    }
    Ok(FeatureMaps { net, head: plan.head_kind(), maps })
}

/// A unit's receptive field: the pixels of the 28x28 picture it depends on, rows
/// `top..bottom` and columns `left..right` (clipped to the picture; empty for a unit of
/// LeNet-1998's padded input that lies in the padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub top: u32,
    pub left: u32,
    pub bottom: u32,
    pub right: u32,
}

/// The receptive field of unit (`y`, `x`) of feature map `tap` (a name `feature_maps`
/// gives), from the windows (kernel, stride) of the spatial layers up to it; units of the
/// other taps (dense layers, outputs) see the whole picture.
pub fn receptive_field(arch: Arch, tap: &str, y: u32, x: u32) -> Field {
    use crate::model::lenet1998::PAD;
    // Each network's spatial taps in order, with the window that makes each from the one
    // before; the first is the input as the network sees it, `offset` pixels of padding in.
    let (offset, windows): (u32, &[(&str, u32, u32)]) = match arch {
        Arch::Lenet5 => (0, &[("input", 1, 1), ("conv1", 5, 1), ("pool1", 2, 2), ("conv2", 5, 1), ("pool2", 2, 2)]),
        Arch::Lenet1998 => (PAD, &[("input", 1, 1), ("c1", 5, 1), ("s2", 2, 2), ("c3", 5, 1), ("s4", 2, 2)]),
    };
    let whole = Field { top: 0, left: 0, bottom: IMAGE_SIDE, right: IMAGE_SIDE };
    let Some(depth) = windows.iter().position(|w| w.0 == tap) else { return whole };
    // Rows (and columns) a..b of a map come from rows a*stride .. (b-1)*stride+kernel of
    // the map before it.
    let (mut rows, mut cols) = ((y, y + 1), (x, x + 1));
    for &(_, kernel, stride) in windows[1..=depth].iter().rev() {
        rows = (rows.0 * stride, (rows.1 - 1) * stride + kernel);
        cols = (cols.0 * stride, (cols.1 - 1) * stride + kernel);
    }
    let clip = |v: u32| v.saturating_sub(offset).min(IMAGE_SIDE);
    Field { top: clip(rows.0), left: clip(cols.0), bottom: clip(rows.1), right: clip(cols.1) }
}

/// One tap's picture, titled from its layer's summary row.
fn map_grid<'a>(m: &'a FeatureMap, row: Option<&LayerInfo>, cmap: Colormap) -> Option<Grid<'a>> {
    let describe = |extra: String| match row {
        Some(r) => {
            let act = if r.activation.is_empty() { String::new() } else { format!(", {}", r.activation) };
            format!("{} ({}{extra}{act})", r.name, r.kind)
        }
        None => format!("{}{extra}", m.name),
    };
    let (c, h, w) = m.dims.chw();
    match m.picture {
        Picture::Hidden => None,
        Picture::Maps => {
            let len = (h * w) as usize;
            let maps = (0..c as usize).map(|i| (&m.values[i * len..(i + 1) * len], format!("#{i}"))).collect();
            // Maps about 120 pixels wide, or 96 in grids of 8 columns.
            let target: u32 = if c <= 8 { 120 } else { 96 };
            let title = format!("{}: {c} maps {h}x{w}", describe(String::new()));
            let scale = target.div_ceil(h.max(w));
            Some(Grid { title, maps, h, w, scale, columns: c.min(8), cmap, shared_range: None })
        }
        Picture::Strip => {
            let units = m.values.len() as u32;
            let title = describe(format!(" {units}"));
            let maps = vec![(&m.values[..], format!("{units} units"))];
            Some(Grid {
                title,
                maps,
                h: 1,
                w: units,
                scale: (840 / units).max(1),
                columns: 1,
                cmap,
                shared_range: None,
            })
        }
        Picture::Bitmap { h, w } => {
            let title = format!("{} as a {w}x{h} bitmap", describe(format!(" {}", m.values.len())));
            let maps = vec![(&m.values[..], m.name.clone())];
            Some(Grid { title, maps, h, w, scale: 12, columns: 1, cmap: Colormap::Gray, shared_range: None })
        }
    }
}

/// The layer pictures in order: (file stem, grid); the input in grey, titled with the
/// prediction.
fn layer_grids<'a>(fm: &'a FeatureMaps, cmap: Colormap, label: &str) -> Vec<(&'a str, Grid<'a>)> {
    let rows = fm.net.network().rows();
    fm.maps
        .iter()
        .filter_map(|m| {
            if m.name == "input" {
                let (_, h, w) = m.dims.chw();
                let seen = if h == IMAGE_SIDE { String::new() } else { format!(", padded to {h}x{w}") };
                let title = format!("input {label}{seen}: {}", fm.prediction_text());
                let maps = vec![(&m.values[..], "#0".to_string())];
                let grid = Grid { title, maps, h, w, scale: 6, columns: 1, cmap: Colormap::Gray, shared_range: None };
                return Some((m.name.as_str(), grid));
            }
            let row = rows.iter().find(|r| r.name.to_lowercase() == m.name);
            map_grid(m, row, cmap).map(|g| (m.name.as_str(), g))
        })
        .collect()
}

/// Ten bars, one per class, the predicted one in black, under `title`.
fn draw_output(canvas: &mut Canvas, x: u32, y: u32, probs: &[f32], title: &str) -> u32 {
    let class = crate::eval::argmax(probs);
    canvas.text(x as i32 + 12, y as i32 + 6, 18.0, BLACK, title);
    let (bar_w, bar_h, top) = (40u32, 100u32, y + 36);
    for (c, &v) in probs.iter().enumerate() {
        let bx = x + 12 + c as u32 * (bar_w + 10);
        let h = (v.clamp(0.0, 1.0) * bar_h as f32).round() as u32;
        let color = if c == class { BLACK } else { GRAY };
        canvas.frame(bx as i32, top as i32, bar_w, bar_h, GRAY);
        canvas.fill(bx as i32, (top + bar_h - h) as i32, bar_w, h.max(1), color);
        canvas.text(bx as i32 + 15, (top + bar_h + 4) as i32, 14.0, BLACK, &c.to_string());
    }
    36 + bar_h + 28
}

/// Writes `<stem>.png` per layer, `output.png` and `overview.png` into `dir`; returns the
/// paths written.
pub fn render_features(fm: &FeatureMaps, cmap: Colormap, label: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let (class, p) = fm.prediction();
    let title = match fm.head {
        HeadKind::Softmax => format!("output (softmax): predicted {class}, p = {p:.3}"),
        HeadKind::Rbf => format!("output (RBF): nearest bitmap {class}; bars: softmin of the distances"),
    };
    render_layers(&layer_grids(fm, cmap, label), &fm["probs"], &title, dir)
}

fn render_layers(grids: &[(&str, Grid)], probs: &[f32], output_title: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (stem, g) in grids {
        let path = dir.join(format!("{stem}.png"));
        g.render().save(&path)?;
        written.push(path);
    }
    let mut out = Canvas::new(560, 190);
    draw_output(&mut out, 0, 0, probs, output_title);
    let path = dir.join("output.png");
    out.save(&path)?;
    written.push(path);

    let width = grids.iter().map(|(_, g)| g.size().0).max().unwrap_or(0).max(560);
    let height = grids.iter().map(|(_, g)| g.size().1).sum::<u32>() + 190;
    let mut overview = Canvas::new(width, height);
    let mut y = 0;
    for (_, g) in grids {
        g.draw(&mut overview, 0, y);
        y += g.size().1;
    }
    draw_output(&mut overview, 0, y, probs, output_title);
    let path = dir.join("overview.png");
    overview.save(&path)?;
    written.push(path);
    Ok(written)
}
