//! Feature maps: every layer's activations for one image, as one PNG per layer plus an
//! overview (the tutorial's pictures for test image 12).

use std::path::{Path, PathBuf};

use super::render::{Canvas, Colormap, Grid, BLACK, GRAY};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, View};
use crate::kernels::squash::SquashFn;
use crate::kernels::Kernels;
use crate::model::lenet5::IMAGE_SIDE;
use crate::model::{Mode, Network, ParamLayout, Plan, Plan1998};

/// Every activation of LeNet-5 for one image (batch 1), named as in `Activations`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMaps {
    pub input: Vec<f32>, // 28x28
    pub conv1: Vec<f32>, // 6 x 24x24
    pub pool1: Vec<f32>, // 6 x 12x12
    pub conv2: Vec<f32>, // 16 x 8x8
    pub pool2: Vec<f32>, // 16 x 4x4
    pub fc1: Vec<f32>,   // 120
    pub fc2: Vec<f32>,   // 84
    pub logits: Vec<f32>,
    pub probs: Vec<f32>, // 10
}

impl FeatureMaps {
    /// The predicted class and its probability.
    pub fn prediction(&self) -> (usize, f32) {
        let c = crate::eval::argmax(&self.probs);
        (c, self.probs[c])
    }
}

/// Runs the forward pass on the GPU for one 28x28 image (values in [0, 1]).
pub fn feature_maps(
    gpu: &Gpu,
    k: &Kernels,
    layout: &ParamLayout,
    params: &[f32],
    image: &[f32],
) -> Result<FeatureMaps> {
    let params_buf = gpu.storage_from("params", params);
    let no_grads = gpu.storage("no_grads", 1);
    let plan = Plan::new(gpu, k, layout, &params_buf, &no_grads, 1, Mode::FeatureMaps)?;
    forward_one(gpu, &plan, image);
    let s = plan.shapes;
    let read = |b: &wgpu::Buffer, len: u64| -> Result<Vec<f32>> { gpu.read(View { buffer: b, offset: 0, len }) };
    let a = &plan.act;
    Ok(FeatureMaps {
        input: image.to_vec(),
        conv1: read(&a.conv1, s.conv1.y_len())?,
        pool1: read(&a.pool1, s.pool1.y_len())?,
        conv2: read(&a.conv2, s.conv2.y_len())?,
        pool2: read(&a.pool2, s.pool2.y_len())?,
        fc1: read(&a.fc1, s.fc1.outputs as u64)?,
        fc2: read(&a.fc2, s.fc2.outputs as u64)?,
        logits: read(&a.logits, s.fc3.outputs as u64)?,
        probs: read(&a.probs, s.fc3.outputs as u64)?,
    })
}

/// Every activation of LeNet-1998 for one image (batch 1), after each squash.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMaps1998 {
    pub input: Vec<f32>, // 32x32, padded and normalized
    pub c1: Vec<f32>,    // 6 x 28x28
    pub s2: Vec<f32>,    // 6 x 14x14
    pub c3: Vec<f32>,    // 16 x 10x10
    pub s4: Vec<f32>,    // 16 x 5x5
    pub c5: Vec<f32>,    // 120
    pub f6: Vec<f32>,    // 84: compared with the 7x12 bitmaps
    pub dist: Vec<f32>,  // 10 RBF outputs
    pub probs: Vec<f32>, // 10, softmin of dist
}

/// LeNet-1998's forward pass on the GPU for one 28x28 image (values in [0, 1]).
pub fn feature_maps_1998(
    gpu: &Gpu,
    k: &Kernels,
    layout: &ParamLayout,
    params: &[f32],
    squash: SquashFn,
    image: &[f32],
) -> Result<FeatureMaps1998> {
    let params_buf = gpu.storage_from("params", params);
    let no_grads = gpu.storage("no_grads", 1);
    let plan = Plan1998::new(gpu, k, layout, &params_buf, &no_grads, None, 1, Mode::FeatureMaps, squash)?;
    forward_one(gpu, &plan, image);
    let s = plan.shapes;
    let read = |b: &wgpu::Buffer, len: u64| -> Result<Vec<f32>> { gpu.read(View { buffer: b, offset: 0, len }) };
    let a = &plan.act;
    Ok(FeatureMaps1998 {
        input: read(&a.input, s.input.y_len())?,
        c1: read(&a.c1, s.c1.y_len())?,
        s2: read(&a.s2, s.s2.y_len())?,
        c3: read(&a.c3, s.c3.y_len())?,
        s4: read(&a.s4, s.s4.y_len())?,
        c5: read(&a.c5, s.c5.outputs as u64)?,
        f6: read(&a.f6, s.f6.outputs as u64)?,
        dist: read(&a.dist, s.rbf.classes as u64)?,
        probs: read(&a.probs, s.rbf.classes as u64)?,
    })
}

/// Writes one image into a batch-1 plan and runs its forward pass (readbacks wait for it).
fn forward_one(gpu: &Gpu, plan: &dyn Network, image: &[f32]) {
    gpu.write(View::whole(plan.x()), image);
    gpu.write(View::whole(plan.labels()), &[0u32]);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.record_forward(&mut pass);
    }
    gpu.queue.submit([encoder.finish()]);
}

/// A user's picture as a 28x28 MNIST-like input: greyscale, resized, and inverted when
/// its background is light (MNIST digits are white on black).
pub fn load_image(path: &Path) -> Result<Vec<f32>> {
    let img = image::open(path)
        .map_err(|e| Error::Data { path: path.to_path_buf(), reason: format!("cannot read image: {e}") })?;
    let gray = image::imageops::resize(&img.to_luma8(), IMAGE_SIDE, IMAGE_SIDE, image::imageops::FilterType::Triangle);
    let mut x: Vec<f32> = gray.pixels().map(|p| p.0[0] as f32 / 255.0).collect();
    if x.iter().sum::<f32>() / x.len() as f32 > 0.5 {
        x.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    Ok(x)
}

fn grid<'a>(
    title: String,
    values: &'a [f32],
    channels: usize,
    side: u32,
    scale: u32,
    columns: u32,
    cmap: Colormap,
) -> Grid<'a> {
    let len = (side * side) as usize;
    let maps = (0..channels).map(|c| (&values[c * len..(c + 1) * len], format!("#{c}"))).collect();
    Grid { title, maps, h: side, w: side, scale, columns, cmap, shared_range: None }
}

/// A dense layer as a strip of cells; the output layer with class labels.
fn strip<'a>(title: String, values: &'a [f32], cell: u32, cmap: Colormap) -> Grid<'a> {
    Grid {
        title,
        maps: vec![(values, format!("{} units", values.len()))],
        h: 1,
        w: values.len() as u32,
        scale: cell,
        columns: 1,
        cmap,
        shared_range: None,
    }
}

/// The layer pictures in order: (file stem, grid).
fn layer_grids<'a>(fm: &'a FeatureMaps, cmap: Colormap, label: &str) -> Vec<(&'static str, Grid<'a>)> {
    let (class, p) = fm.prediction();
    vec![
        (
            "input",
            grid(format!("input {label}: predicted {class} (p = {p:.3})"), &fm.input, 1, 28, 6, 1, Colormap::Gray),
        ),
        ("conv1", grid("conv1 (Conv2D 5x5, relu): 6 maps 24x24".into(), &fm.conv1, 6, 24, 5, 6, cmap)),
        ("pool1", grid("pool1 (MaxPooling 2x2): 6 maps 12x12".into(), &fm.pool1, 6, 12, 10, 6, cmap)),
        ("conv2", grid("conv2 (Conv2D 5x5, relu): 16 maps 8x8".into(), &fm.conv2, 16, 8, 12, 8, cmap)),
        ("pool2", grid("pool2 (MaxPooling 2x2): 16 maps 4x4".into(), &fm.pool2, 16, 4, 24, 8, cmap)),
        ("fc1", strip("fc1 (Dense 120, relu)".into(), &fm.fc1, 7, cmap)),
        ("fc2", strip("fc2 (Dense 84, relu)".into(), &fm.fc2, 10, cmap)),
    ]
}

/// LeNet-1998's layer pictures in order; F6's 84 outputs drawn as the 7x12 bitmap they
/// are compared with.
fn layer_grids_1998<'a>(fm: &'a FeatureMaps1998, cmap: Colormap, label: &str) -> Vec<(&'static str, Grid<'a>)> {
    use crate::model::lenet1998::{BITMAP_H, BITMAP_W};
    let class = crate::eval::argmax(&fm.probs);
    let title = format!("input {label}, padded to 32x32: nearest bitmap {class} (distance {:.1})", fm.dist[class]);
    let f6 = Grid {
        title: "F6 (84 units, squash) as the 7x12 bitmap the RBF layer compares".into(),
        maps: vec![(&fm.f6[..], "F6".to_string())],
        h: BITMAP_H as u32,
        w: BITMAP_W as u32,
        scale: 12,
        columns: 1,
        cmap: Colormap::Gray,
        shared_range: Some((-1.7159, 1.7159)),
    };
    vec![
        ("input", grid(title, &fm.input, 1, 32, 6, 1, Colormap::Gray)),
        ("c1", grid("C1 (conv 5x5, squash): 6 maps 28x28".into(), &fm.c1, 6, 28, 5, 6, cmap)),
        ("s2", grid("S2 (trainable subsampling, squash): 6 maps 14x14".into(), &fm.s2, 6, 14, 10, 6, cmap)),
        ("c3", grid("C3 (conv 5x5 over the table, squash): 16 maps 10x10".into(), &fm.c3, 16, 10, 10, 8, cmap)),
        ("s4", grid("S4 (trainable subsampling, squash): 16 maps 5x5".into(), &fm.s4, 16, 5, 20, 8, cmap)),
        ("c5", strip("C5 (conv 5x5 -> 120 maps 1x1, squash)".into(), &fm.c5, 7, cmap)),
        ("f6", f6),
    ]
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
    let title = format!("fc3 (Dense 10, softmax): predicted {class}, p = {p:.3}");
    render_layers(&layer_grids(fm, cmap, label), &fm.probs, &title, dir)
}

/// LeNet-1998's pictures, as `render_features`; the output bars are the softmin of the RBF
/// distances.
pub fn render_features_1998(fm: &FeatureMaps1998, cmap: Colormap, label: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let class = crate::eval::argmax(&fm.probs);
    let title = format!("output (RBF): nearest bitmap {class}; bars: softmin of the distances");
    render_layers(&layer_grids_1998(fm, cmap, label), &fm.probs, &title, dir)
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
