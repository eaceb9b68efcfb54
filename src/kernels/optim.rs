//! Host side of `shaders/optim.wgsl`: one dispatch updates the whole flat parameter buffer.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::SgdParams;

pub const SGD_STEP: &str = "sgd_step";

pub struct Optim {
    sgd: wgpu::ComputePipeline,
}

impl Optim {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Optim {
            sgd: gpu.pipeline(Shader::Optim, SGD_STEP, &[])?,
        })
    }

    /// One SGD step (PyTorch's convention) over `p.len` elements of params/grads/velocity.
    /// Rewrite the dispatch's uniform to change the learning rate between steps.
    pub fn sgd_step(
        &self,
        gpu: &Gpu,
        p: SgdParams,
        params: View,
        grads: View,
        velocity: View,
    ) -> Result<Dispatch> {
        for (name, v) in [("params", params), ("grads", grads), ("velocity", velocity)] {
            v.require(SGD_STEP, name, p.len as u64)?;
        }
        let views = [params, grads, velocity];
        Ok(prepare(gpu, &self.sgd, SGD_STEP, &views, &p, grid_1d(p.len as u64)))
    }
}
