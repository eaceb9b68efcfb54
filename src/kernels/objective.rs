//! Host side of `shaders/objective.wgsl`: what gradient ascent maximizes.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid, Dispatch, Gpu, Shader, View};
use crate::shapes::{ChannelShape, XentShape};

pub const CLASS_OBJECTIVE_BACKWARD: &str = "class_objective_backward";
pub const CHANNEL_OBJECTIVE_BACKWARD: &str = "channel_objective_backward";

/// What a class image maximizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClassObjective {
    /// The pre-softmax logit of the class (does not saturate).
    Logit,
    /// The softmax probability of the class (the Keras tutorial's objective).
    Softmax,
}

/// The views `class_objective_backward` reads and writes.
#[derive(Clone, Copy)]
pub struct ClassObjectiveViews<'a> {
    pub logits: View<'a>,
    pub probs: View<'a>,
    pub targets: View<'a>,
    pub dlogits: View<'a>,
    pub objective: View<'a>,
}

pub struct Objective {
    channel: wgpu::ComputePipeline,
}

impl Objective {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Objective { channel: gpu.pipeline(Shader::Objective, CHANNEL_OBJECTIVE_BACKWARD, &[])? })
    }

    /// objective[n] = logit or probability of class targets[n]; dlogits = its gradient.
    pub fn class_objective_backward(
        &self,
        gpu: &Gpu,
        mode: ClassObjective,
        s: XentShape,
        v: ClassObjectiveViews,
    ) -> Result<Dispatch> {
        const OP: &str = CLASS_OBJECTIVE_BACKWARD;
        for (name, view, len) in [
            ("logits", v.logits, s.logits_len()),
            ("probs", v.probs, s.logits_len()),
            ("targets", v.targets, s.n as u64),
            ("dlogits", v.dlogits, s.logits_len()),
            ("objective", v.objective, s.n as u64),
        ] {
            view.require(OP, name, len)?;
        }
        let mode_value = match mode {
            ClassObjective::Logit => 0.0,
            ClassObjective::Softmax => 1.0,
        };
        let pipeline = gpu.pipeline(Shader::Objective, OP, &[("MODE", mode_value)])?;
        let views = [v.logits, v.probs, v.targets, v.dlogits, v.objective];
        Ok(prepare(gpu, &pipeline, OP, &views, &s, grid(s.n.div_ceil(64))))
    }

    /// objective[n] = mean of channel targets[n] of y; dy = its gradient (before ReLU mask).
    pub fn channel_objective_backward(
        &self,
        gpu: &Gpu,
        s: ChannelShape,
        y: View,
        targets: View,
        dy: View,
        objective: View,
    ) -> Result<Dispatch> {
        const OP: &str = CHANNEL_OBJECTIVE_BACKWARD;
        let len = s.n as u64 * s.c as u64 * s.hw as u64;
        y.require(OP, "y", len)?;
        dy.require(OP, "dy", len)?;
        targets.require(OP, "targets", s.n as u64)?;
        objective.require(OP, "objective", s.n as u64)?;
        Ok(prepare(gpu, &self.channel, OP, &[y, targets, dy, objective], &s, grid((s.n * s.c).div_ceil(64))))
    }
}
