//! Host side of `shaders/ascent.wgsl`: the input update and image regularizers.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid, grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::{AscentParams, ImageShape, TvParams};

pub const ASCENT_STEP: &str = "ascent_step";
pub const BLUR3X3: &str = "blur3x3";
pub const ROLL2D: &str = "roll2d";
pub const TV_GRADIENT: &str = "tv_gradient";

pub struct Ascent {
    step: wgpu::ComputePipeline,
    blur: wgpu::ComputePipeline,
    roll: wgpu::ComputePipeline,
    tv: wgpu::ComputePipeline,
}

impl Ascent {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Ascent {
            step: gpu.pipeline(Shader::Ascent, ASCENT_STEP, &[])?,
            blur: gpu.pipeline(Shader::Ascent, BLUR3X3, &[])?,
            roll: gpu.pipeline(Shader::Ascent, ROLL2D, &[])?,
            tv: gpu.pipeline(Shader::Ascent, TV_GRADIENT, &[])?,
        })
    }

    /// x += lr · g / rms(g) per image, x *= 1 - l2, clamp to [lo, hi].
    pub fn ascent_step(&self, gpu: &Gpu, p: AscentParams, x: View, g: View) -> Result<Dispatch> {
        let len = p.n as u64 * p.len as u64;
        x.require(ASCENT_STEP, "x", len)?;
        g.require(ASCENT_STEP, "g", len)?;
        Ok(prepare(gpu, &self.step, ASCENT_STEP, &[x, g], &p, grid(p.n)))
    }

    /// dst = 3x3 Gaussian blur of src (edges clamped).
    pub fn blur3x3(&self, gpu: &Gpu, s: ImageShape, src: View, dst: View) -> Result<Dispatch> {
        src.require(BLUR3X3, "src", s.len())?;
        dst.require(BLUR3X3, "dst", s.len())?;
        Ok(prepare(gpu, &self.blur, BLUR3X3, &[src, dst], &s, grid_1d(s.len())))
    }

    /// dst = src shifted by (shift_y, shift_x) with wrap-around. Rewrite the uniform to
    /// change the shift.
    pub fn roll2d(&self, gpu: &Gpu, s: ImageShape, src: View, dst: View) -> Result<Dispatch> {
        src.require(ROLL2D, "src", s.len())?;
        dst.require(ROLL2D, "dst", s.len())?;
        Ok(prepare(gpu, &self.roll, ROLL2D, &[src, dst], &s, grid_1d(s.len())))
    }

    /// g += coef · d TV(x) / d x, TV the sum of squared neighbour differences.
    pub fn tv_gradient(&self, gpu: &Gpu, p: TvParams, x: View, g: View) -> Result<Dispatch> {
        x.require(TV_GRADIENT, "x", p.len())?;
        g.require(TV_GRADIENT, "g", p.len())?;
        Ok(prepare(gpu, &self.tv, TV_GRADIENT, &[x, g], &p, grid_1d(p.len())))
    }
}
