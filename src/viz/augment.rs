//! What an augmentation does to the training images: a grid of a few images, each next to
//! the draws of several epochs, made by the training kernel itself.

use crate::augment::{AugmentKind, Augmentation};
use crate::data::{Dataset, GpuDataset, SIDE};
use crate::error::Result;
use crate::gpu::{Gpu, View};
use crate::kernels::augment::Augment;
use crate::kernels::data::GatherViews;
use crate::shapes::AugmentParams;
use crate::viz::render::{Canvas, Colormap, Grid};

/// `epochs` draws of every image of `data` (epochs 0, 1, ...; positions 0.. of an order
/// that keeps the images in place), as [0, 1] pixels: one (N, 28·28) batch per epoch.
pub async fn augmented_samples(
    gpu: &Gpu,
    a: &Augmentation,
    data: &Dataset,
    seed: u64,
    epochs: u32,
) -> Result<Vec<Vec<f32>>> {
    let kernel = Augment::new(gpu)?;
    let gpu_data = GpuDataset::upload(gpu, data, "augment")?;
    let order = gpu.storage_from("augment.order", &(0..gpu_data.len).collect::<Vec<u32>>());
    let p = AugmentParams::new(a, gpu_data.len, SIDE as u32, seed, 255.0);
    let x = gpu.storage("augment.x", p.x_len() as usize);
    let labels = gpu.storage("augment.labels", gpu_data.len as usize);
    let views = GatherViews {
        images: View::whole(&gpu_data.images),
        all_labels: View::whole(&gpu_data.labels),
        order: View::whole(&order),
        x: View::whole(&x),
        labels: View::whole(&labels),
    };
    let dispatch = kernel.augment_batch(gpu, p, views)?;
    let mut draws = Vec::with_capacity(epochs as usize);
    for epoch in 0..epochs {
        dispatch.set_uniform(gpu, &AugmentParams { epoch, ..p });
        gpu.run(&[&dispatch])?;
        draws.push(gpu.read(View::whole(&x)).await?);
    }
    Ok(draws)
}

/// What `a` draws, in words: "affine: shift ±2 px, rotate ±10°, ...".
pub fn describe(a: &Augmentation) -> String {
    let affine = format!("shift ±{} px, rotate ±{}°, zoom ±{}, shear ±{}°", a.shift, a.rotate, a.zoom, a.shear);
    match a.kind {
        AugmentKind::None => "none".into(),
        AugmentKind::Shift => format!("shift: whole pixels within ±{}", a.shift.floor()),
        AugmentKind::Affine => format!("affine: {affine}"),
        AugmentKind::Elastic => {
            format!("elastic: {affine}, elastic alpha {} sigma {}", a.elastic_alpha, a.elastic_sigma)
        }
    }
}

/// One row per image: the original, then each epoch's draw.
pub fn render_augmented(a: &Augmentation, data: &Dataset, draws: &[Vec<f32>]) -> Canvas {
    let pixels = SIDE * SIDE;
    let originals: Vec<Vec<f32>> = (0..data.len()).map(|i| data.input(i)).collect();
    let mut maps = Vec::new();
    for (i, original) in originals.iter().enumerate() {
        maps.push((original.as_slice(), format!("#{i} ({})", data.labels[i])));
        for (epoch, draw) in draws.iter().enumerate() {
            maps.push((&draw[i * pixels..(i + 1) * pixels], format!("epoch {}", epoch + 1)));
        }
    }
    Grid {
        title: format!("augmentation {}", describe(a)),
        maps,
        h: SIDE as u32,
        w: SIDE as u32,
        scale: 3,
        columns: draws.len() as u32 + 1,
        cmap: Colormap::Gray,
        shared_range: Some((0.0, 1.0)),
    }
    .render()
}
