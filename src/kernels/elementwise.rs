//! Host side of `shaders/elementwise.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::Len;

pub const SQUARE: &str = "square";

pub struct Elementwise {
    square: wgpu::ComputePipeline,
}

impl Elementwise {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Elementwise { square: gpu.pipeline(Shader::Elementwise, SQUARE, &[])? })
    }

    /// out = x · x for the first `len` elements; out overwritten.
    pub fn square(&self, gpu: &Gpu, len: u32, x: View, out: View) -> Result<Dispatch> {
        x.require(SQUARE, "x", len as u64)?;
        out.require(SQUARE, "out", len as u64)?;
        Ok(prepare(gpu, &self.square, SQUARE, &[x, out], &Len::new(len), grid_1d(len as u64)))
    }
}
