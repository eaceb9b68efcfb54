//! Host side of `shaders/gemm.wgsl`: every product in LeNet's forward and backward pass.

use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Shader, View};
use crate::shapes::GemmShape;

pub const GEMM: &str = "gemm";
pub const GEMM_VEC4: &str = "gemm_vec4";

/// Which operand is read transposed: A·B (forward conv, dense input gradient),
/// Aᵀ·B (weight gradient of a dense layer, conv input gradient), A·Bᵀ (dense forward,
/// conv weight gradient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transpose {
    None,
    A,
    B,
}

/// What the epilogue adds to each output before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Epilogue {
    None,
    /// bias[row] (conv: one bias per output channel), then ReLU when `relu`.
    BiasRow {
        relu: bool,
    },
    /// bias[column] (dense: one bias per unit), then ReLU when `relu`.
    BiasCol {
        relu: bool,
    },
}

/// Batched GEMM; pipelines per (Transpose, Epilogue) come from the `Gpu` cache.
pub struct Gemm {
    /// Bound as the bias when the epilogue has none (the layout is the same for all variants).
    no_bias: wgpu::Buffer,
}

impl Gemm {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        // Compile the forward variants now so a broken shader fails at start-up.
        gpu.pipeline(Shader::Gemm, GEMM, &constants(Transpose::None, Epilogue::None))?;
        Ok(Gemm { no_bias: gpu.storage_from("gemm.no_bias", &[0.0f32]) })
    }

    /// C_b = op(A_b) · op(B_b) [+ bias] [ReLU] for every batch item; C is overwritten.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        gpu: &Gpu,
        transpose: Transpose,
        epilogue: Epilogue,
        s: GemmShape,
        a: View,
        b: View,
        bias: Option<View>,
        c: View,
    ) -> Result<Dispatch> {
        if s.m == 0 || s.n == 0 || s.k == 0 || s.batch == 0 {
            return Err(Error::ShapeMismatch { op: GEMM, what: format!("empty product {s:?}") });
        }
        a.require(GEMM, "A", s.a_len())?;
        b.require(GEMM, "B", s.b_len())?;
        c.require(GEMM, "C", s.c_len())?;
        let bias = match (epilogue, bias) {
            (Epilogue::None, None) => View::whole(&self.no_bias),
            (Epilogue::BiasRow { .. }, Some(v)) => {
                v.require(GEMM, "bias (per row)", s.m as u64)?;
                v
            }
            (Epilogue::BiasCol { .. }, Some(v)) => {
                v.require(GEMM, "bias (per column)", s.n as u64)?;
                v
            }
            (e, b) => {
                return Err(Error::ShapeMismatch {
                    op: GEMM,
                    what: format!("epilogue {e:?} given bias: {}", b.is_some()),
                })
            }
        };
        // 8x8 invocations per workgroup; `gemm` computes 8x8 outputs per invocation,
        // `gemm_vec4` 4x4.
        let (entry, tile) = if vec4_ok(transpose, s, a, b) { (GEMM_VEC4, 32) } else { (GEMM, 64) };
        let pipeline = gpu.pipeline(Shader::Gemm, entry, &constants(transpose, epilogue))?;
        let label = format!("{entry}[{transpose:?},{epilogue:?}]");
        let workgroups = [s.n.div_ceil(tile), s.m.div_ceil(tile), s.batch];
        Ok(prepare(gpu, &pipeline, &label, &[a, b, bias, c], &s, workgroups))
    }
}

/// Whether `gemm_vec4` can run this product: every 128-bit load it makes must be aligned
/// and inside the bound range.
pub fn vec4_ok(t: Transpose, s: GemmShape, a: View, b: View) -> bool {
    let m4 = |v: u64| v.is_multiple_of(4);
    m4(s.k as u64)
        && (t != Transpose::A || m4(s.m as u64))
        && (t == Transpose::B || m4(s.n as u64))
        && m4(s.stride_a as u64)
        && m4(s.stride_b as u64)
        && [a, b].iter().all(|v| m4(v.offset) && m4(v.len))
}

fn constants(t: Transpose, e: Epilogue) -> Vec<(&'static str, f64)> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let (bias, relu) = match e {
        Epilogue::None => (0.0, false),
        Epilogue::BiasRow { relu } => (1.0, relu),
        Epilogue::BiasCol { relu } => (2.0, relu),
    };
    vec![
        ("TRANS_A", flag(t == Transpose::A)),
        ("TRANS_B", flag(t == Transpose::B)),
        ("BIAS", bias),
        ("RELU", flag(relu)),
    ]
}
