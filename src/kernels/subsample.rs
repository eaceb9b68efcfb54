//! Host side of `shaders/subsample.wgsl`: LeNet-1998's trainable 2x2 subsampling.

use super::{prepare, require_window};
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::kernels::squash::SquashFn;
use crate::shapes::PoolShape;

pub const SUBSAMPLE_FORWARD: &str = "subsample_forward";
pub const SUBSAMPLE_BACKWARD: &str = "subsample_backward";

pub struct Subsample;

impl Subsample {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        gpu.pipeline(Shader::Subsample, SUBSAMPLE_FORWARD, &[("SQUASH", 0.0)])?;
        Ok(Subsample)
    }

    /// a = coef[c] · (2x2 window sum of x) + bias[c]: x (N,C,H,W) -> a (N,C,H/2,W/2); with
    /// `squash`, f(a) instead of a.
    pub fn subsample_forward(
        &self,
        gpu: &Gpu,
        s: PoolShape,
        squash: Option<SquashFn>,
        [x, coef, bias, a]: [View; 4],
    ) -> Result<Dispatch> {
        require_window(SUBSAMPLE_FORWARD, s)?;
        x.require(SUBSAMPLE_FORWARD, "x", s.x_len())?;
        coef.require(SUBSAMPLE_FORWARD, "coef", s.c as u64)?;
        bias.require(SUBSAMPLE_FORWARD, "bias", s.c as u64)?;
        a.require(SUBSAMPLE_FORWARD, "a", s.y_len())?;
        let pipeline = gpu.pipeline(Shader::Subsample, SUBSAMPLE_FORWARD, &[("SQUASH", squash_constant(squash))])?;
        Ok(prepare(gpu, &pipeline, SUBSAMPLE_FORWARD, &[x, coef, bias, a], &s, grid_1d(s.y_len())))
    }

    /// From da (N,C,H/2,W/2): dx = coef · da per window input (overwritten, 0 where an odd
    /// row/column was dropped) and terms = da · window sum, whose per-channel sum is
    /// d coef. `squared`: the Gauss-Newton pass (coef², window sum²). With `input_squash`
    /// (x being f(a) of the layer before), dx also times f'(a) (squared with `squared`), as
    /// `squash_backward` would turn it.
    pub fn subsample_backward(
        &self,
        gpu: &Gpu,
        s: PoolShape,
        (squared, input_squash): (bool, Option<SquashFn>),
        [x, coef, da, dx, terms]: [View; 5],
    ) -> Result<Dispatch> {
        require_window(SUBSAMPLE_BACKWARD, s)?;
        x.require(SUBSAMPLE_BACKWARD, "x", s.x_len())?;
        coef.require(SUBSAMPLE_BACKWARD, "coef", s.c as u64)?;
        da.require(SUBSAMPLE_BACKWARD, "da", s.y_len())?;
        dx.require(SUBSAMPLE_BACKWARD, "dx", s.x_len())?;
        terms.require(SUBSAMPLE_BACKWARD, "terms", s.y_len())?;
        let constants = [("SQUARED", if squared { 1.0 } else { 0.0 }), ("INPUT_SQUASH", squash_constant(input_squash))];
        let pipeline = gpu.pipeline(Shader::Subsample, SUBSAMPLE_BACKWARD, &constants)?;
        Ok(prepare(gpu, &pipeline, SUBSAMPLE_BACKWARD, &[x, coef, da, dx, terms], &s, grid_1d(s.y_len())))
    }
}

/// The shader's code for a squashing function (0: none).
fn squash_constant(f: Option<SquashFn>) -> f64 {
    match f {
        None => 0.0,
        Some(SquashFn::ScaledTanh) => 1.0,
        Some(SquashFn::Sigmoid) => 2.0,
    }
}
