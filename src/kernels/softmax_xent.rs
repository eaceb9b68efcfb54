//! Host side of `shaders/softmax_xent.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid, Dispatch, Gpu, Shader, View};
use crate::shapes::XentShape;

pub const SOFTMAX_XENT_FORWARD_BACKWARD: &str = "softmax_xent_forward_backward";
const OP: &str = SOFTMAX_XENT_FORWARD_BACKWARD;

/// The views one softmax-cross-entropy dispatch reads and writes.
#[derive(Clone, Copy)]
pub struct XentViews<'a> {
    pub logits: View<'a>,
    pub labels: View<'a>,
    pub probs: View<'a>,
    pub dlogits: View<'a>,
    pub loss: View<'a>,
}

pub struct SoftmaxXent {
    forward_backward: wgpu::ComputePipeline,
}

impl SoftmaxXent {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(SoftmaxXent { forward_backward: gpu.pipeline(Shader::SoftmaxXent, OP, &[])? })
    }

    /// probs = softmax(logits), loss[i] = -log probs[i, label[i]],
    /// dlogits = (probs - onehot) / N (the gradient of the mean loss); all overwritten.
    pub fn softmax_xent_forward_backward(&self, gpu: &Gpu, s: XentShape, v: XentViews) -> Result<Dispatch> {
        v.logits.require(OP, "logits", s.logits_len())?;
        v.labels.require(OP, "labels", s.n as u64)?;
        v.probs.require(OP, "probs", s.logits_len())?;
        v.dlogits.require(OP, "dlogits", s.logits_len())?;
        v.loss.require(OP, "loss", s.n as u64)?;
        let views = [v.logits, v.labels, v.probs, v.dlogits, v.loss];
        Ok(prepare(gpu, &self.forward_backward, OP, &views, &s, grid(s.n.div_ceil(64))))
    }
}
