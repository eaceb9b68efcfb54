//! Host side of `shaders/squash.wgsl`: LeNet-1998's squashing function.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::Len;

pub const SQUASH_FORWARD: &str = "squash_forward";
pub const SQUASH_BACKWARD: &str = "squash_backward";

/// Which squashing function: the paper's scaled tanh (default) or the logistic sigmoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SquashFn {
    /// f(a) = 1.7159 tanh(2a/3), LeCun et al. 1998: f(±1) = ±1.
    #[default]
    ScaledTanh,
    /// f(a) = 1 / (1 + e^-a).
    Sigmoid,
}

impl SquashFn {
    /// f(a) for one value, on the host (constants such as the RBF targets f(±1)); the same
    /// f32 arithmetic as `shaders/squash.wgsl`.
    pub fn value(self, a: f32) -> f32 {
        match self {
            SquashFn::ScaledTanh => TANH_A * (TANH_S * a).tanh(),
            SquashFn::Sigmoid => 1.0 / (1.0 + (-a).exp()),
        }
    }
}

/// The scaled tanh's amplitude A and slope S: f(a) = A tanh(S a).
pub const TANH_A: f32 = 1.7159;
pub const TANH_S: f32 = 2.0 / 3.0;

pub struct Squash;

impl Squash {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        gpu.pipeline(Shader::Squash, SQUASH_FORWARD, &constants(SquashFn::ScaledTanh, None))?;
        Ok(Squash)
    }

    /// y = f(a) for `len` elements; y overwritten.
    pub fn squash_forward(&self, gpu: &Gpu, f: SquashFn, len: u32, a: View, y: View) -> Result<Dispatch> {
        a.require(SQUASH_FORWARD, "a", len as u64)?;
        y.require(SQUASH_FORWARD, "y", len as u64)?;
        let pipeline = gpu.pipeline(Shader::Squash, SQUASH_FORWARD, &constants(f, None))?;
        Ok(prepare(gpu, &pipeline, SQUASH_FORWARD, &[a, y], &Len::new(len), grid_1d(len as u64)))
    }

    /// g <- g · f'(a) in place (g · f'(a)² when `squared`), f' computed from y = f(a).
    pub fn squash_backward(
        &self,
        gpu: &Gpu,
        f: SquashFn,
        squared: bool,
        len: u32,
        y: View,
        g: View,
    ) -> Result<Dispatch> {
        y.require(SQUASH_BACKWARD, "y", len as u64)?;
        g.require(SQUASH_BACKWARD, "g", len as u64)?;
        let pipeline = gpu.pipeline(Shader::Squash, SQUASH_BACKWARD, &constants(f, Some(squared)))?;
        Ok(prepare(gpu, &pipeline, SQUASH_BACKWARD, &[y, g], &Len::new(len), grid_1d(len as u64)))
    }
}

fn constants(f: SquashFn, squared: Option<bool>) -> Vec<(&'static str, f64)> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut c = vec![("SIGMOID", flag(f == SquashFn::Sigmoid))];
    if let Some(sq) = squared {
        c.push(("SQUARED", flag(sq)));
    }
    c
}
