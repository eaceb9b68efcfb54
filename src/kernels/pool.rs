//! Host side of `shaders/pool.wgsl`.

use super::{prepare, require_window};
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::PoolShape;

pub const MAXPOOL2X2_FORWARD: &str = "maxpool2x2_forward";
pub const MAXPOOL2X2_BACKWARD: &str = "maxpool2x2_backward";
pub const MAXPOOL2X2_RELU_BACKWARD: &str = "maxpool2x2_relu_backward";
pub const MAXPOOL2X2_BACKWARD_PAIRS: &str = "maxpool2x2_backward_pairs";
pub const MAXPOOL2X2_RELU_BACKWARD_PAIRS: &str = "maxpool2x2_relu_backward_pairs";

/// Whether the backward can route two windows at a time (`*_pairs`): no dropped odd row or
/// column, and two windows side by side always in one row of windows.
fn pairs(s: PoolShape) -> bool {
    s.h.is_multiple_of(2) && s.w.is_multiple_of(4)
}

pub struct MaxPool2x2 {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
    relu_backward: wgpu::ComputePipeline,
    backward_pairs: wgpu::ComputePipeline,
    relu_backward_pairs: wgpu::ComputePipeline,
}

impl MaxPool2x2 {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(MaxPool2x2 {
            forward: gpu.pipeline(Shader::Pool, MAXPOOL2X2_FORWARD, &[])?,
            backward: gpu.pipeline(Shader::Pool, MAXPOOL2X2_BACKWARD, &[])?,
            relu_backward: gpu.pipeline(Shader::Pool, MAXPOOL2X2_RELU_BACKWARD, &[])?,
            backward_pairs: gpu.pipeline(Shader::Pool, MAXPOOL2X2_BACKWARD_PAIRS, &[])?,
            relu_backward_pairs: gpu.pipeline(Shader::Pool, MAXPOOL2X2_RELU_BACKWARD_PAIRS, &[])?,
        })
    }

    /// x (N,C,H,W) -> y (N,C,H/2,W/2) and argmax (flat index into x), both overwritten.
    pub fn maxpool2x2_forward(&self, gpu: &Gpu, s: PoolShape, x: View, y: View, argmax: View) -> Result<Dispatch> {
        require_window(MAXPOOL2X2_FORWARD, s)?;
        x.require(MAXPOOL2X2_FORWARD, "x", s.x_len())?;
        y.require(MAXPOOL2X2_FORWARD, "y", s.y_len())?;
        argmax.require(MAXPOOL2X2_FORWARD, "argmax", s.y_len())?;
        let views = [x, y, argmax];
        Ok(prepare(gpu, &self.forward, MAXPOOL2X2_FORWARD, &views, &s, grid_1d(s.y_len())))
    }

    /// dy (N,C,H/2,W/2), argmax -> dx (N,C,H,W), overwritten.
    pub fn maxpool2x2_backward(&self, gpu: &Gpu, s: PoolShape, dy: View, argmax: View, dx: View) -> Result<Dispatch> {
        require_window(MAXPOOL2X2_BACKWARD, s)?;
        dy.require(MAXPOOL2X2_BACKWARD, "dy", s.y_len())?;
        argmax.require(MAXPOOL2X2_BACKWARD, "argmax", s.y_len())?;
        dx.require(MAXPOOL2X2_BACKWARD, "dx", s.x_len())?;
        let views = [dy, dx, argmax];
        if pairs(s) {
            let groups = grid_1d(s.y_len() / 2);
            return Ok(prepare(gpu, &self.backward_pairs, MAXPOOL2X2_BACKWARD_PAIRS, &views, &s, groups));
        }
        Ok(prepare(gpu, &self.backward, MAXPOOL2X2_BACKWARD, &views, &s, grid_1d(s.y_len())))
    }

    /// As [`MaxPool2x2::maxpool2x2_backward`], then the ReLU that fed the pool: dx is
    /// masked by x > 0, read as `pooled` (the forward's output) > 0 at each window's argmax.
    pub fn maxpool2x2_relu_backward(
        &self,
        gpu: &Gpu,
        s: PoolShape,
        dy: View,
        argmax: View,
        pooled: View,
        dx: View,
    ) -> Result<Dispatch> {
        let op = MAXPOOL2X2_RELU_BACKWARD;
        require_window(op, s)?;
        dy.require(op, "dy", s.y_len())?;
        argmax.require(op, "argmax", s.y_len())?;
        pooled.require(op, "pooled", s.y_len())?;
        dx.require(op, "dx", s.x_len())?;
        // Bindings as the other entry points (the shape uniform at 3), `pooled` at 4.
        let views = [dy, dx, argmax, pooled];
        if pairs(s) {
            let (op, groups) = (MAXPOOL2X2_RELU_BACKWARD_PAIRS, grid_1d(s.y_len() / 2));
            return Ok(Dispatch::new(gpu, op, &self.relu_backward_pairs, &views, 3, &s, groups));
        }
        Ok(Dispatch::new(gpu, op, &self.relu_backward, &views, 3, &s, grid_1d(s.y_len())))
    }
}
