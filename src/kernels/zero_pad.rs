//! Host side of `shaders/zero_pad.wgsl`: zero-padding on the right and bottom, and the crop
//! back (a convolution's input widened so that the direct kernels apply).

use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::ZeroPadShape;

pub const ZERO_PAD_FORWARD: &str = "zero_pad_forward";
pub const ZERO_PAD_BACKWARD: &str = "zero_pad_backward";

pub struct ZeroPad {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl ZeroPad {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(ZeroPad {
            forward: gpu.pipeline(Shader::ZeroPad, ZERO_PAD_FORWARD, &[])?,
            backward: gpu.pipeline(Shader::ZeroPad, ZERO_PAD_BACKWARD, &[])?,
        })
    }

    /// x (P,H,W) -> y (P,OH,OW): x in each plane's top-left corner, zeros elsewhere;
    /// overwritten.
    pub fn zero_pad_forward(&self, gpu: &Gpu, s: ZeroPadShape, x: View, y: View) -> Result<Dispatch> {
        require_growth(ZERO_PAD_FORWARD, s)?;
        x.require(ZERO_PAD_FORWARD, "x", s.x_len())?;
        y.require(ZERO_PAD_FORWARD, "y", s.y_len())?;
        Ok(prepare(gpu, &self.forward, ZERO_PAD_FORWARD, &[x, y], &s, grid_1d(s.y_rows())))
    }

    /// dy (P,OH,OW) -> dx (P,H,W): each plane's top-left corner (the crop); overwritten.
    pub fn zero_pad_backward(&self, gpu: &Gpu, s: ZeroPadShape, dy: View, dx: View) -> Result<Dispatch> {
        require_growth(ZERO_PAD_BACKWARD, s)?;
        dy.require(ZERO_PAD_BACKWARD, "dy", s.y_len())?;
        dx.require(ZERO_PAD_BACKWARD, "dx", s.x_len())?;
        Ok(prepare(gpu, &self.backward, ZERO_PAD_BACKWARD, &[dy, dx], &s, grid_1d(s.x_rows())))
    }
}

fn require_growth(op: &'static str, s: ZeroPadShape) -> Result<()> {
    if s.out_h < s.h || s.out_w < s.w {
        let what = format!("cannot pad {}x{} planes to {}x{}", s.h, s.w, s.out_h, s.out_w);
        return Err(Error::ShapeMismatch { op, what });
    }
    Ok(())
}
