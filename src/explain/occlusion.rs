//! Occlusion (Zeiler & Fergus 2014): how much the target's probability drops when a patch
//! of the image is covered. Every occluded copy is one image of one batched forward pass.

use crate::error::{Error, Result};
use crate::model::lenet5::{CLASSES, IMAGE_SIDE};
use crate::model::{Ctx, NetSpec};
use crate::predict::predict;

/// One image's occlusion map.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Occlusion {
    pub target: usize,
    /// The target's probability for the whole image.
    pub probability: f32,
    /// Each patch's top-left corner (row, column) and the drop when it is covered.
    pub patches: Vec<((u32, u32), f32)>,
    /// Per pixel: the mean drop over the patches that cover it (Captum's convention).
    pub heatmap: Vec<f32>,
}

/// Covers `image` with a `patch` x `patch` square of `value` every `stride` pixels.
pub async fn occlusion(
    ctx: &Ctx<'_>,
    net: NetSpec,
    image: &[f32],
    target: usize,
    (patch, stride): (u32, u32),
    value: f32,
) -> Result<Occlusion> {
    let side = IMAGE_SIDE;
    if target >= CLASSES as usize {
        return Err(Error::Config(format!("--target must be a class in 0..=9, got {target}")));
    }
    if !(1..=side).contains(&patch) {
        return Err(Error::Config(format!("--patch must be in 1..={side}, got {patch}")));
    }
    if !(1..=side).contains(&stride) {
        return Err(Error::Config(format!("--stride must be in 1..={side}, got {stride}")));
    }
    let corners: Vec<u32> = (0..=side - patch).step_by(stride as usize).collect();
    let windows: Vec<(u32, u32)> = corners.iter().flat_map(|&r| corners.iter().map(move |&c| (r, c))).collect();
    let mut images = vec![image.to_vec()];
    for &(r, c) in &windows {
        let mut x = image.to_vec();
        for y in r..r + patch {
            x[(y * side + c) as usize..(y * side + c + patch) as usize].fill(value);
        }
        images.push(x);
    }
    let p = predict(ctx, net, &images).await?;
    let probability = p[0].probabilities[target];
    let patches: Vec<_> =
        windows.iter().zip(&p[1..]).map(|(&w, q)| (w, probability - q.probabilities[target])).collect();
    let (mut sum, mut count) = (vec![0.0f32; images[0].len()], vec![0u32; images[0].len()]);
    for &((r, c), drop) in &patches {
        for y in r..r + patch {
            for x in c..c + patch {
                sum[(y * side + x) as usize] += drop;
                count[(y * side + x) as usize] += 1;
            }
        }
    }
    let heatmap = sum.iter().zip(&count).map(|(&s, &n)| if n > 0 { s / n as f32 } else { 0.0 }).collect();
    Ok(Occlusion { target, probability, patches, heatmap })
}
