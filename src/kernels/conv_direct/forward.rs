//! The direct forward: y = x ⋆ w + bias (then ReLU), and where asked the 2x2 max-pool of y
//! with its argmax, in one pass. Each invocation computes a block of PH x 4 output pixels of
//! every output channel: it loads the input rows under the block once, as vec4s, forms
//! the 4-pixel windows of every tap, and loops over output channels.

use super::{
    block_entry, block_grid, blocks_per_image, input_bindings, input_functions, input_image, input_unpack, invocations,
    shape_name, supports, supports_pool, vec4s_per_window_row, weights_binding, weights_view, window, BlockOrder,
    ConvDirect, ConvInput, InputFormat, LoadSharing, PoolViews, CONV_FORWARD_DIRECT,
};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::generated_dispatch;
use crate::kernels::squash::SquashFn;
use crate::kernels::wgsl::{Access, GeneratedKernel, Wgsl, BATCH_STRUCT, COMPONENT};
use crate::shapes::ConvShape;

/// Output rows per invocation (the block is PH x 4 pixels): about 12 for few output
/// channels, 8 for many. More rows share each weight load among more multiply-adds but
/// leave fewer blocks to share between threads. The output's rows are split evenly into
/// the fewest blocks of at most that many plus 2, so that no block computes rows past
/// the image (LeNet-1998's C3: one block of 10 rows, not two of 8 of which 6 are thrown
/// away; C1: two of 14, not three of 12). Even, so that 2x2 pooling windows never
/// straddle blocks.
fn block_rows(s: ConvShape) -> u32 {
    let most = if s.oc <= 8 { 14 } else { 10 };
    let blocks = s.out_h().div_ceil(most);
    s.out_h().div_ceil(blocks).next_multiple_of(2).min(s.out_h())
}

/// From this many vec4s (or words) of input under a block on, the input rows are loaded in
/// a loop into a private array rather than one statement each: unrolled, each load is
/// hundreds of instructions of straight-line code on lavapipe (conv2's made 290 KB of
/// machine code); conv1's 32 words are faster unrolled.
const LOAD_LOOP_FROM: u32 = 64;

/// The activation a forward applies after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConvActivation {
    None,
    Relu,
    /// LeNet-1998's squashing function, with the constants of `shaders/squash.wgsl`.
    Squash(SquashFn),
}

impl ConvActivation {
    /// ReLU or nothing.
    pub fn relu(relu: bool) -> Self {
        if relu {
            ConvActivation::Relu
        } else {
            ConvActivation::None
        }
    }

    /// The WGSL expression for the activation of the vec4 `a`.
    fn of(self, a: &str) -> String {
        self.of_typed(a, "vec4<f32>")
    }

    /// The activation of the expression `a`, of WGSL type `ty`.
    pub(crate) fn of_typed(self, a: &str, ty: &str) -> String {
        match self {
            ConvActivation::None => a.to_string(),
            ConvActivation::Relu => format!("max({a}, {ty}(0.0))"),
            ConvActivation::Squash(SquashFn::ScaledTanh) => {
                format!("{SQUASH_A} * (1.0 - 2.0 / (exp({SQUASH_2S} * ({a})) + 1.0))")
            }
            ConvActivation::Squash(SquashFn::Sigmoid) => format!("1.0 / (1.0 + exp(-({a})))"),
        }
    }

    /// Short name for kernel names ("" for none).
    pub(crate) fn tag(self) -> &'static str {
        match self {
            ConvActivation::None => "",
            ConvActivation::Relu => "-relu",
            ConvActivation::Squash(SquashFn::ScaledTanh) => "-tanh",
            ConvActivation::Squash(SquashFn::Sigmoid) => "-sigmoid",
        }
    }
}

/// The scaled tanh A tanh(S a) = A (1 - 2 / (e^2Sa + 1)) as `shaders/squash.wgsl` computes
/// it: A, and 2S as the f32 that `2.0 * S` gives there.
const SQUASH_A: &str = "1.7159";
const SQUASH_2S: &str = "1.3333334";

/// What a forward computes besides y = x ⋆ w + bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardVariant {
    pub activation: ConvActivation,
    /// The width y is stored at: the output width, or fewer columns (the first ones), when
    /// the input was widened with zeros so that its rows are whole vec4s and the columns
    /// past this one are the padding's (LeNet-1998's C3: 12 computed, 10 stored).
    pub y_width: u32,
    /// y itself is stored (read back as feature maps, or by gradient ascent); without it,
    /// only the pool is (training, evaluation), which saves a fifth of the kernel.
    pub write_y: bool,
    /// The 2x2 max-pool of y and its argmax, as `maxpool2x2_forward` computes them (same
    /// tie rule), saving that kernel's pass over y.
    pub pool: bool,
    /// LeNet-1998's trainable subsampling of y (of its `y_width` stored columns), as
    /// `subsample_forward` computes it, saving that kernel and (without `write_y`) y.
    pub subsample: Option<SubsampleVariant>,
    pub input: InputFormat,
}

/// A fused 2x2 subsampling: each window's sum times the map's coefficient plus its bias,
/// then `activation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubsampleVariant {
    pub activation: ConvActivation,
    /// The length of a stored row: the subsampled width (y_width / 2), or more where the
    /// reader wants its rows widened with zeros (which the forward writes there).
    pub row_width: u32,
}

/// The WGSL of the forward for `s` (any batch size).
pub fn forward_source(s: ConvShape, v: ForwardVariant, sharing: LoadSharing) -> GeneratedKernel {
    assert!(v.write_y || v.pool || v.subsample.is_some(), "a convolution that writes nothing");
    assert!(v.y_width <= s.out_w() && (v.y_width == s.out_w() || !v.pool), "a cropped y is not pooled");
    assert!(v.subsample.is_none_or(|sv| supports_subsample(s, v.y_width, sv.row_width)), "cannot subsample");
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let ph = block_rows(s);
    let mut g = Wgsl::new(
        "src/kernels/conv_direct/forward.rs",
        &format!(
            "x ({c},{h},{w}) -> y ({oc},{oh},{ow}), {k}x{k} taps, {:?}, y {} (width {}), pool {},\n\
             // {}{ph}x4 pixels per invocation, input {:?}, weights {sharing:?}.",
            v.activation,
            v.write_y,
            v.y_width,
            v.pool,
            v.subsample.map_or(String::new(), |sv| format!("subsample {sv:?},\n// ")),
            v.input
        ),
    );
    g.line(BATCH_STRUCT);
    input_bindings(&mut g, v.input);
    g.comment("Uniform, not storage: a load at a constant offset is then one scalar load (no\nbounds-check branch) even in a loop.");
    weights_binding(&mut g, s);
    g.storage("bias", Access::Read, "array<f32>");
    if v.write_y && v.y_width == ow {
        g.storage("y", Access::ReadWrite, "array<vec4<f32>>");
    } else if v.write_y {
        g.storage("y", Access::ReadWrite, "array<f32>");
    }
    if v.pool {
        g.storage("pooled", Access::ReadWrite, "array<f32>");
        g.storage("argmax", Access::ReadWrite, "array<u32>");
    }
    if v.subsample.is_some() {
        g.storage("sub_coef", Access::Read, "array<f32>");
        g.storage("sub_bias", Access::Read, "array<f32>");
        g.storage("sub", Access::ReadWrite, "array<f32>");
    }
    g.uniform("s", "Batch");
    g.blank();
    input_functions(&mut g, v.input);
    if v.pool {
        pool_fn(&mut g, ow);
    }
    sharing.functions(&mut g);
    block_entry(&mut g, CONV_FORWARD_DIRECT, BlockOrder::ByImage, sharing, blocks_per_image(oh, ow, ph), ow / 4);
    g.line(format!("let y0 = block_row * {ph}u;"));
    g.line("let x0 = block_col * 4u;");
    g.line(format!("let x_image = {} * {}u;", input_image(v.input), c * h * w / 4));
    if v.y_width == ow {
        g.line(format!("let y_image = image * {}u;", oc * oh * ow / 4));
    } else {
        g.line(format!("let y_image = image * {}u;", oc * oh * v.y_width));
    }
    input_rows(&mut g, s, ph, v.input);
    output_channels(&mut g, s, ph, v, sharing);
    g.close();
    let name = format!(
        "conv_forward-{}{}{}{}{}{}-{:?}-{}",
        shape_name(s),
        v.activation.tag(),
        if v.write_y { "-y" } else { "" },
        if v.y_width < ow { format!("-crop{}", v.y_width) } else { String::new() },
        if v.pool { "-pool" } else { "" },
        v.subsample.map_or(String::new(), |sv| format!("-subsample{}-rows{}", sv.activation.tag(), sv.row_width)),
        v.input,
        sharing.tag()
    )
    .to_lowercase();
    g.finish(name, CONV_FORWARD_DIRECT)
}

/// Rows r_{i}_{row}_{q}: channel i, input row y0 + row (clamped: rows past the image only
/// feed output rows that are not stored), columns x0 + 4q ..; windows x_{i}_{row}_{kx}: the
/// 4 inputs under output columns x0..x0+3 at tap column kx.
fn input_rows(g: &mut Wgsl, s: ConvShape, ph: u32, input: InputFormat) {
    let (c, h, w, k) = (s.c, s.h, s.w, s.kh);
    let vec4s_per_row = vec4s_per_window_row(k);
    let unpack = input_unpack(input);
    let rows = ph + k - 1;
    let loads = c * rows * vec4s_per_row;
    let (plane, hmax, row4, qmax) = (h * w / 4, h - 1, w / 4, w / 4 - 1);
    if loads >= LOAD_LOOP_FROM {
        let per_channel = rows * vec4s_per_row;
        g.line(format!("var rows_in: array<vec4<f32>, {loads}>;"));
        g.open(format!("for (var j = 0u; j < {loads}u; j++)"));
        g.line(format!("let i = j / {per_channel}u;"));
        g.line(format!("let r = j % {per_channel}u / {vec4s_per_row}u;"));
        g.line(format!("let q = j % {vec4s_per_row}u;"));
        g.line(format!(
            "rows_in[j] = {unpack}(x[x_image + i * {plane}u + min(y0 + r, {hmax}u) * {row4}u + min(x0 / 4u + q, {qmax}u)]);"
        ));
        g.close();
    }
    for i in 0..c {
        for r in 0..rows {
            for q in 0..vec4s_per_row {
                let value = if loads >= LOAD_LOOP_FROM {
                    format!("rows_in[{}u]", (i * rows + r) * vec4s_per_row + q)
                } else {
                    format!(
                        "{unpack}(x[x_image + {}u + min(y0 + {r}u, {hmax}u) * {row4}u + min(x0 / 4u + {q}u, {qmax}u)])",
                        i * plane
                    )
                };
                g.line(format!("let r_{i}_{r}_{q} = {value};"));
            }
        }
        for r in 0..rows {
            for kx in 0..k {
                g.line(format!("let x_{i}_{r}_{kx} = {};", window(&format!("r_{i}_{r}"), kx)));
            }
        }
    }
}

/// One output channel per iteration: PH accumulators, every tap (weight (oc, i, ky, kx) at
/// oc·C·K·K + a literal), then bias, ReLU and the stores of y and the pool.
fn output_channels(g: &mut Wgsl, s: ConvShape, ph: u32, v: ForwardVariant, sharing: LoadSharing) {
    let (c, oc, k) = (s.c, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    g.open(format!("for (var oc = 0u; oc < {oc}u; oc++)"));
    g.line(format!("let wo = oc * {}u;", c * k * k));
    sharing.chunk_loads(g, c * k * k, super::uniform_weights_len(s));
    for p in 0..ph {
        g.line(format!("var a_{p} = vec4<f32>(bias[oc]);"));
    }
    for i in 0..c {
        for ky in 0..k {
            for kx in 0..k {
                let t = sharing.weight((i * k + ky) * k + kx);
                let fmas: String = (0..ph).map(|p| format!(" a_{p} = fma(t, x_{i}_{}_{kx}, a_{p});", p + ky)).collect();
                g.line(format!("{{ let t = {t};{fmas} }}"));
            }
        }
    }
    let activated = |p: u32| v.activation.of(&format!("a_{p}"));
    for p in (0..ph).filter(|_| v.write_y && v.y_width < ow) {
        // Cropped: the last block's columns from y_width on are not stored.
        let cw = v.y_width;
        g.open(format!("if (valid && y0 + {p}u < {oh}u)"));
        g.line(format!("let v = {};", activated(p)));
        g.line(format!("let at = y_image + oc * {}u + (y0 + {p}u) * {cw}u + x0;", oh * cw));
        for (j, component) in COMPONENT.iter().enumerate() {
            g.line(format!("if (x0 + {j}u < {cw}u) {{ y[at + {j}u] = v.{component}; }}"));
        }
        g.close();
    }
    for p in (0..ph).filter(|_| v.write_y && v.y_width == ow) {
        g.line(format!(
            "if (valid && y0 + {p}u < {oh}u) {{ y[y_image + oc * {}u + (y0 + {p}u) * {}u + x0 / 4u] = {}; }}",
            oh * ow / 4,
            ow / 4,
            activated(p)
        ));
    }
    if v.pool {
        // Rows p and p + 1 of the block hold two 2x2 windows (columns 0-1 and 2-3).
        g.line(format!("let plane = image * {oc}u + oc;"));
        for p in (0..ph).step_by(2) {
            g.open(format!("if (valid && y0 + {p}u < {oh}u)"));
            g.line(format!("let t = {}; let u = {};", activated(p), activated(p + 1)));
            g.line(format!("let y_at = (plane * {oh}u + y0 + {p}u) * {ow}u + x0;"));
            g.line(format!("let p_at = (plane * {}u + (y0 + {p}u) / 2u) * {}u + x0 / 2u;", oh / 2, ow / 2));
            g.line("pool_window(p_at, y_at, t.x, t.y, u.x, u.y);");
            g.line("pool_window(p_at + 1u, y_at + 2u, t.z, t.w, u.z, u.w);");
            g.close();
        }
    }
    if let Some(sv) = v.subsample {
        subsample_stores(g, s, ph, v.y_width, sv, activated);
    }
    g.close();
}

/// Rows p and p + 1 of the block hold two 2x2 windows (columns 0-1 and 2-3): their sums in
/// subsample_forward's order, times the coefficient plus the bias, activated, stored at
/// columns x0/2 and x0/2 + 1 of a row of `row_width` (those inside y_width / 2).
fn subsample_stores(
    g: &mut Wgsl,
    s: ConvShape,
    ph: u32,
    y_width: u32,
    sv: SubsampleVariant,
    activated: impl Fn(u32) -> String,
) {
    let (oc, oh) = (s.oc, s.out_h());
    let (width, row) = (y_width / 2, sv.row_width);
    g.line(format!("let sub_plane = (image * {oc}u + oc) * {}u;", oh / 2 * row));
    g.line("let sub_c = sub_coef[oc];");
    g.line("let sub_b = sub_bias[oc];");
    for p in (0..ph).step_by(2) {
        g.open(format!("if (valid && y0 + {p}u < {oh}u)"));
        g.line(format!("let t = {}; let u = {};", activated(p), activated(p + 1)));
        g.line("let sums = vec2<f32>(t.x + t.y + u.x + u.y, t.z + t.w + u.z + u.w);");
        g.line(format!("let v = {};", sv.activation.of_typed("sub_c * sums + sub_b", "vec2<f32>")));
        g.line(format!("let at = sub_plane + (y0 + {p}u) / 2u * {row}u + x0 / 2u;"));
        if width < s.out_w() / 2 {
            // Cropped: the last block's columns from the width on are not stored.
            g.line(format!("if (x0 / 2u < {width}u) {{ sub[at] = v.x; }}"));
            g.line(format!("if (x0 / 2u + 1u < {width}u) {{ sub[at + 1u] = v.y; }}"));
        } else {
            g.line("sub[at] = v.x;");
            g.line("sub[at + 1u] = v.y;");
        }
        if row > width {
            // The block holding the row's last columns zeroes the padding after them.
            let zeros: Vec<String> = (width..row).map(|col| format!("sub[row_at + {col}u] = 0.0;")).collect();
            g.open(format!("if (x0 / 2u + 2u >= {width}u)"));
            g.line(format!("let row_at = sub_plane + (y0 + {p}u) / 2u * {row}u;"));
            g.line(zeros.join(" "));
            g.close();
        }
        g.close();
    }
}

/// Whether the forward can subsample its output of stored width `y_width` into rows of
/// `row_width`: an even output height (as for the pool) and width.
pub fn supports_subsample(s: ConvShape, y_width: u32, row_width: u32) -> bool {
    supports_pool(s) && y_width.is_multiple_of(2) && y_width <= s.out_w() && row_width >= y_width / 2
}

/// WGSL writing one 2x2 window's maximum and the flat index into y of its argmax; ties go
/// to the first of (0,0), (0,1), (1,0), (1,1), as in shaders/pool.wgsl.
fn pool_fn(g: &mut Wgsl, ow: u32) {
    g.open("fn pool_window(i: u32, top_left: u32, v00: f32, v01: f32, v10: f32, v11: f32)");
    g.line("var best = top_left;");
    g.line("var best_v = v00;");
    g.line("best = select(best, top_left + 1u, v01 > best_v); best_v = select(best_v, v01, v01 > best_v);");
    g.line(format!("best = select(best, top_left + {ow}u, v10 > best_v); best_v = select(best_v, v10, v10 > best_v);"));
    g.line(format!(
        "best = select(best, top_left + {}u, v11 > best_v); best_v = select(best_v, v11, v11 > best_v);",
        ow + 1
    ));
    g.line("pooled[i] = best_v;");
    g.line("argmax[i] = best;");
    g.close();
    g.blank();
}

/// What the forward writes: y, the pool, or both.
#[derive(Clone, Copy)]
pub struct ForwardOutputs<'a> {
    pub y: Option<View<'a>>,
    pub pool: Option<PoolViews<'a>>,
    /// y's stored width where it is cropped (None: the output width).
    pub y_width: Option<u32>,
    pub subsample: Option<SubsampleOutput<'a>>,
}

/// A fused subsampling's parameters and output, (N, OC, OH/2, row_width).
#[derive(Clone, Copy)]
pub struct SubsampleOutput<'a> {
    pub coef: View<'a>,
    pub bias: View<'a>,
    pub out: View<'a>,
    pub activation: ConvActivation,
    pub row_width: u32,
}

impl ConvDirect {
    /// y (N,OC,OH,OW) = activation(x (N,C,H,W) ⋆ w + bias); with `out.pool`, also y's 2x2
    /// max-pool (N,OC,OH/2,OW/2) and its argmax, as `maxpool2x2_forward` writes them. y is
    /// stored only if given (one of y and the pool must be). `w` is bound as a uniform
    /// buffer, so it must start on a 256-byte boundary (as every parameter tensor does).
    /// With `out.y_width` below OW, y is (N,OC,OH,y_width): the first columns only. With
    /// `out.subsample`, also the subsampling of y (as stored) into its rows.
    pub fn conv_forward_direct(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        activation: ConvActivation,
        x: ConvInput,
        [w, bias]: [View; 2],
        out: ForwardOutputs,
    ) -> Result<Dispatch> {
        let op = CONV_FORWARD_DIRECT;
        if !supports(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?}") });
        }
        if out.y.is_none() && out.pool.is_none() && out.subsample.is_none() {
            return Err(Error::ShapeMismatch { op, what: "neither y nor the pool is written".into() });
        }
        if x.format() == InputFormat::Bytes && out.y.is_some() {
            return Err(Error::ShapeMismatch { op, what: "a forward from bytes writes the pool only".into() });
        }
        bias.require(op, "bias", s.oc as u64)?;
        let mut views = x.views(op, s)?;
        views.extend([("w", weights_view(op, s, w)?), ("bias", bias)]);
        let y_width = out.y_width.unwrap_or(s.out_w());
        if y_width > s.out_w() || (y_width < s.out_w() && out.pool.is_some()) {
            let what = format!("y stored {y_width} wide of {} (and a cropped y is not pooled)", s.out_w());
            return Err(Error::ShapeMismatch { op, what });
        }
        if let Some(y) = out.y {
            y.require(op, "y", s.y_len() / s.out_w() as u64 * y_width as u64)?;
            views.push(("y", y));
        }
        if let Some(PoolViews { pooled, argmax }) = out.pool {
            if !supports_pool(s) {
                return Err(Error::ShapeMismatch { op, what: format!("cannot pool {s:?} (odd output height)") });
            }
            let pool_len = s.y_len() / 4;
            pooled.require(op, "pooled", pool_len)?;
            argmax.require(op, "argmax", pool_len)?;
            views.extend([("pooled", pooled), ("argmax", argmax)]);
        }
        if let Some(sub) = out.subsample {
            if !supports_subsample(s, y_width, sub.row_width) {
                let what = format!("cannot subsample {s:?} stored {y_width} wide into rows of {}", sub.row_width);
                return Err(Error::ShapeMismatch { op, what });
            }
            sub.coef.require(op, "sub_coef", s.oc as u64)?;
            sub.bias.require(op, "sub_bias", s.oc as u64)?;
            sub.out.require(op, "sub", s.n as u64 * (s.oc * s.out_h() / 2 * sub.row_width) as u64)?;
            views.extend([("sub_coef", sub.coef), ("sub_bias", sub.bias), ("sub", sub.out)]);
        }
        let variant = ForwardVariant {
            activation,
            y_width,
            write_y: out.y.is_some(),
            pool: out.pool.is_some(),
            subsample: out.subsample.map(|o| SubsampleVariant { activation: o.activation, row_width: o.row_width }),
            input: x.format(),
        };
        let blocks_per_image = blocks_per_image(s.out_h(), s.out_w(), block_rows(s));
        let blocks = invocations(BlockOrder::ByImage, self.sharing, s.n, blocks_per_image);
        let kernel = forward_source(s, variant, self.sharing);
        generated_dispatch(gpu, &kernel, &views, s.n, block_grid(blocks))
    }
}
