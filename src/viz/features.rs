//! Feature maps: every layer's activations for one image, as one PNG per layer plus an
//! overview (the tutorial's pictures for test image 12).

use std::path::{Path, PathBuf};

use super::render::{Canvas, Colormap, Grid, BLACK, GRAY};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, View};
use crate::kernels::Kernels;
use crate::model::lenet5::IMAGE_SIDE;
use crate::model::{Mode, ParamLayout, Plan};

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
    let plan = Plan::new(gpu, k, layout, &params_buf, &no_grads, 1, Mode::Inference)?;
    gpu.write(View::whole(&plan.x), image);
    gpu.write(View::whole(&plan.labels), &[0u32]);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.record_forward(&mut pass);
    }
    gpu.queue.submit([encoder.finish()]);
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

/// Ten bars, one per class, the predicted one in black.
fn draw_output(canvas: &mut Canvas, x: u32, y: u32, probs: &[f32]) -> u32 {
    let class = crate::eval::argmax(probs);
    let p = probs[class];
    canvas.text(
        x as i32 + 12,
        y as i32 + 6,
        18.0,
        BLACK,
        &format!("fc3 (Dense 10, softmax): predicted {class}, p = {p:.3}"),
    );
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
    std::fs::create_dir_all(dir)?;
    let grids = layer_grids(fm, cmap, label);
    let mut written = Vec::new();
    for (stem, g) in &grids {
        let path = dir.join(format!("{stem}.png"));
        g.render().save(&path)?;
        written.push(path);
    }
    let mut out = Canvas::new(560, 190);
    draw_output(&mut out, 0, 0, &fm.probs);
    let path = dir.join("output.png");
    out.save(&path)?;
    written.push(path);

    let width = grids.iter().map(|(_, g)| g.size().0).max().unwrap_or(0).max(560);
    let height = grids.iter().map(|(_, g)| g.size().1).sum::<u32>() + 190;
    let mut overview = Canvas::new(width, height);
    let mut y = 0;
    for (_, g) in &grids {
        g.draw(&mut overview, 0, y);
        y += g.size().1;
    }
    draw_output(&mut overview, 0, y, &fm.probs);
    let path = dir.join("overview.png");
    overview.save(&path)?;
    written.push(path);
    Ok(written)
}
