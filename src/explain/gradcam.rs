//! Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhyay et al. 2018): where in
//! a conv layer's maps the evidence for a class lies. The maps A_k are the layer's output
//! before its pool (after its ReLU or squash, what `visualize features` shows); the
//! gradient g_k is the class score's w.r.t. the layer's pre-activation, as the GPU's
//! backward leaves it in the conv tap (the ReLU's mask applied).

use super::objective::{conv_tap, ObjectivePlan};
use crate::error::{Error, Result};
use crate::gpu::View;
use crate::kernels::objective::ClassObjective;
use crate::model::lenet5::{CLASSES, IMAGE_SIDE};
use crate::model::{Ctx, NetSpec};
use crate::viz::weights::ConvLayer;

/// Grad-CAM takes one image's gradients: its plan's batch size.
pub const GRAD_CAM_BATCH: u32 = 1;

/// One image's class activation map.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GradCam {
    pub target: usize,
    pub score: f32,
    /// The layer's (channels, height, width).
    pub dims: (u32, u32, u32),
    /// Each channel's weight.
    pub weights: Vec<f32>,
    /// ReLU(sum_k weight_k A_k), at the layer's size.
    pub cam: Vec<f32>,
    /// The map resampled bilinearly onto the 28x28 input, each cell at the centre of its
    /// receptive field.
    pub upsampled: Vec<f32>,
}

/// A conv layer's maps for one image and the class score's gradient w.r.t. them.
pub struct LayerGradients {
    pub score: f32,
    /// (channels, height, width).
    pub dims: (u32, u32, u32),
    pub maps: Vec<f32>,
    pub grads: Vec<f32>,
}

/// [`LayerGradients`] of `layer` for `image` and `target`.
pub async fn layer_gradients(
    ctx: &Ctx<'_>,
    net: NetSpec,
    image: &[f32],
    target: usize,
    layer: ConvLayer,
) -> Result<LayerGradients> {
    if target >= CLASSES as usize {
        return Err(Error::Config(format!("--target must be a class in 0..=9, got {target}")));
    }
    let name = conv_tap(net, layer)?;
    let scorer = ObjectivePlan::class_score(ctx, net, GRAD_CAM_BATCH, ClassObjective::Logit)?;
    let (scores, _) = scorer.gradients(ctx.gpu, image, &[target as u32]).await?;
    let tap = scorer.plan.tap(&name).expect("a conv layer has a tap");
    let maps: Vec<f32> = ctx.gpu.read(View::whole(&tap.tensor.value)).await?;
    let grad = tap.tensor.grad.as_ref().ok_or_else(|| Error::Config(format!("{name} keeps no gradient")))?;
    let grads: Vec<f32> = ctx.gpu.read(View::whole(grad)).await?;
    let scale = scorer.gradient_scale();
    let grads = grads.iter().map(|g| g * scale).collect();
    Ok(LayerGradients { score: scores[0], dims: tap.tensor.dims.chw(), maps, grads })
}

/// Grad-CAM (or ++) of `image` for `target` at `layer`.
pub async fn grad_cam(
    ctx: &Ctx<'_>,
    net: NetSpec,
    image: &[f32],
    target: usize,
    layer: ConvLayer,
    plus_plus: bool,
) -> Result<GradCam> {
    let LayerGradients { score, dims, maps, grads } = layer_gradients(ctx, net, image, target, layer).await?;
    let (weights, cam) = cam_from(&maps, &grads, dims, plus_plus);
    let stride = match layer {
        ConvLayer::Conv1 => 1.0,
        ConvLayer::Conv2 => 2.0,
    };
    let upsampled = upsample(&cam, (dims.1, dims.2), stride);
    Ok(GradCam { target, score, dims, weights, cam, upsampled })
}

/// The channel weights and ReLU(sum_k w_k A_k) from maps A and gradients g, both
/// (C, H, W). Grad-CAM: w_k = mean of g_k. Grad-CAM++: w_k = sum_ij a_ij ReLU(g_ij) with
/// a_ij = g² / (2 g² + sum_ab A_ab g³) (the closed form for an exponential of the score).
pub fn cam_from(maps: &[f32], grads: &[f32], (c, h, w): (u32, u32, u32), plus_plus: bool) -> (Vec<f32>, Vec<f32>) {
    let hw = (h * w) as usize;
    let weights: Vec<f32> = (0..c as usize)
        .map(|k| {
            let (a, g) = (&maps[k * hw..(k + 1) * hw], &grads[k * hw..(k + 1) * hw]);
            if !plus_plus {
                return g.iter().sum::<f32>() / hw as f32;
            }
            let sum_a: f32 = a.iter().sum();
            g.iter()
                .map(|&g| {
                    let denom = 2.0 * g * g + sum_a * g * g * g;
                    let alpha = if g != 0.0 && denom != 0.0 { g * g / denom } else { 0.0 };
                    alpha * g.max(0.0)
                })
                .sum()
        })
        .collect();
    let cam = (0..hw).map(|i| (0..c as usize).map(|k| weights[k] * maps[k * hw + i]).sum::<f32>().max(0.0)).collect();
    (weights, cam)
}

/// A (h, w) map onto the 28x28 input: cell (r, c) sits at the centre of its receptive
/// field, 14 + stride (r - (h - 1) / 2) (valid convolutions and 2x2 pools shrink a map
/// symmetrically); bilinear between cells, the edge cells' values beyond them.
pub fn upsample(map: &[f32], (h, w): (u32, u32), stride: f32) -> Vec<f32> {
    let side = IMAGE_SIDE as usize;
    let centre = IMAGE_SIDE as f32 / 2.0;
    let coord = |p: usize, n: u32| {
        let cell = (p as f32 + 0.5 - centre) / stride + (n as f32 - 1.0) / 2.0;
        let cell = cell.clamp(0.0, (n - 1) as f32);
        let lo = (cell.floor() as u32).min(n - 1);
        let hi = (lo + 1).min(n - 1);
        (lo as usize, hi as usize, cell - lo as f32)
    };
    let mut out = vec![0.0f32; side * side];
    for y in 0..side {
        let (r0, r1, fy) = coord(y, h);
        for x in 0..side {
            let (c0, c1, fx) = coord(x, w);
            let at = |r: usize, c: usize| map[r * w as usize + c];
            let top = at(r0, c0) * (1.0 - fx) + at(r0, c1) * fx;
            let bottom = at(r1, c0) * (1.0 - fx) + at(r1, c1) * fx;
            out[y * side + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}
