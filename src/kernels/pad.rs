//! Host side of `shaders/pad.wgsl`: LeNet-1998's padded, normalized input.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::PadShape;

pub const PAD_NORMALIZE_FORWARD: &str = "pad_normalize_forward";
pub const PAD_NORMALIZE_BACKWARD: &str = "pad_normalize_backward";

pub struct Pad {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl Pad {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Pad {
            forward: gpu.pipeline(Shader::Pad, PAD_NORMALIZE_FORWARD, &[])?,
            backward: gpu.pipeline(Shader::Pad, PAD_NORMALIZE_BACKWARD, &[])?,
        })
    }

    /// x (N,1,H,W) in [0,1] -> y (N,1,H+2P,W+2P), overwritten.
    pub fn pad_normalize_forward(&self, gpu: &Gpu, s: PadShape, x: View, y: View) -> Result<Dispatch> {
        x.require(PAD_NORMALIZE_FORWARD, "x", s.x_len())?;
        y.require(PAD_NORMALIZE_FORWARD, "y", s.y_len())?;
        Ok(prepare(gpu, &self.forward, PAD_NORMALIZE_FORWARD, &[x, y], &s, grid_1d(s.y_rows())))
    }

    /// dy (N,1,H+2P,W+2P) -> dx (N,1,H,W) = (hi - lo) · dy inside the border; overwritten.
    pub fn pad_normalize_backward(&self, gpu: &Gpu, s: PadShape, dy: View, dx: View) -> Result<Dispatch> {
        dy.require(PAD_NORMALIZE_BACKWARD, "dy", s.y_len())?;
        dx.require(PAD_NORMALIZE_BACKWARD, "dx", s.x_len())?;
        Ok(prepare(gpu, &self.backward, PAD_NORMALIZE_BACKWARD, &[dy, dx], &s, grid_1d(s.x_rows())))
    }
}
