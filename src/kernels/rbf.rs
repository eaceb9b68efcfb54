//! Host side of `shaders/rbf.wgsl`: LeNet-1998's RBF output and the paper's loss.

use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{grid, Dispatch, Gpu, Shader, View};
use crate::shapes::RbfShape;

pub const RBF_LOSS_FORWARD_BACKWARD: &str = "rbf_loss_forward_backward";
const OP: &str = RBF_LOSS_FORWARD_BACKWARD;
/// MAX_CLASSES in the shader (its per-sample gradient array).
pub const MAX_CLASSES: u32 = 16;

/// The views one RBF-loss dispatch reads and writes.
#[derive(Clone, Copy)]
pub struct RbfViews<'a> {
    pub x: View<'a>,
    pub centers: View<'a>,
    pub labels: View<'a>,
    pub dist: View<'a>,
    pub probs: View<'a>,
    pub loss: View<'a>,
    pub dx: View<'a>,
}

/// What the RBF kernel writes into dx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbfDx {
    /// Nothing: evaluation reads the scores and the loss only.
    None,
    /// d(mean loss)/dx.
    Gradient,
    /// SDLM's Gauss-Newton second derivative, 2/N.
    Curvature,
}

pub struct Rbf;

impl Rbf {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        gpu.pipeline(Shader::Rbf, OP, &Self::constants(RbfDx::Gradient))?;
        Ok(Rbf)
    }

    fn constants(dx: RbfDx) -> [(&'static str, f64); 2] {
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        [("CURVATURE", flag(dx == RbfDx::Curvature)), ("GRADIENT", flag(dx != RbfDx::None))]
    }

    /// dist, softmin probs, per-sample loss (eq. 9), all overwritten, and dx as `dx` says:
    /// d(mean loss)/dx, or 2/N (the Gauss-Newton second derivative of y_label / N), or
    /// left as it is.
    pub fn rbf_loss_forward_backward(&self, gpu: &Gpu, s: RbfShape, dx: RbfDx, v: RbfViews) -> Result<Dispatch> {
        if s.classes == 0 || s.classes > MAX_CLASSES || s.units == 0 || s.j <= 0.0 {
            return Err(Error::ShapeMismatch { op: OP, what: format!("{s:?}: 1..={MAX_CLASSES} classes, j > 0") });
        }
        v.x.require(OP, "x", s.x_len())?;
        v.centers.require(OP, "centers", s.centers_len())?;
        v.labels.require(OP, "labels", s.n as u64)?;
        v.dist.require(OP, "dist", s.y_len())?;
        v.probs.require(OP, "probs", s.y_len())?;
        v.loss.require(OP, "loss", s.n as u64)?;
        v.dx.require(OP, "dx", s.x_len())?;
        let pipeline = gpu.pipeline(Shader::Rbf, OP, &Self::constants(dx))?;
        let views = [v.x, v.centers, v.labels, v.dist, v.probs, v.loss, v.dx];
        Ok(prepare(gpu, &pipeline, OP, &views, &s, grid(s.n.div_ceil(64))))
    }
}
