//! Host side of `shaders/elementwise.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::Len;

pub const RELU_BACKWARD: &str = "relu_backward";
pub const RELU_BACKWARD_VEC4: &str = "relu_backward_vec4";
pub const SQUARE: &str = "square";

pub struct Elementwise {
    relu_backward: wgpu::ComputePipeline,
    relu_backward_vec4: wgpu::ComputePipeline,
    square: wgpu::ComputePipeline,
}

impl Elementwise {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Elementwise {
            relu_backward: gpu.pipeline(Shader::Elementwise, RELU_BACKWARD, &[])?,
            relu_backward_vec4: gpu.pipeline(Shader::Elementwise, RELU_BACKWARD_VEC4, &[])?,
            square: gpu.pipeline(Shader::Elementwise, SQUARE, &[])?,
        })
    }

    /// out = x · x for the first `len` elements; out overwritten.
    pub fn square(&self, gpu: &Gpu, len: u32, x: View, out: View) -> Result<Dispatch> {
        x.require(SQUARE, "x", len as u64)?;
        out.require(SQUARE, "out", len as u64)?;
        Ok(prepare(gpu, &self.square, SQUARE, &[x, out], &Len::new(len), grid_1d(len as u64)))
    }

    /// g <- g * (y > 0) in place, for the first `len` elements; y is the ReLU's output.
    pub fn relu_backward(&self, gpu: &Gpu, len: u32, y: View, g: View) -> Result<Dispatch> {
        y.require(RELU_BACKWARD, "y", len as u64)?;
        g.require(RELU_BACKWARD, "g", len as u64)?;
        let s = Len::new(len);
        if len.is_multiple_of(4) {
            let groups = grid_1d(len as u64 / 4);
            return Ok(prepare(gpu, &self.relu_backward_vec4, RELU_BACKWARD_VEC4, &[y, g], &s, groups));
        }
        Ok(prepare(gpu, &self.relu_backward, RELU_BACKWARD, &[y, g], &s, grid_1d(len as u64)))
    }
}
