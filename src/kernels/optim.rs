//! Host side of `shaders/optim.wgsl`: one dispatch updates the whole flat parameter buffer.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::{AdamParams, SgdParams};

pub const SGD_STEP: &str = "sgd_step";
pub const ADAM_STEP: &str = "adam_step";

pub struct Optim {
    sgd: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
}

impl Optim {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Optim {
            sgd: gpu.pipeline(Shader::Optim, SGD_STEP, &[])?,
            adam: gpu.pipeline(Shader::Optim, ADAM_STEP, &[])?,
        })
    }

    /// One SGD step (PyTorch's convention) over `p.len` elements of params/grads/velocity.
    /// Rewrite the dispatch's uniform to change the learning rate between steps.
    pub fn sgd_step(&self, gpu: &Gpu, p: SgdParams, params: View, grads: View, velocity: View) -> Result<Dispatch> {
        for (name, v) in [("params", params), ("grads", grads), ("velocity", velocity)] {
            v.require(SGD_STEP, name, p.len as u64)?;
        }
        let views = [params, grads, velocity];
        Ok(prepare(gpu, &self.sgd, SGD_STEP, &views, &p, grid_1d(p.len as u64)))
    }

    /// One Adam step over `p.len` elements; rewrite the uniform each step (bias corrections).
    pub fn adam_step(&self, gpu: &Gpu, p: AdamParams, params: View, grads: View, m: View, v: View) -> Result<Dispatch> {
        for (name, view) in [("params", params), ("grads", grads), ("m", m), ("v", v)] {
            view.require(ADAM_STEP, name, p.len as u64)?;
        }
        let views = [params, grads, m, v];
        Ok(prepare(gpu, &self.adam, ADAM_STEP, &views, &p, grid_1d(p.len as u64)))
    }
}
