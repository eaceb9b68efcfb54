//! Host side of `shaders/gemm.wgsl`: every product in LeNet's forward and backward pass.

use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Shader, View};
use crate::shapes::GemmShape;

pub const GEMM: &str = "gemm";
pub const GEMM_VEC4: &str = "gemm_vec4";
pub const GEMM_SIMPLE: &str = "gemm_simple";
pub const GEMM_SG: &str = "gemm_sg";
pub const GEMM_SG_A4: &str = "gemm_sg_a4";

/// The kernels that compute a GEMM. [`Gemm::gemm`] takes the first of
/// [`Gemm::kernels_for`]; tests run every one that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GemmKernel {
    /// `gemm_sg_a4`: `gemm_sg` with A read as vec4s too (a quarter of its loads); also
    /// needs A aligned, with K % 4 == 0 (M % 4 == 0 when A is transposed).
    SubgroupA4,
    /// `gemm_sg` (gemm_subgroup.wgsl): operands shared by subgroup broadcasts; needs
    /// subgroups of a width it is written for ([`super::subgroup_lanes`]) and B readable
    /// as aligned vec4s.
    Subgroup,
    /// `gemm_vec4`: 4x4 blocks with 128-bit loads; needs aligned operands.
    Vec4,
    /// `gemm`: 8x8 blocks, any shape.
    Blocked,
    /// `gemm_simple`: 4 outputs of a row per invocation, any shape; compiles in ~0.15 s on
    /// lavapipe against 0.4-3.8 s for the others, and runs 2-4x slower (the quick tier's
    /// GEMM, [`Gemm::simple`]).
    Simple,
}

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
    /// C · (y > 0), y (laid out as C) the output of the ReLU whose incoming gradient C is:
    /// the ReLU's backward fused into the product (a dense layer's input gradient).
    ReluMask,
}

/// The operands of C = A · B and what the epilogue reads (`operand`: the bias, or the ReLU
/// output of [`Epilogue::ReluMask`]).
#[derive(Clone, Copy)]
pub struct GemmViews<'a> {
    pub a: View<'a>,
    pub b: View<'a>,
    pub operand: Option<View<'a>>,
    pub c: View<'a>,
}

impl<'a> GemmViews<'a> {
    /// C = A · B with no epilogue operand.
    pub fn plain(a: View<'a>, b: View<'a>, c: View<'a>) -> Self {
        GemmViews { a, b, operand: None, c }
    }
}

/// Batched GEMM; pipelines per (Transpose, Epilogue) come from the `Gpu` cache.
pub struct Gemm {
    /// Bound as the bias when the epilogue has none (the layout is the same for all variants).
    no_bias: wgpu::Buffer,
    /// The device's subgroup width, where `gemm_sg` may be used.
    lanes: Option<u32>,
    /// Every product on [`GemmKernel::Simple`] (the quick tier, `Kernels::quick`).
    simple: bool,
}

impl Gemm {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Self::with_subgroups(gpu, super::subgroup_lanes(gpu))
    }

    /// With `lanes`, the kernels for subgroups of that width may be chosen.
    pub fn with_subgroups(gpu: &Gpu, lanes: Option<u32>) -> Result<Self> {
        // Compile the forward variants now so a broken shader fails at start-up.
        gpu.pipeline(Shader::Gemm, GEMM, &constants(Transpose::None, Epilogue::None))?;
        if let Some(lanes) = lanes {
            let constants = sg_constants(Transpose::None, Epilogue::None, 1, 1);
            gpu.pipeline(Shader::GemmSubgroup { lanes }, GEMM_SG, &constants)?;
        }
        Ok(Gemm { no_bias: gpu.storage_from("gemm.no_bias", &[0.0f32]), lanes, simple: false })
    }

    /// Every product on [`GemmKernel::Simple`]: the GEMMs that compile soonest.
    pub fn simple(gpu: &Gpu) -> Self {
        Gemm { no_bias: gpu.storage_from("gemm.no_bias", &[0.0f32]), lanes: None, simple: true }
    }

    /// The kernels that can compute this product on this device, fastest first.
    pub fn kernels_for(&self, t: Transpose, s: GemmShape, a: View, b: View) -> Vec<GemmKernel> {
        let mut out = Vec::new();
        if self.lanes.is_some() && sg_ok(t, s, b) {
            if sg_a4_ok(t, s, a) {
                out.push(GemmKernel::SubgroupA4);
            }
            out.push(GemmKernel::Subgroup);
        }
        if vec4_ok(t, s, a, b) {
            out.push(GemmKernel::Vec4);
        }
        out.push(GemmKernel::Blocked);
        out.push(GemmKernel::Simple);
        out
    }

    /// C_b = op(A_b) · op(B_b), then the epilogue, for every batch item; C is overwritten.
    pub fn gemm(
        &self,
        gpu: &Gpu,
        transpose: Transpose,
        epilogue: Epilogue,
        s: GemmShape,
        v: GemmViews,
    ) -> Result<Dispatch> {
        let kernel = if self.simple { GemmKernel::Simple } else { self.kernels_for(transpose, s, v.a, v.b)[0] };
        self.gemm_with(gpu, kernel, transpose, epilogue, s, v)
    }

    /// [`Gemm::gemm`] with a chosen kernel, which must be one of [`Gemm::kernels_for`].
    pub fn gemm_with(
        &self,
        gpu: &Gpu,
        kernel: GemmKernel,
        transpose: Transpose,
        epilogue: Epilogue,
        s: GemmShape,
        v: GemmViews,
    ) -> Result<Dispatch> {
        let GemmViews { a, b, operand, c } = v;
        if s.m == 0 || s.n == 0 || s.k == 0 || s.batch == 0 {
            return Err(Error::ShapeMismatch { op: GEMM, what: format!("empty product {s:?}") });
        }
        a.require(GEMM, "A", s.a_len())?;
        b.require(GEMM, "B", s.b_len())?;
        c.require(GEMM, "C", s.c_len())?;
        let operand = epilogue_operand(GEMM, epilogue, s, operand)?.unwrap_or(View::whole(&self.no_bias));
        if !self.kernels_for(transpose, s, a, b).contains(&kernel) {
            return Err(Error::ShapeMismatch {
                op: GEMM,
                what: format!("{kernel:?} cannot compute {transpose:?} {s:?}"),
            });
        }
        let label = format!("{kernel:?}[{transpose:?},{epilogue:?}]");
        let (pipeline, workgroups) = match kernel {
            GemmKernel::Subgroup | GemmKernel::SubgroupA4 => {
                let lanes = self.lanes.expect("kernels_for offers subgroup kernels only with a width");
                // Rows per tile: M rounded up to 4, at most 32 (fewer loads of B per
                // multiply-add than 16: the dense layers' GEMMs 10-25% faster on lavapipe,
                // batch 100), but 16 for `gemm_sg_a4` (its loops over rows stop being
                // unrolled above that); a tile of 8 rows or fewer
                // takes two column quads per lane (64 accumulators per lane) unless N fits
                // one tile row (conv1's weight gradient, N = 25, on 8 lanes).
                let (entry, max_row_quads) =
                    if kernel == GemmKernel::SubgroupA4 { (GEMM_SG_A4, 4) } else { (GEMM_SG, 8) };
                let row_quads = s.m.div_ceil(4).min(max_row_quads);
                // `gemm_sg_a4` also takes two column quads where that pads N no further:
                // each shuffled quad of A then serves twice the columns (probe, batch 100,
                // 8 lanes: fc1 forward 0.47-0.59 -> 0.38-0.44 ms, weight gradient 0.52-0.54
                // -> 0.45-0.50, input gradient unchanged; fc2's N = 84 lost more to padding).
                let tile = 4 * lanes;
                let wide = row_quads <= 2
                    || (kernel == GemmKernel::SubgroupA4
                        && s.n.next_multiple_of(2 * tile) == s.n.next_multiple_of(tile));
                let col_quads = if wide && s.n > tile { 2 } else { 1 };
                let constants = sg_constants(transpose, epilogue, row_quads, col_quads);
                let pipeline = gpu.pipeline(Shader::GemmSubgroup { lanes }, entry, &constants)?;
                (pipeline, [s.n.div_ceil(tile * col_quads), s.m.div_ceil(4 * row_quads), s.batch])
            }
            // 8x8 invocations per workgroup; `gemm` computes 8x8 outputs per invocation,
            // `gemm_vec4` 4x4.
            GemmKernel::Vec4 => {
                let pipeline = gpu.pipeline(Shader::Gemm, GEMM_VEC4, &constants(transpose, epilogue))?;
                (pipeline, [s.n.div_ceil(32), s.m.div_ceil(32), s.batch])
            }
            GemmKernel::Blocked => {
                let pipeline = gpu.pipeline(Shader::Gemm, GEMM, &constants(transpose, epilogue))?;
                (pipeline, [s.n.div_ceil(64), s.m.div_ceil(64), s.batch])
            }
            GemmKernel::Simple => {
                let pipeline = gpu.pipeline(Shader::Gemm, GEMM_SIMPLE, &constants(transpose, epilogue))?;
                (pipeline, [s.n.div_ceil(32), s.m.div_ceil(8), s.batch])
            }
        };
        Ok(prepare(gpu, &pipeline, &label, &[a, b, operand, c], &s, workgroups))
    }
}

/// Checks `operand` against what `epilogue` reads for the product `s` (the bias per row or
/// column, the ReLU output laid out as C, or nothing) and returns it; errors as `op`.
pub(crate) fn epilogue_operand<'a>(
    op: &'static str,
    epilogue: Epilogue,
    s: GemmShape,
    operand: Option<View<'a>>,
) -> Result<Option<View<'a>>> {
    let needed = match (epilogue, operand) {
        (Epilogue::None, None) => return Ok(None),
        (Epilogue::BiasRow { .. }, Some(_)) => ("bias (per row)", s.m as u64),
        (Epilogue::BiasCol { .. }, Some(_)) => ("bias (per column)", s.n as u64),
        (Epilogue::ReluMask, Some(_)) => ("ReLU output (as C)", s.c_len()),
        (e, b) => {
            let what = format!("epilogue {e:?} given an operand: {}", b.is_some());
            return Err(Error::ShapeMismatch { op, what });
        }
    };
    let v = operand.expect("matched Some");
    v.require(op, needed.0, needed.1)?;
    Ok(Some(v))
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

/// Whether `gemm_sg` can run this product: B must be readable as aligned vec4s (along N,
/// or along K when B is transposed).
pub fn sg_ok(t: Transpose, s: GemmShape, b: View) -> bool {
    let m4 = |v: u64| v.is_multiple_of(4);
    let vec4_dim = if t == Transpose::B { s.k } else { s.n };
    m4(vec4_dim as u64) && m4(s.stride_b as u64) && m4(b.offset) && m4(b.len)
}

/// Whether `gemm_sg_a4` can also read A as aligned vec4s: along K (M when A is transposed).
pub fn sg_a4_ok(t: Transpose, s: GemmShape, a: View) -> bool {
    let m4 = |v: u64| v.is_multiple_of(4);
    let vec4_dim = if t == Transpose::A { s.m } else { s.k };
    m4(vec4_dim as u64) && m4(s.stride_a as u64) && m4(a.offset) && m4(a.len)
}

fn sg_constants(t: Transpose, e: Epilogue, row_quads: u32, col_quads: u32) -> Vec<(&'static str, f64)> {
    let mut c = constants(t, e);
    c.push(("ROW_QUADS", row_quads as f64));
    c.push(("COL_QUADS", col_quads as f64));
    c
}

fn constants(t: Transpose, e: Epilogue) -> Vec<(&'static str, f64)> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let (bias, relu) = match e {
        Epilogue::None | Epilogue::ReluMask => (0.0, false),
        Epilogue::BiasRow { relu } => (1.0, relu),
        Epilogue::BiasCol { relu } => (2.0, relu),
    };
    vec![
        ("TRANS_A", flag(t == Transpose::A)),
        ("TRANS_B", flag(t == Transpose::B)),
        ("BIAS", bias),
        ("RELU", flag(relu)),
        ("MASK", flag(e == Epilogue::ReluMask)),
    ]
}
