//! Classifying pictures: a batch of 28x28 inputs through the forward pass, each image's
//! class, its score, every class's probability and the raw scores (LeNet-5's logits,
//! LeNet-1998's RBF distances).

use crate::error::Result;
use crate::eval::{argmax, EVAL_BATCH};
use crate::gpu::View;
use crate::model::lenet5::{CLASSES, IMAGE_LEN};
use crate::model::{Ctx, HeadKind, InputSource, Mode, NetSpec};

/// One image's answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub class: usize,
    /// The class's probability (LeNet-1998: its share of the softmin of the distances).
    pub probability: f32,
    pub probabilities: Vec<f32>,
    /// LeNet-5's logits, or LeNet-1998's distances (the smallest is the class).
    pub scores: Vec<f32>,
}

/// What [`Prediction::scores`] are for `net`: "logits" or "distances".
pub fn scores_name(net: NetSpec) -> &'static str {
    match net.arch {
        crate::model::Arch::Lenet5 => "logits",
        crate::model::Arch::Lenet1998 => "distances",
    }
}

/// Every image (28·28 values in [0, 1] each) through `ctx`'s model, in batches of up to
/// [`EVAL_BATCH`].
pub async fn predict(ctx: &Ctx<'_>, net: NetSpec, images: &[Vec<f32>]) -> Result<Vec<Prediction>> {
    let gpu = ctx.gpu;
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(EVAL_BATCH as usize) {
        let batch = chunk.len() as u32;
        let plan = net.plan(ctx, batch, Mode::Inference, InputSource::Buffer)?;
        let x: Vec<f32> = chunk.iter().flat_map(|img| img.iter().copied()).collect();
        debug_assert_eq!(x.len(), (batch * IMAGE_LEN) as usize);
        gpu.write(View::whole(plan.x().expect("an f32 input")), &x);
        gpu.run(&plan.forward_dispatches())?;
        let probs: Vec<f32> = gpu.read(View::whole(plan.probs())).await?;
        let tap = match plan.head_kind() {
            HeadKind::Softmax => "logits",
            HeadKind::Rbf => "dist",
        };
        let scores: Vec<f32> = gpu.read(View::whole(&plan.tap(tap).expect("a network's scores").tensor.value)).await?;
        let n = CLASSES as usize;
        for i in 0..chunk.len() {
            let p = probs[i * n..(i + 1) * n].to_vec();
            let class = argmax(&p);
            out.push(Prediction {
                class,
                probability: p[class],
                probabilities: p,
                scores: scores[i * n..(i + 1) * n].to_vec(),
            });
        }
    }
    Ok(out)
}
