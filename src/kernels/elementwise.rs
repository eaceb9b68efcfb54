//! Host side of `shaders/elementwise.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::Len;

pub const RELU_BACKWARD: &str = "relu_backward";

pub struct Elementwise {
    relu_backward: wgpu::ComputePipeline,
}

impl Elementwise {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Elementwise { relu_backward: gpu.pipeline(Shader::Elementwise, RELU_BACKWARD, &[])? })
    }

    /// g <- g * (y > 0) in place, for the first `len` elements; y is the ReLU's output.
    pub fn relu_backward(&self, gpu: &Gpu, len: u32, y: View, g: View) -> Result<Dispatch> {
        y.require(RELU_BACKWARD, "y", len as u64)?;
        g.require(RELU_BACKWARD, "g", len as u64)?;
        let s = Len::new(len);
        Ok(prepare(gpu, &self.relu_backward, RELU_BACKWARD, &[y, g], &s, grid_1d(len as u64)))
    }
}
