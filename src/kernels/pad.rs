//! Host side of `shaders/pad.wgsl`: LeNet-1998's padded, normalized input.

use super::conv_direct::ConvInput;
use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::PadShape;

pub const PAD_NORMALIZE_FORWARD: &str = "pad_normalize_forward";
pub const PAD_NORMALIZE_BACKWARD: &str = "pad_normalize_backward";
pub const PAD_NORMALIZE_FORWARD_BYTES: &str = "pad_normalize_forward_bytes";

pub struct Pad {
    forward: wgpu::ComputePipeline,
    forward_bytes: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl Pad {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Pad {
            forward: gpu.pipeline(Shader::Pad, PAD_NORMALIZE_FORWARD, &[])?,
            forward_bytes: gpu.pipeline(Shader::Pad, PAD_NORMALIZE_FORWARD_BYTES, &[])?,
            backward: gpu.pipeline(Shader::Pad, PAD_NORMALIZE_BACKWARD, &[])?,
        })
    }

    /// x (N,1,H,W) in [0,1] -> y (N,1,H+2P,W+2P), overwritten; x f32, or a dataset's
    /// bytes (W a multiple of 4) read as `gather_batch` converts them (the same values).
    pub fn pad_normalize_forward(&self, gpu: &Gpu, s: PadShape, x: ConvInput, y: View) -> Result<Dispatch> {
        y.require(PAD_NORMALIZE_FORWARD, "y", s.y_len())?;
        let grid = grid_1d(s.y_rows());
        match x {
            ConvInput::F32(x) => {
                x.require(PAD_NORMALIZE_FORWARD, "x", s.x_len())?;
                Ok(prepare(gpu, &self.forward, PAD_NORMALIZE_FORWARD, &[x, y], &s, grid))
            }
            ConvInput::Bytes { images, order, cursor } => {
                let op = PAD_NORMALIZE_FORWARD_BYTES;
                if !s.w.is_multiple_of(4) {
                    let what = format!("rows of {} bytes are not whole u32 words", s.w);
                    return Err(Error::ShapeMismatch { op, what });
                }
                order.require(op, "order", s.n as u64)?;
                let views = [images, y, order, cursor];
                Ok(Dispatch::new(gpu, op, &self.forward_bytes, &views, 2, &s, grid))
            }
        }
    }

    /// dy (N,1,H+2P,W+2P) -> dx (N,1,H,W) = (hi - lo) · dy inside the border; overwritten.
    pub fn pad_normalize_backward(&self, gpu: &Gpu, s: PadShape, dy: View, dx: View) -> Result<Dispatch> {
        dy.require(PAD_NORMALIZE_BACKWARD, "dy", s.y_len())?;
        dx.require(PAD_NORMALIZE_BACKWARD, "dx", s.x_len())?;
        Ok(prepare(gpu, &self.backward, PAD_NORMALIZE_BACKWARD, &[dy, dx], &s, grid_1d(s.x_rows())))
    }
}
