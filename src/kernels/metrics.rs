//! Host side of `shaders/metrics.wgsl`: loss and accuracy summed on the GPU.

use super::prepare;
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Shader, View};
use crate::shapes::XentShape;

pub const METRICS_ACCUMULATE: &str = "metrics_accumulate";

/// Words in a metrics buffer: [loss sum (f32 bits), correct, samples, unused].
pub const METRICS_LEN: usize = 4;

/// Sums read back from a metrics buffer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricSums {
    pub loss_sum: f32,
    pub correct: u32,
    pub samples: u32,
}

impl MetricSums {
    pub fn from_words(w: &[u32]) -> Self {
        MetricSums { loss_sum: f32::from_bits(w[0]), correct: w[1], samples: w[2] }
    }
    pub fn mean_loss(&self) -> f32 {
        self.loss_sum / self.samples.max(1) as f32
    }
    pub fn accuracy(&self) -> f32 {
        self.correct as f32 / self.samples.max(1) as f32
    }
}

pub struct Metrics {
    accumulate: wgpu::ComputePipeline,
}

impl Metrics {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Metrics { accumulate: gpu.pipeline(Shader::Metrics, METRICS_ACCUMULATE, &[])? })
    }

    /// Adds this batch's loss sum, correct count and size to `metrics` (zero it to reset).
    pub fn metrics_accumulate(
        &self,
        gpu: &Gpu,
        s: XentShape,
        probs: View,
        labels: View,
        loss: View,
        metrics: View,
    ) -> Result<Dispatch> {
        probs.require(METRICS_ACCUMULATE, "probs", s.logits_len())?;
        labels.require(METRICS_ACCUMULATE, "labels", s.n as u64)?;
        loss.require(METRICS_ACCUMULATE, "loss", s.n as u64)?;
        metrics.require(METRICS_ACCUMULATE, "metrics", METRICS_LEN as u64)?;
        let views = [probs, labels, loss, metrics];
        Ok(prepare(gpu, &self.accumulate, METRICS_ACCUMULATE, &views, &s, [1, 1, 1]))
    }
}
