//! Host side of the WGSL kernels: one module per file in `shaders/`, each with the same
//! function names as its CPU twin in `crate::reference`. A wrapper checks shapes, then
//! returns a prepared [`Dispatch`]; nothing here submits work.

pub mod ascent;
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

use crate::gpu::{Dispatch, Gpu, View};

/// A vec4's components by index, for generated WGSL.
const COMPONENT: [&str; 4] = ["x", "y", "z", "w"];

/// Binds `views` to bindings 0.. and a fresh uniform holding `shape` to the next one.
fn prepare<T: bytemuck::Pod>(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    views: &[View<'_>],
    shape: &T,
    workgroups: [u32; 3],
) -> Dispatch {
    prepare_with_uniform_at(gpu, pipeline, label, views, views.len(), shape, workgroups)
}

/// As [`prepare`], with the uniform at binding `at` and the views from `at` on after it
/// (for an entry point whose extra bindings follow a uniform shared with its module's
/// other entry points).
fn prepare_with_uniform_at<T: bytemuck::Pod>(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    views: &[View<'_>],
    at: usize,
    shape: &T,
    workgroups: [u32; 3],
) -> Dispatch {
    let uniform = gpu.uniform(label, shape);
    let mut all = views.to_vec();
    all.insert(at, View::whole(&uniform));
    Dispatch {
        label: label.to_string(),
        pipeline: pipeline.clone(),
        bind_group: gpu.bind(label, pipeline, &all),
        workgroups,
        uniform,
    }
}

/// A 2x2 window (max-pooling, subsampling) needs at least 2 rows and 2 columns.
fn require_window(op: &'static str, s: crate::shapes::PoolShape) -> crate::Result<()> {
    if s.h < 2 || s.w < 2 {
        let what = format!("{}x{} input has no 2x2 window", s.h, s.w);
        return Err(crate::Error::ShapeMismatch { op, what });
    }
    Ok(())
}

/// Every kernel family, compiled once per device.
pub struct Kernels {
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
    pub objective: objective::Objective,
    pub ascent: ascent::Ascent,
    pub squash: squash::Squash,
    pub subsample: subsample::Subsample,
    pub pad: pad::Pad,
    pub rbf: rbf::Rbf,
    pub table: table::Table,
}

impl Kernels {
    pub fn new(gpu: &Gpu) -> crate::Result<Self> {
        Ok(Kernels {
            im2col: im2col::Im2col::new(gpu)?,
            conv_direct: conv_direct::ConvDirect::new(gpu),
            gemm: gemm::Gemm::new(gpu)?,
            dense_direct: dense_direct::DenseDirect::new(gpu),
            pool: pool::MaxPool2x2::new(gpu)?,
            elementwise: elementwise::Elementwise::new(gpu)?,
            reduce: reduce::Reduce::new(gpu)?,
            xent: softmax_xent::SoftmaxXent::new(gpu)?,
            metrics: metrics::Metrics::new(gpu)?,
            optim: optim::Optim::new(gpu)?,
            gather: data::Gather::new(gpu)?,
            objective: objective::Objective::new(gpu)?,
            ascent: ascent::Ascent::new(gpu)?,
            squash: squash::Squash::new(gpu)?,
            subsample: subsample::Subsample::new(gpu)?,
            pad: pad::Pad::new(gpu)?,
            rbf: rbf::Rbf::new(gpu)?,
            table: table::Table::new(gpu)?,
        })
    }

    /// One of a dense layer's products ([`dense_direct::DenseProduct`]) for `s` = (M, N, K):
    /// the generated kernel where the device and shape allow it
    /// ([`dense_direct::DenseDirect::supports`]), else the GEMM in the same form.
    #[allow(clippy::too_many_arguments)]
    pub fn dense(
        &self,
        gpu: &Gpu,
        p: dense_direct::DenseProduct,
        s: crate::shapes::GemmShape,
        a: View,
        b: View,
        operand: Option<View>,
        c: View,
    ) -> crate::Result<Dispatch> {
        if self.dense_direct.supports(p, s) {
            return self.dense_direct.dense_direct(gpu, p, s, a, b, operand, c);
        }
        let (transpose, epilogue) = p.gemm_form();
        self.gemm.gemm(gpu, transpose, epilogue, s, a, b, operand, c)
    }
}
