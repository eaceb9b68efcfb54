//! Host side of `shaders/optim.wgsl`: one dispatch updates the whole flat parameter buffer.
//! The kernels work on vec4s, so lengths are multiples of 4 (as `ParamLayout::padded_len` is).

use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::{AdamParams, SdlmParams, SgdParams};

pub const SGD_STEP: &str = "sgd_step";
pub const ADAM_STEP: &str = "adam_step";
pub const SDLM_STEP: &str = "sdlm_step";
pub const SCALE_ADD: &str = "scale_add";

/// The workgroups for `len` elements, 4 per invocation; an error unless `len` is a multiple of 4.
fn vec4_grid(op: &'static str, len: u32) -> Result<[u32; 3]> {
    if !len.is_multiple_of(4) {
        return Err(Error::ShapeMismatch { op, what: format!("length {len} is not a multiple of 4") });
    }
    Ok(grid_1d(len as u64 / 4))
}

pub struct Optim {
    sgd: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
    sdlm: wgpu::ComputePipeline,
    scale_add: wgpu::ComputePipeline,
}

impl Optim {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Optim {
            sgd: gpu.pipeline(Shader::Optim, SGD_STEP, &[])?,
            adam: gpu.pipeline(Shader::Optim, ADAM_STEP, &[])?,
            sdlm: gpu.pipeline(Shader::Optim, SDLM_STEP, &[])?,
            scale_add: gpu.pipeline(Shader::Optim, SCALE_ADD, &[])?,
        })
    }

    /// One SDLM step (`p.len` a multiple of 4): params -= lr / (mu + hessian) · grads over `p.len` elements.
    pub fn sdlm_step(&self, gpu: &Gpu, p: SdlmParams, params: View, grads: View, hessian: View) -> Result<Dispatch> {
        for (name, v) in [("params", params), ("grads", grads), ("hessian", hessian)] {
            v.require(SDLM_STEP, name, p.len as u64)?;
        }
        Ok(prepare(gpu, &self.sdlm, SDLM_STEP, &[params, grads, hessian], &p, vec4_grid(SDLM_STEP, p.len)?))
    }

    /// acc += p.scale · x over `p.len` elements (a multiple of 4).
    pub fn scale_add(&self, gpu: &Gpu, p: SdlmParams, acc: View, x: View) -> Result<Dispatch> {
        acc.require(SCALE_ADD, "acc", p.len as u64)?;
        x.require(SCALE_ADD, "x", p.len as u64)?;
        Ok(prepare(gpu, &self.scale_add, SCALE_ADD, &[acc, x], &p, vec4_grid(SCALE_ADD, p.len)?))
    }

    /// One SGD step (PyTorch's convention) over `p.len` (a multiple of 4) elements of params/grads/velocity.
    /// Rewrite the dispatch's uniform to change the learning rate between steps.
    pub fn sgd_step(&self, gpu: &Gpu, p: SgdParams, params: View, grads: View, velocity: View) -> Result<Dispatch> {
        for (name, v) in [("params", params), ("grads", grads), ("velocity", velocity)] {
            v.require(SGD_STEP, name, p.len as u64)?;
        }
        let views = [params, grads, velocity];
        Ok(prepare(gpu, &self.sgd, SGD_STEP, &views, &p, vec4_grid(SGD_STEP, p.len)?))
    }

    /// One Adam step over `p.len` elements (a multiple of 4); rewrite the uniform each step (bias corrections).
    pub fn adam_step(&self, gpu: &Gpu, p: AdamParams, params: View, grads: View, m: View, v: View) -> Result<Dispatch> {
        for (name, view) in [("params", params), ("grads", grads), ("m", m), ("v", v)] {
            view.require(ADAM_STEP, name, p.len as u64)?;
        }
        let views = [params, grads, m, v];
        Ok(prepare(gpu, &self.adam, ADAM_STEP, &views, &p, vec4_grid(ADAM_STEP, p.len)?))
    }
}
