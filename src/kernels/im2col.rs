//! Host side of `shaders/im2col.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::ConvShape;

pub const IM2COL_FORWARD: &str = "im2col_forward";
pub const COL2IM_BACKWARD: &str = "col2im_backward";

pub struct Im2col {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl Im2col {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Im2col {
            forward: gpu.pipeline(Shader::Im2col, IM2COL_FORWARD, &[])?,
            backward: gpu.pipeline(Shader::Im2col, COL2IM_BACKWARD, &[])?,
        })
    }

    /// x (N,C,H,W) -> col (N, C*KH*KW, OH*OW).
    pub fn im2col_forward(&self, gpu: &Gpu, s: ConvShape, x: View, col: View) -> Result<Dispatch> {
        x.require(IM2COL_FORWARD, "x", s.x_len())?;
        col.require(IM2COL_FORWARD, "col", s.col_len())?;
        let invocations = s.n as u64 * s.c as u64 * s.out_pixels() as u64;
        Ok(prepare(gpu, &self.forward, IM2COL_FORWARD, &[x, col], &s, grid_1d(invocations)))
    }

    /// dcol (N, C*KH*KW, OH*OW) -> dx (N,C,H,W), overwritten.
    pub fn col2im_backward(&self, gpu: &Gpu, s: ConvShape, dcol: View, dx: View) -> Result<Dispatch> {
        dcol.require(COL2IM_BACKWARD, "dcol", s.col_len())?;
        dx.require(COL2IM_BACKWARD, "dx", s.x_len())?;
        Ok(prepare(gpu, &self.backward, COL2IM_BACKWARD, &[dcol, dx], &s, grid_1d(s.x_len())))
    }
}
