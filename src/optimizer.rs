//! The optimizer as one object (tinygrad's `nn/optim.py`): SGD (PyTorch's convention, with
//! momentum and weight decay), Adam, or SDLM (LeCun et al. 1998), owning its state on the
//! GPU, its uniform and its one dispatch over the whole flat parameter buffer. Before each
//! step, [`Optimizer::set_step`] writes the step's learning rate and count; the dispatch is
//! recorded after the backward, in the same submission.

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::Kernels;
use crate::shapes::{AdamParams, SdlmParams, SgdParams};
use crate::train::{OptimizerKind, Recipe};

pub struct Optimizer {
    recipe: Recipe,
    /// Parameters (a multiple of 4: the kernels work on vec4s).
    len: usize,
    /// SGD's velocity, or Adam's first moment.
    m: wgpu::Buffer,
    /// Adam's second moment; SDLM's second-derivative estimate.
    v: wgpu::Buffer,
    update: Dispatch,
    sdlm: Option<SdlmEstimate>,
}

/// SDLM's estimate: a plan's curvature pass writes one batch's second derivatives into
/// `batch_curvature`; `average` adds 1/batches of them to `v`.
struct SdlmEstimate {
    batch_curvature: wgpu::Buffer,
    average: Dispatch,
    batches: u32,
}

impl Optimizer {
    /// The recipe's optimizer for `params` and their gradient `grads`; SDLM estimates its
    /// second derivatives on `estimate_batches` batches.
    pub fn new(
        gpu: &Gpu,
        k: &Kernels,
        recipe: &Recipe,
        (params, grads): (&wgpu::Buffer, &wgpu::Buffer),
        estimate_batches: u32,
    ) -> Result<Self> {
        let len = (params.size() / 4) as usize;
        let m = gpu.storage("optimizer.m", len);
        let v = gpu.storage("optimizer.v", len);
        let (p, g, mv, vv) = (View::whole(params), View::whole(grads), View::whole(&m), View::whole(&v));
        let r = recipe;
        let update = match r.optimizer {
            OptimizerKind::Sgd => k.optim.sgd_step(gpu, sgd_params(r, len, r.lr), p, g, mv)?,
            OptimizerKind::Adam => k.optim.adam_step(gpu, adam_params(r, len, r.lr, 1), p, g, mv, vv)?,
            OptimizerKind::Sdlm => k.optim.sdlm_step(gpu, sdlm_params(r, len, r.lr), p, g, vv)?,
        };
        let sdlm = match r.optimizer {
            OptimizerKind::Sdlm => {
                let batch_curvature = gpu.storage("optimizer.curvature", len);
                let scale = 1.0 / estimate_batches as f32;
                let average = SdlmParams { len: len as u32, lr: 0.0, mu: 0.0, scale };
                let average = k.optim.scale_add(gpu, average, vv, View::whole(&batch_curvature))?;
                Some(SdlmEstimate { batch_curvature, average, batches: estimate_batches })
            }
            _ => None,
        };
        Ok(Optimizer { recipe: recipe.clone(), len, m, v, update, sdlm })
    }

    /// The next step's uniform: learning rate `lr`, and `t`, the 1-based step count (Adam's
    /// bias corrections).
    pub fn set_step(&self, gpu: &Gpu, lr: f32, t: u64) {
        let (r, len) = (&self.recipe, self.len);
        match r.optimizer {
            OptimizerKind::Sgd => self.update.set_uniform(gpu, &sgd_params(r, len, lr)),
            OptimizerKind::Adam => self.update.set_uniform(gpu, &adam_params(r, len, lr, t)),
            OptimizerKind::Sdlm => self.update.set_uniform(gpu, &sdlm_params(r, len, lr)),
        }
    }

    /// The update of every parameter, as [`Optimizer::set_step`] last set it.
    pub fn update(&self) -> &Dispatch {
        &self.update
    }

    /// SDLM: where a plan's curvature pass writes one batch's second derivatives.
    pub fn curvature(&self) -> Option<&wgpu::Buffer> {
        self.sdlm.as_ref().map(|s| &s.batch_curvature)
    }

    /// SDLM: batches of the second-derivative estimate before each epoch (0 for others).
    pub fn estimate_batches(&self) -> u32 {
        self.sdlm.as_ref().map_or(0, |s| s.batches)
    }

    /// SDLM: zeroes the estimate before it is averaged anew.
    pub fn begin_estimate(&self, gpu: &Gpu) {
        gpu.write(View::whole(&self.v), &vec![0.0f32; self.len]);
    }

    /// SDLM: adds one batch's second derivatives (after the plan's curvature pass) to the
    /// estimate.
    pub fn record_estimate(&self, pass: &mut wgpu::ComputePass<'_>) {
        if let Some(s) = &self.sdlm {
            s.average.record(pass);
        }
    }

    /// (m, v), for a resumable checkpoint.
    pub async fn read_state(&self, gpu: &Gpu) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok((gpu.read(View::whole(&self.m)).await?, gpu.read(View::whole(&self.v)).await?))
    }

    /// Restores what [`Optimizer::read_state`] returned.
    pub fn write_state(&self, gpu: &Gpu, m: &[f32], v: &[f32]) {
        gpu.write(View::whole(&self.m), m);
        gpu.write(View::whole(&self.v), v);
    }
}

fn sdlm_params(r: &Recipe, len: usize, lr: f32) -> SdlmParams {
    SdlmParams { len: len as u32, lr, mu: r.mu, scale: 0.0 }
}

fn sgd_params(r: &Recipe, len: usize, lr: f32) -> SgdParams {
    SgdParams { len: len as u32, lr, momentum: r.momentum, weight_decay: r.weight_decay }
}

/// Adam's uniform for 1-based step `t`.
fn adam_params(r: &Recipe, len: usize, lr: f32, t: u64) -> AdamParams {
    let t = t as i32;
    AdamParams {
        len: len as u32,
        lr,
        beta1: r.beta1,
        beta2: r.beta2,
        eps: r.eps,
        weight_decay: r.weight_decay,
        bias_correction1: (1.0 - (r.beta1 as f64).powi(t)) as f32,
        bias_correction2: (1.0 - (r.beta2 as f64).powi(t)) as f32,
    }
}
