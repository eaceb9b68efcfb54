//! Host side of `shaders/reduce.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid, Dispatch, Gpu, Shader, View};
use crate::shapes::ReduceShape;

pub const SUM_REDUCE: &str = "sum_reduce";

pub struct Reduce {
    sum: wgpu::ComputePipeline,
}

impl Reduce {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Reduce { sum: gpu.pipeline(Shader::Reduce, SUM_REDUCE, &[])? })
    }

    /// x (OUTER, C, INNER) -> y (C), y[c] = sum over outer and inner; y overwritten.
    pub fn sum_reduce(&self, gpu: &Gpu, s: ReduceShape, x: View, y: View) -> Result<Dispatch> {
        x.require(SUM_REDUCE, "x", s.x_len())?;
        y.require(SUM_REDUCE, "y", s.channels as u64)?;
        Ok(prepare(gpu, &self.sum, SUM_REDUCE, &[x, y], &s, grid(s.channels)))
    }
}
