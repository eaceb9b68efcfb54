//! Host side of the WGSL kernels: one module per file in `shaders/`, each with the same
//! function names as its CPU twin in `crate::reference`. A wrapper checks shapes, then
//! returns a prepared [`Dispatch`]; nothing here submits work.

pub mod ascent;
pub mod augment;
pub mod conv;
pub mod conv_direct;
pub mod data;
pub mod dense_direct;
pub mod elementwise;
pub mod gemm;
pub mod im2col;
pub mod metrics;
pub mod objective;
pub mod optim;
pub mod pad;
pub mod pool;
pub mod rbf;
pub mod reduce;
pub mod softmax_xent;
pub mod squash;
pub mod subsample;
pub mod table;
pub mod wgsl;
pub mod zero_pad;

use crate::gpu::{Dispatch, Gpu, View};
use crate::shapes::BatchParams;
use conv_direct::ConvActivation;

/// Compiles (once per source; the `Gpu` caches it) and binds a generated kernel: `views`
/// by binding name. Its `s` uniform is a fresh [`BatchParams`] for `n` unless `views`
/// binds one (a plan's shared cursor over the sample order).
fn generated_dispatch(
    gpu: &Gpu,
    kernel: &wgsl::GeneratedKernel,
    views: &[(&str, View<'_>)],
    n: u32,
    workgroups: [u32; 3],
) -> crate::Result<Dispatch> {
    let pipeline = gpu.generated_pipeline(&kernel.name, &kernel.source, kernel.entry)?;
    if views.iter().any(|(name, _)| *name == "s") {
        return Ok(Dispatch::with_views(gpu, &kernel.name, &pipeline, &kernel.order(views, &[])?, workgroups));
    }
    let uniform_at = kernel.bindings.iter().position(|b| *b == "s").expect("every generated kernel has `s`");
    let ordered = kernel.order(views, &["s"])?;
    Ok(Dispatch::new(gpu, &kernel.name, &pipeline, &ordered, uniform_at, &BatchParams::new(n, 0), workgroups))
}

/// Binds `views` to bindings 0.. and a fresh uniform holding `shape` to the next one.
fn prepare<T: bytemuck::Pod>(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    views: &[View<'_>],
    shape: &T,
    workgroups: [u32; 3],
) -> Dispatch {
    Dispatch::new(gpu, label, pipeline, views, views.len(), shape, workgroups)
}

/// A 2x2 window (max-pooling, subsampling) needs at least 2 rows and 2 columns.
fn require_window(op: &'static str, s: crate::shapes::PoolShape) -> crate::Result<()> {
    if s.h < 2 || s.w < 2 {
        let what = format!("{}x{} input has no 2x2 window", s.h, s.w);
        return Err(crate::Error::ShapeMismatch { op, what });
    }
    Ok(())
}

/// Subgroup widths the subgroup kernels are written for: a multiple of 4 (the GEMM reads
/// B's columns as vec4s along K) that divides the block kernels' 64-invocation workgroups.
/// lavapipe gives 4, 8 or 16 (128-, 256-, 512-bit vectors, `LP_NATIVE_VECTOR_WIDTH`);
/// NVIDIA and Apple GPUs 32; AMD 64 or 32.
pub const SUBGROUP_WIDTHS: [u32; 5] = [4, 8, 16, 32, 64];

/// The width this device's subgroup kernels are written for: its subgroup size, where it
/// has one fixed size ([`Gpu::subgroup_size`]) of [`SUBGROUP_WIDTHS`]; else none, and the
/// portable kernels run.
pub fn subgroup_lanes(gpu: &Gpu) -> Option<u32> {
    gpu.subgroup_size().filter(|w| SUBGROUP_WIDTHS.contains(w))
}

/// Which of the kernels that compute the same thing a [`Kernels`] picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The fastest to run on this device: generated convolutions and dense layers, blocked
    /// and subgroup GEMMs.
    Fast,
    /// The soonest compiled: im2col + `gemm_simple` for every convolution and dense layer.
    /// On lavapipe a cold training step's kernels compile in ~2.5 s of CPU instead of ~34,
    /// and run 5-15x slower: what a cold start runs while the fast tier compiles.
    Quick,
}

/// Every kernel family, compiled once per device.
pub struct Kernels {
    pub tier: Tier,
    /// Whether the generated input-gradient kernel may be used: not on a browser's software
    /// adapter (Chrome's SwiftShader), whose compiler had not finished it when Chrome's GPU
    /// watchdog lost the device, 2 minutes on ([`crate::gpu::Gpu::is_browser_software`]).
    pub direct_input_grad: bool,
    pub im2col: im2col::Im2col,
    pub conv_direct: conv_direct::ConvDirect,
    pub gemm: gemm::Gemm,
    pub dense_direct: dense_direct::DenseDirect,
    pub pool: pool::MaxPool2x2,
    pub elementwise: elementwise::Elementwise,
    pub reduce: reduce::Reduce,
    pub xent: softmax_xent::SoftmaxXent,
    pub metrics: metrics::Metrics,
    pub optim: optim::Optim,
    pub gather: data::Gather,
    pub augment: augment::Augment,
    pub objective: objective::Objective,
    pub ascent: ascent::Ascent,
    pub squash: squash::Squash,
    pub subsample: subsample::Subsample,
    pub pad: pad::Pad,
    pub rbf: rbf::Rbf,
    pub table: table::Table,
    pub zero_pad: zero_pad::ZeroPad,
}

impl Kernels {
    /// The kernels as this device runs them best.
    pub fn new(gpu: &Gpu) -> crate::Result<Self> {
        Self::build(gpu, Tier::Fast, subgroup_lanes(gpu))
    }

    /// The kernels that compile soonest ([`Tier::Quick`]).
    pub fn quick(gpu: &Gpu) -> crate::Result<Self> {
        Self::build(gpu, Tier::Quick, None)
    }

    /// Kernels for a command that answers once (eval, predict, visualize): the fast tier
    /// where it can start at once ([`crate::gpu::fast_kernels_ready`]), else the quick
    /// one. On lavapipe with a cold shader cache, that answers in 0.5-2.5 s instead of
    /// 6-16 s of compiling; `lenet-gpu warm-up` then compiles the fast ones for next time.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn for_one_answer(gpu: &Gpu) -> crate::Result<Self> {
        if crate::gpu::fast_kernels_ready(gpu) {
            Self::new(gpu)
        } else {
            Self::quick(gpu)
        }
    }

    /// The kernels any WebGPU device runs: none that needs subgroup operations (what a GPU
    /// without subgroups of one fixed width gets from [`Kernels::new`]).
    pub fn portable(gpu: &Gpu) -> crate::Result<Self> {
        Self::build(gpu, Tier::Fast, None)
    }

    /// `lanes`: the subgroup width the subgroup kernels are written for, if any.
    fn build(gpu: &Gpu, tier: Tier, lanes: Option<u32>) -> crate::Result<Self> {
        let sharing = match lanes {
            Some(lanes) => conv_direct::LoadSharing::Subgroup { lanes },
            None => conv_direct::LoadSharing::PerInvocation,
        };
        let gemm = match tier {
            Tier::Fast => gemm::Gemm::with_subgroups(gpu, lanes)?,
            Tier::Quick => gemm::Gemm::simple(gpu),
        };
        Ok(Kernels {
            tier,
            direct_input_grad: !gpu.is_browser_software(),
            im2col: im2col::Im2col::new(gpu)?,
            conv_direct: conv_direct::ConvDirect { sharing },
            gemm,
            dense_direct: dense_direct::DenseDirect::with_subgroups(gpu, lanes),
            pool: pool::MaxPool2x2::new(gpu)?,
            elementwise: elementwise::Elementwise::new(gpu)?,
            reduce: reduce::Reduce::new(gpu)?,
            xent: softmax_xent::SoftmaxXent::new(gpu)?,
            metrics: metrics::Metrics::new(gpu)?,
            optim: optim::Optim::new(gpu)?,
            gather: data::Gather::new(gpu)?,
            augment: augment::Augment::new(gpu)?,
            objective: objective::Objective::new(gpu)?,
            ascent: ascent::Ascent::new(gpu)?,
            squash: squash::Squash::new(gpu)?,
            subsample: subsample::Subsample::new(gpu)?,
            pad: pad::Pad::new(gpu)?,
            rbf: rbf::Rbf::new(gpu)?,
            table: table::Table::new(gpu)?,
            zero_pad: zero_pad::ZeroPad::new(gpu)?,
        })
    }

    /// A dense layer's weight and bias gradients for `s` = (outputs, inputs, batch):
    /// dW = dyᵀ · x and db = Σ over the batch of dy. One dispatch where the generated kernel
    /// runs (it sums dy as it loads it), else the GEMM and a reduction; db is the same bits
    /// either way.
    pub fn dense_weight_grad(
        &self,
        gpu: &Gpu,
        s: crate::shapes::GemmShape,
        dy: View,
        x: View,
        dw: View,
        db: View,
    ) -> crate::Result<Vec<Dispatch>> {
        let with_bias = dense_direct::DenseProduct::WeightGrad { bias: true };
        if self.dense_generated(with_bias, s) {
            let views = gemm::GemmViews { a: dy, b: x, operand: Some(db), c: dw };
            return Ok(vec![self.dense_direct.dense_direct(gpu, with_bias, s, views)?]);
        }
        let plain = dense_direct::DenseProduct::WeightGrad { bias: false };
        Ok(vec![
            self.dense(gpu, plain, s, gemm::GemmViews::plain(dy, x, dw))?,
            self.reduce.sum_reduce(gpu, crate::shapes::ReduceShape::new(s.k, s.m, 1), dy, db)?,
        ])
    }

    /// Whether the generated dense kernel computes `p` for `s` (else the GEMM does).
    fn dense_generated(&self, p: dense_direct::DenseProduct, s: crate::shapes::GemmShape) -> bool {
        self.tier == Tier::Fast && self.dense_direct.supports(p, s)
    }

    /// Whether a stack of dense `layers` on `inputs` runs its forward as one kernel
    /// ([`dense_direct::DenseDirect::dense_stack_forward`]), else one per layer.
    pub fn dense_stack(&self, inputs: u32, layers: &[dense_direct::StackLayer]) -> bool {
        self.tier == Tier::Fast && self.dense_direct.supports_stack(inputs, layers)
    }

    /// What a dense forward of `s` = (batch, outputs, inputs) applies of `wanted`: all of it
    /// on the generated kernel; on the GEMM a ReLU only (the layer applies a squash itself).
    pub fn dense_activation(&self, wanted: ConvActivation, s: crate::shapes::GemmShape) -> ConvActivation {
        let fused = dense_direct::DenseProduct::Forward { activation: wanted };
        if self.dense_generated(fused, s) {
            wanted
        } else {
            ConvActivation::relu(wanted == ConvActivation::Relu)
        }
    }

    /// One of a dense layer's products ([`dense_direct::DenseProduct`]) for `s` = (M, N, K):
    /// the generated kernel where the device and shape allow it
    /// ([`dense_direct::DenseDirect::supports`]), else the GEMM in the same form.
    pub fn dense(
        &self,
        gpu: &Gpu,
        p: dense_direct::DenseProduct,
        s: crate::shapes::GemmShape,
        v: gemm::GemmViews,
    ) -> crate::Result<Dispatch> {
        if self.dense_generated(p, s) {
            return self.dense_direct.dense_direct(gpu, p, s, v);
        }
        if p.squash().is_some() {
            let what = format!("the GEMM applies no squash ({p:?} {s:?}): see Kernels::dense_activation");
            return Err(crate::Error::ShapeMismatch { op: gemm::GEMM, what });
        }
        let (transpose, epilogue) = p.gemm_form();
        self.gemm.gemm(gpu, transpose, epilogue, s, v)
    }
}
