//! Direct convolutions (the forward with its max-pool, the input gradient, the weight
//! gradient), as WGSL written out for one convolution shape.
//!
//! Why generated: lavapipe runs 8 invocations as one SIMD group and splits every load
//! whose offset is not a compile-time constant into 8 bounds-checked scalar loads;
//! arithmetic is nearly free. im2col + GEMM moves every input value through memory 25
//! times. Here each invocation loads the input rows under a block of 4-pixel-wide output
//! rows once, as vec4s, forms the 4-pixel windows of every tap in registers, and
//! multiplies them with the weights (a uniform buffer; on 8-wide subgroups one load per 8
//! weights, shared by `subgroupBroadcast`) or, for the weight gradient, with dy. Channel
//! counts, image sizes and tap offsets are literals in the source; only the batch size is
//! a uniform. Zero padding is neither loaded nor multiplied: the input gradient is
//! computed by image for small planes (a lane per input channel, every position a
//! literal), by blocks with one code path per pattern of padding rows for large ones.
//!
//! Measured on lavapipe (Mesa 25, batch 100, BENCHMARKS.md): conv1 forward + pool 1.3-1.6 ms
//! against 3.0 + 7.8 + 1.2 for im2col + GEMM + pool, conv2's input gradient 3.0-3.4 ms
//! against 9.5 + 3.6 for GEMM + col2im, conv2's weight gradient 1.8-2.1 ms against 9.3 for
//! the GEMM (plus im2col); since then conv2's forward 0.72 ms, input gradient 0.88, weight
//! gradient 0.79. Code size is the limit: LLVM's compile time grows much faster than the
//! source, and code run once per subgroup costs its fetch, so one channel dimension is a
//! loop that is not unrolled (everything unrolled, conv2's forward compiled in 64-78 s on a
//! cold Mesa shader cache and ran 2x slower, and its input gradient took 100 s; with the
//! loop, 8 s and 3-8 s), and so are large input loads (`LOAD_LOOP_FROM`).

use std::fmt::Write;

use super::{prepare, prepare_with_uniform_at, COMPONENT};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::shapes::ConvShape;

pub const CONV_FORWARD_DIRECT: &str = "conv_forward_direct";
pub const CONV_INPUT_GRAD_DIRECT: &str = "conv_input_grad_direct";
pub const CONV_WEIGHT_GRAD_DIRECT: &str = "conv_weight_grad_direct";

/// Largest weight count (OC·C·KH·KW) written out; beyond it compile times grow too long and
/// im2col + GEMM is used.
const MAX_TAPS: u64 = 4096;

/// Output rows per invocation (the block is PH x 4 pixels): 12 for few output channels, 8
/// for many. More rows share each weight load among more multiply-adds but leave fewer
/// blocks to share between threads. Even, so that 2x2 pooling windows never straddle
/// blocks. Probe on lavapipe (best of 15, one machine): conv1 (6 channels) at batch 100 4
/// rows 0.58 ms, 6 rows 0.53, 8 rows 0.51, 12 rows 0.47, 24 rows 0.47; at batch 1000 5.31,
/// 4.70, 4.51, 4.15, 4.04. conv2 (16 channels, y not stored, input rows loaded in a loop:
/// [`LOAD_LOOP_FROM`]) at batch 100 4 rows 0.82 ms, 8 rows 0.72.
fn block_rows(s: ConvShape) -> u32 {
    let rows = if s.oc <= 8 { 12 } else { 8 };
    rows.min(s.out_h())
}

/// From this many vec4s (or words) of input under a block on, the forward loads them in a
/// loop into a private array rather than one statement each. lavapipe turns each load into
/// 8 bounds-checked scalar loads per component, ~250 instructions of straight-line code per
/// vec4 and subgroup; conv2's 144 made 290 KB of machine code run once per subgroup, a
/// quarter of the kernel's time, fetched from L2. In a loop: conv2 forward 6.39 -> 5.53 ms
/// at batch 1000 (compiled in 2 s instead of 10), 0.87 -> 0.82 at batch 100. conv1's 32
/// words are faster unrolled (3.55 against 4.20 ms at batch 1000).
const LOAD_LOOP_FROM: u32 = 64;

/// WGSL for the 4 values at columns kx..kx+3 of a row loaded as vec4s `{row}_0`, `{row}_1`, …:
/// one tap's window under 4 adjacent output pixels.
fn window(row: &str, kx: u32) -> String {
    let parts: Vec<String> = (kx..kx + 4).map(|e| format!("{row}_{}.{}", e / 4, COMPONENT[(e % 4) as usize])).collect();
    format!("vec4<f32>({})", parts.join(", "))
}

/// The uniform every generated kernel reads: the batch size, and where a kernel reads
/// [`InputFormat::Bytes`], the position in the sample order of the batch's first image.
const BATCH_STRUCT: &str = "struct Batch { n: u32, first: u32, _pad1: u32, _pad2: u32 }\n";

/// Where the forward and the through-pool weight gradient read x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// x (N, C, H, W) as f32.
    F32,
    /// A GPU-resident dataset's images as bytes packed 4 to a u32 (pixel = byte / 255, as
    /// `gather_batch` computes it), batch image n being image `order[first + n]`: a plan
    /// reads its batch where it lies instead of having it gathered first (the gather was
    /// 4.5% of an inference batch of 1000 on lavapipe, and one more dispatch).
    Bytes,
}

/// Blocks of `rows` x 4 pixels per image of `height` x `width` (width a multiple of 4).
fn blocks_per_image(height: u32, width: u32, rows: u32) -> u32 {
    height.div_ceil(rows) * (width / 4)
}

/// vec4s of an input row under one 4-pixel block: its windows span 4 + K - 1 columns.
fn vec4s_per_window_row(k: u32) -> u32 {
    (4 + k - 1).div_ceil(4)
}

/// Length in floats of the weights' uniform binding: whole vec4s (see [`weights_view`]).
fn uniform_weights_len(s: ConvShape) -> u64 {
    s.w_len().next_multiple_of(4)
}

/// Whether the invocations of a subgroup share what they load. lavapipe turns a load
/// whose offset is not a compile-time constant into one scalar load per lane, so a value
/// that every lane needs costs 8 loads unless one lane loads it and the others receive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSharing {
    /// Every invocation loads what it uses.
    PerInvocation,
    /// On 8-wide subgroups, `subgroupBroadcast` with a literal lane hands loaded values to
    /// all lanes. The forward and the input gradient: each lane loads one of 8 consecutive
    /// weights (conv2 forward 2.3 -> 1.6 ms, input gradient 3.7 -> 3.1 ms on lavapipe,
    /// batch 100). The weight gradient: one subgroup per run of images, lane = output
    /// channel, the input rows under a block loaded once between the 8 lanes (see
    /// [`weight_grad_source`]). Every invocation of a subgroup must take the same branches,
    /// which the forward (no branches), the input gradient (`BlockOrder::ImageGroups` of
    /// exactly 8 images) and the weight gradient (the same image for all lanes) guarantee
    /// for a subgroup of 8 consecutive invocations (as lavapipe forms them).
    Subgroup8,
}

impl LoadSharing {
    /// What this device can run: `Subgroup8` on 8-wide subgroups.
    pub fn for_device(gpu: &Gpu) -> Self {
        if gpu.subgroup_size() == Some(8) {
            LoadSharing::Subgroup8
        } else {
            LoadSharing::PerInvocation
        }
    }

    /// The extra entry-point parameter this way of loading needs.
    fn entry_parameter(self) -> &'static str {
        match self {
            LoadSharing::PerInvocation => "",
            LoadSharing::Subgroup8 => ", @builtin(subgroup_invocation_id) lane: u32",
        }
    }

    /// Helper functions for the module.
    fn functions(self) -> &'static str {
        match self {
            LoadSharing::PerInvocation => "",
            LoadSharing::Subgroup8 => "fn weight_at(i: u32) -> f32 { return w[i / 4u][i % 4u]; }\n\n",
        }
    }

    /// Statements at the top of the loop body, once `wo` (the first weight of this
    /// iteration) is known: each lane's share of the `count` weights from `wo` on; `len`
    /// is the length of `w`, which no load may pass.
    fn chunk_loads(self, count: u32, len: u64) -> String {
        let mut out = String::new();
        if self == LoadSharing::Subgroup8 {
            for chunk in 0..count.div_ceil(8) {
                let _ = writeln!(out, "    let w_{chunk} = weight_at(min(wo + {}u + lane, {}u));", chunk * 8, len - 1);
            }
        }
        out
    }

    /// The WGSL expression for weight `wo + at`, as a vec4 of four copies.
    fn weight(self, at: u32) -> String {
        match self {
            LoadSharing::PerInvocation => format!("vec4<f32>(w[(wo + {at}u) / 4u][(wo + {at}u) % 4u])"),
            LoadSharing::Subgroup8 => format!("vec4<f32>(subgroupBroadcast(w_{}, {}u))", at / 8, at % 8),
        }
    }
}

/// How [`block_entry`] assigns blocks to invocations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockOrder {
    /// An image's blocks are consecutive: neighbouring invocations read neighbouring
    /// pixels (best for the forward: measured 20% faster than `ImageGroups` for conv1).
    ByImage,
    /// Consecutive invocations take the same block of [`IMAGE_GROUP`] consecutive images,
    /// so a SIMD group shares a block position and a branch on it is uniform: lavapipe
    /// then skips the untaken side instead of running it masked. The input gradient
    /// branches so to skip its zero padding.
    ImageGroups,
}

/// Images per group in [`BlockOrder::ImageGroups`]: the SIMD width of lavapipe on AVX2.
const IMAGE_GROUP: u32 = 8;

/// Invocations that [`block_entry`] decodes for `n` images of `blocks` blocks each.
fn invocations(order: BlockOrder, n: u32, blocks: u32) -> u64 {
    let images = if order == BlockOrder::ImageGroups { n.next_multiple_of(IMAGE_GROUP) } else { n };
    images as u64 * blocks as u64
}

/// Invocations per workgroup of the forward and input gradient (one per block). lavapipe
/// hands whole workgroups to its threads, so a few large ones can leave a thread idle at
/// the end (conv2's 400 forward blocks at batch 100 would be 2 workgroups of 256). Probe
/// against 256, batch 100: conv2 forward 1.50/2.02 -> 1.47/1.83 ms, input gradient
/// 1.78/1.82 -> 1.76/1.77 ms (two runs each).
const BLOCK_WG: u32 = 64;

/// Workgroups for `invocations` blocks.
fn block_grid(invocations: u64) -> [u32; 3] {
    crate::gpu::grid(invocations.div_ceil(BLOCK_WG as u64) as u32)
}

/// The entry point's signature and the decoding of its invocation into a block: `image`,
/// `block_row` and `block_col` (in blocks), and `valid` (false past the last block, whose
/// work is then repeated and not stored: no early return).
fn block_entry(entry: &str, order: BlockOrder, sharing: LoadSharing, blocks: u32, blocks_x: u32) -> String {
    let decode = match order {
        BlockOrder::ByImage => format!(
            "\x20   let total = s.n * {blocks}u;\n\
             \x20   let valid = id < total;\n\
             \x20   let b = min(id, total - 1u);\n\
             \x20   let image = b / {blocks}u;\n\
             \x20   let slot = b % {blocks}u;\n"
        ),
        BlockOrder::ImageGroups => format!(
            "\x20   let group = id / {IMAGE_GROUP}u;\n\
             \x20   let first = (group / {blocks}u) * {IMAGE_GROUP}u;\n\
             \x20   let valid = first + id % {IMAGE_GROUP}u < s.n;\n\
             \x20   let image = min(first + id % {IMAGE_GROUP}u, s.n - 1u);\n\
             \x20   let slot = group % {blocks}u;\n"
        ),
    };
    format!(
        "@compute @workgroup_size({BLOCK_WG})\n\
         fn {entry}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20          @builtin(local_invocation_index) lid: u32{lane}) {{\n\
         \x20   let id = (wid.x + wid.y * nwg.x) * {BLOCK_WG}u + lid;\n\
         {decode}\
         \x20   let block_row = slot / {blocks_x}u;\n\
         \x20   let block_col = slot % {blocks_x}u;\n",
        lane = sharing.entry_parameter(),
    )
}

/// Whether a generated kernel can compute this convolution: a square kernel, input and
/// output rows of whole vec4s, and not too many weights.
pub fn supports(s: ConvShape) -> bool {
    s.kh == s.kw && s.w.is_multiple_of(4) && s.out_w().is_multiple_of(4) && s.w_len() <= MAX_TAPS
}

/// Whether the forward can also max-pool its output (2x2, stride 2): an even output height
/// (the width is a multiple of 4 already), so every window lies inside one block.
pub fn supports_pool(s: ConvShape) -> bool {
    supports(s) && s.out_h().is_multiple_of(2)
}

/// The WGSL source of y = x ⋆ w + bias (then ReLU when `relu`) for `s` (any batch size);
/// with `pool`, also the 2x2 max-pool of y and its argmax, as `maxpool2x2_forward` computes
/// them (same tie rule), saving that kernel's pass over y. Without `write_y`, y itself is
/// not stored (where only the pool is read: training, evaluation), which saves a fifth of
/// the kernel on lavapipe (conv1 0.70 -> 0.57 ms, conv2 1.27 -> 1.00, batch 100).
pub fn source(s: ConvShape, relu: bool, write_y: bool, pool: bool, sharing: LoadSharing, input: InputFormat) -> String {
    assert!(write_y || pool, "a convolution that writes nothing");
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let ph = block_rows(s);
    let vec4s_per_row = vec4s_per_window_row(k);

    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "// Generated by src/kernels/conv_direct.rs for {s:?}, relu {relu}, y {write_y}, pool {pool}:");
    let _ = writeln!(
        o,
        "// x ({c},{h},{w}) -> y ({oc},{oh},{ow}), {k}x{k} taps, {ph}x4 pixels per invocation, input {input:?}."
    );
    let s_binding = 3 + u32::from(write_y) + 2 * u32::from(pool);
    let (x_binding, x_image, unpack) = (input_bindings(input, s_binding + 1), input_image(input), input_unpack(input));
    let _ = write!(
        o,
        "{BATCH_STRUCT}\
         {x_binding}\
         // Uniform, not storage: a load at a constant offset is then one scalar load (no\n\
         // bounds-check branch) even in a loop.\n\
         @group(0) @binding(1) var<uniform> w: array<vec4<f32>, {w4}>;\n\
         @group(0) @binding(2) var<storage, read> bias: array<f32>;\n\
         {y_binding}\
         {pool_bindings}\
         @group(0) @binding({s_binding}) var<uniform> s: Batch;\n\n\
         {pool_fn}\
         {weight_fns}\
         {entry}\
         \x20   let y0 = block_row * {ph}u;\n\
         \x20   let x0 = block_col * 4u;\n\
         \x20   let x_image = {x_image} * {x_plane4}u;\n\
         \x20   let y_image = image * {y_plane4}u;\n",
        w4 = uniform_weights_len(s) / 4,
        x_plane4 = c * h * w / 4,
        y_plane4 = oc * oh * ow / 4,
        entry = block_entry(CONV_FORWARD_DIRECT, BlockOrder::ByImage, sharing, blocks_per_image(oh, ow, ph), ow / 4),
        weight_fns = sharing.functions(),
        // x, w, bias, then y, pooled and argmax where written, then the batch (and the
        // sample order for bytes).
        y_binding = if write_y { "@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;\n" } else { "" },
        pool_bindings = if pool {
            let first = 3 + u32::from(write_y);
            format!(
                "@group(0) @binding({first}) var<storage, read_write> pooled: array<f32>;\n\
                 @group(0) @binding({}) var<storage, read_write> argmax: array<u32>;\n",
                first + 1
            )
        } else {
            String::new()
        },
        pool_fn = if pool { pool_fn(ow) } else { String::new() },
    );
    // Rows r_{i}_{row}_{q}: channel i, input row y0 + row (clamped: rows past the image only
    // feed output rows that are not stored), columns x0 + 4q ..; windows x_{i}_{row}_{kx}:
    // the 4 inputs under output columns x0..x0+3 at tap column kx.
    let rows = ph + k - 1;
    let loads = c * rows * vec4s_per_row;
    if loads >= LOAD_LOOP_FROM {
        let _ = writeln!(
            o,
            "    var rows_in: array<vec4<f32>, {loads}>;\n\
             \x20   for (var j = 0u; j < {loads}u; j++) {{\n\
             \x20       let i = j / {per_channel}u;\n\
             \x20       let r = j % {per_channel}u / {vec4s_per_row}u;\n\
             \x20       let q = j % {vec4s_per_row}u;\n\
             \x20       rows_in[j] = {unpack}(x[x_image + i * {plane}u + min(y0 + r, {hmax}u) * {row4}u + min(x0 / 4u + q, {qmax}u)]);\n\
             \x20   }}",
            per_channel = rows * vec4s_per_row,
            plane = h * w / 4,
            hmax = h - 1,
            row4 = w / 4,
            qmax = w / 4 - 1,
        );
    }
    for i in 0..c {
        for r in 0..rows {
            for q in 0..vec4s_per_row {
                let value = if loads >= LOAD_LOOP_FROM {
                    format!("rows_in[{}u]", (i * rows + r) * vec4s_per_row + q)
                } else {
                    format!(
                        "{unpack}(x[x_image + {plane}u + min(y0 + {r}u, {hmax}u) * {row4}u + min(x0 / 4u + {q}u, {qmax}u)])",
                        plane = i * h * w / 4,
                        hmax = h - 1,
                        row4 = w / 4,
                        qmax = w / 4 - 1,
                    )
                };
                let _ = writeln!(o, "    let r_{i}_{r}_{q} = {value};");
            }
        }
        for r in 0..rows {
            for kx in 0..k {
                let _ = writeln!(o, "    let x_{i}_{r}_{kx} = {};", window(&format!("r_{i}_{r}"), kx));
            }
        }
    }
    // One output channel per iteration: PH accumulators, every tap (weight (oc, i, ky, kx)
    // at oc·C·K·K + a literal), then bias, ReLU and the vec4 stores.
    let _ = writeln!(o, "    for (var oc = 0u; oc < {oc}u; oc++) {{");
    let _ = writeln!(o, "    let wo = oc * {}u;", c * k * k);
    o.push_str(&sharing.chunk_loads(c * k * k, uniform_weights_len(s)));
    for p in 0..ph {
        let _ = writeln!(o, "    var a_{p} = vec4<f32>(bias[oc]);");
    }
    for i in 0..c {
        for ky in 0..k {
            for kx in 0..k {
                let t = sharing.weight((i * k + ky) * k + kx);
                let _ = write!(o, "    {{ let t = {t};");
                for p in 0..ph {
                    let _ = write!(o, " a_{p} = fma(t, x_{i}_{}_{kx}, a_{p});", p + ky);
                }
                o.push_str(" }\n");
            }
        }
    }
    for p in (0..ph).filter(|_| write_y) {
        let v = if relu { format!("max(a_{p}, vec4<f32>(0.0))") } else { format!("a_{p}") };
        let _ = writeln!(
            o,
            "    if (valid && y0 + {p}u < {oh}u) {{ y[y_image + oc * {plane}u + (y0 + {p}u) * {row4}u + x0 / 4u] = {v}; }}",
            plane = oh * ow / 4,
            row4 = ow / 4,
        );
    }
    if pool {
        // Rows p and p + 1 of the block hold two 2x2 windows (columns 0-1 and 2-3).
        let _ = writeln!(o, "    let plane = image * {oc}u + oc;");
        for p in (0..ph).step_by(2) {
            let (top, bottom) = if relu {
                (format!("max(a_{p}, vec4<f32>(0.0))"), format!("max(a_{}, vec4<f32>(0.0))", p + 1))
            } else {
                (format!("a_{p}"), format!("a_{}", p + 1))
            };
            let _ = writeln!(
                o,
                "    if (valid && y0 + {p}u < {oh}u) {{ let t = {top}; let u = {bottom};\n\
                 \x20       let y_at = (plane * {oh}u + y0 + {p}u) * {ow}u + x0;\n\
                 \x20       let p_at = (plane * {ph2}u + (y0 + {p}u) / 2u) * {pw2}u + x0 / 2u;\n\
                 \x20       pool_window(p_at, y_at, t.x, t.y, u.x, u.y);\n\
                 \x20       pool_window(p_at + 1u, y_at + 2u, t.z, t.w, u.z, u.w); }}",
                ph2 = oh / 2,
                pw2 = ow / 2,
            );
        }
    }
    o.push_str("    }\n}\n");
    out
}

/// WGSL writing one 2x2 window's maximum and the flat index into y of its argmax; ties go
/// to the first of (0,0), (0,1), (1,0), (1,1), as in shaders/pool.wgsl.
fn pool_fn(ow: u32) -> String {
    format!(
        "fn pool_window(i: u32, top_left: u32, v00: f32, v01: f32, v10: f32, v11: f32) {{\n\
         \x20   var best = top_left;\n\
         \x20   var best_v = v00;\n\
         \x20   best = select(best, top_left + 1u, v01 > best_v); best_v = select(best_v, v01, v01 > best_v);\n\
         \x20   best = select(best, top_left + {ow}u, v10 > best_v); best_v = select(best_v, v10, v10 > best_v);\n\
         \x20   best = select(best, top_left + {ow1}u, v11 > best_v); best_v = select(best_v, v11, v11 > best_v);\n\
         \x20   pooled[i] = best_v;\n\
         \x20   argmax[i] = best;\n\
         }}\n\n",
        ow1 = ow + 1,
    )
}

/// Errors unless an image of `s` is whole u32 words of packed bytes (what the
/// [`InputFormat::Bytes`] kernels index).
fn require_whole_words(op: &'static str, s: ConvShape) -> Result<()> {
    if !(s.c * s.h * s.w).is_multiple_of(4) {
        let what = format!("images of {} bytes are not whole u32 words", s.c * s.h * s.w);
        return Err(Error::ShapeMismatch { op, what });
    }
    Ok(())
}

/// Points a forward made by [`ConvDirect::conv_forward_direct_from_bytes`] for `n` images at
/// the batch starting at position `first` of its sample order, for the next submission.
pub fn set_first_sample(gpu: &Gpu, forward: &Dispatch, n: u32, first: u32) {
    gpu.queue.write_buffer(&forward.uniform, 0, bytemuck::cast_slice(&[n, first, 0, 0]));
}

/// Whether [`input_grad_source`] can compute this convolution's input gradient: as
/// [`supports`], and the K-1 zero padding a multiple of 4 (a vec4 of dy is then entirely
/// inside or outside the image).
pub fn supports_input_grad(s: ConvShape) -> bool {
    supports(s) && (s.kh - 1).is_multiple_of(4)
}

/// Output rows per invocation of the input gradient (blocks of PH x 4 dx pixels). conv2's
/// at batch 100 on lavapipe (probe, best of 15): 1 row 1.97 ms, 2 rows 1.46, 3 rows 1.51,
/// 4 rows 1.60, 6 rows 1.52, 12 rows 2.02 (its 72 accumulators no longer fit).
fn input_grad_block_rows(s: ConvShape) -> u32 {
    2.min(s.h)
}

/// The WGSL source of dx (N,C,H,W) = dy (N,OC,OH,OW) correlated with the flipped weights,
/// padded by K-1: dx[c, y, x] = Σ dy[o, y - ky, x - kx] · w[o, c, ky, kx]. The loop runs
/// over dy's channels (16 for conv2; unrolled, the source took 100 s to compile), and
/// each iteration updates every dx channel's accumulators.
pub fn input_grad_source(s: ConvShape, sharing: LoadSharing) -> String {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let pad = (k - 1) as i32;
    let ph = input_grad_block_rows(s);
    let vec4s_per_row = vec4s_per_window_row(k);

    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "// Generated by src/kernels/conv_direct.rs: input gradient of {s:?}:");
    let _ = writeln!(o, "// dy ({oc},{oh},{ow}) padded by {pad} -> dx ({c},{h},{w}), {ph}x4 pixels per invocation.");
    let _ = write!(
        o,
        "{BATCH_STRUCT}\
         @group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;\n\
         @group(0) @binding(1) var<uniform> w: array<vec4<f32>, {w4}>;\n\
         @group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;\n\
         @group(0) @binding(3) var<uniform> s: Batch;\n\n\
         {weight_fns}\
         // dy vec4 at row y, columns x..x+3 (x a multiple of 4) of the plane at `base`; 0 outside.\n\
         fn dy_at(base: u32, y: i32, x: i32) -> vec4<f32> {{\n\
         \x20   let inside = y >= 0 && y < {oh} && x >= 0 && x < {ow};\n\
         \x20   let at = base + u32(clamp(y, 0, {ymax})) * {row4}u + u32(clamp(x, 0, {xmax})) / 4u;\n\
         \x20   return select(vec4<f32>(0.0), dy[at], inside);\n\
         }}\n\n\
         {entry}\
         \x20   // Signed: the padded rows and columns start at -(K-1).\n\
         \x20   let y0 = i32(block_row) * {ph};\n\
         \x20   let x0 = i32(block_col) * 4;\n\
         \x20   let dy_image = image * {dy_plane4}u;\n\
         \x20   let dx_image = image * {dx_plane4}u;\n",
        w4 = uniform_weights_len(s) / 4,
        entry =
            block_entry(CONV_INPUT_GRAD_DIRECT, BlockOrder::ImageGroups, sharing, blocks_per_image(h, w, ph), w / 4),
        weight_fns = sharing.functions(),
        ymax = oh - 1,
        row4 = ow / 4,
        xmax = ow - 4,
        dy_plane4 = oc * oh * ow / 4,
        dx_plane4 = c * h * w / 4,
    );
    for ci in 0..c {
        for p in 0..ph {
            let _ = writeln!(o, "    var a_{ci}_{p} = vec4<f32>(0.0);");
        }
    }
    let _ = writeln!(o, "    for (var o = 0u; o < {oc}u; o++) {{");
    let _ = writeln!(o, "    let plane = dy_image + o * {}u;", oh * ow / 4);
    let _ = writeln!(o, "    let wo = o * {}u;", c * k * k);
    o.push_str(&sharing.chunk_loads(c * k * k, uniform_weights_len(s)));
    // Window row r reads dy row y0 + r - pad. Rows outside dy are zero padding; which ones
    // depends only on the block row, so one code path per pattern of rows inside, chosen
    // by a branch that is uniform across a SIMD group (`BlockOrder::ImageGroups`), leaves
    // out their loads and FMAs: a third of both for conv2.
    let rows = ph + k - 1;
    let mut paths: Vec<(Vec<u32>, Vec<bool>)> = Vec::new();
    for block_row in 0..h.div_ceil(ph) {
        let inside: Vec<bool> = (0..rows)
            .map(|r| {
                let y = (block_row * ph + r) as i32 - pad;
                y >= 0 && y < oh as i32
            })
            .collect();
        match paths.iter_mut().find(|(_, rows_inside)| *rows_inside == inside) {
            Some((block_rows, _)) => block_rows.push(block_row),
            None => paths.push((vec![block_row], inside)),
        }
    }
    for (i, (block_rows, inside)) in paths.iter().enumerate() {
        let test: Vec<String> = block_rows.iter().map(|b| format!("block_row == {b}u")).collect();
        let keyword = if i == 0 { "    if" } else { " else if" };
        let _ = writeln!(o, "{keyword} ({}) {{", test.join(" || "));
        for r in (0..rows).filter(|&r| inside[r as usize]) {
            for q in 0..vec4s_per_row {
                let _ = writeln!(
                    o,
                    "    let r_{r}_{q} = dy_at(plane, y0 + {}, x0 + {});",
                    r as i32 - pad,
                    4 * q as i32 - pad
                );
            }
            for kx in 0..k {
                let _ = writeln!(o, "    let x_{r}_{kx} = {};", window(&format!("r_{r}"), kx));
            }
        }
        // Tap (ty, tx) of the padded correlation is weight (o, ci, K-1-ty, K-1-tx).
        for ci in 0..c {
            for ty in 0..k {
                let used: Vec<u32> = (0..ph).filter(|&p| inside[(p + ty) as usize]).collect();
                if used.is_empty() {
                    continue;
                }
                for tx in 0..k {
                    let t = sharing.weight((ci * k + (k - 1 - ty)) * k + (k - 1 - tx));
                    let _ = write!(o, "    {{ let t = {t};");
                    for &p in &used {
                        let _ = write!(o, " a_{ci}_{p} = fma(t, x_{}_{tx}, a_{ci}_{p});", p + ty);
                    }
                    o.push_str(" }\n");
                }
            }
        }
        o.push_str("    }");
    }
    o.push('\n');
    o.push_str("    }\n");
    for ci in 0..c {
        for p in 0..ph {
            let _ = writeln!(
                o,
                "    if (valid && y0 + {p} < {h}) {{ dx[dx_image + {plane}u + u32(y0 + {p}) * {row4}u + u32(x0) / 4u] = a_{ci}_{p}; }}",
                plane = ci * h * w / 4,
                row4 = w / 4,
            );
        }
    }
    o.push_str("}\n");
    out
}

/// Most multiply-adds per dy plane in the unrolled body of [`input_grad_by_image_source`]
/// (conv2: 64 dy pixels x 25 taps = 1600; it compiles in 1.4 s).
const MAX_PLANE_TAPS: u32 = 2048;

/// Most dx pixels per plane in [`input_grad_by_image_source`]: one accumulator each per lane.
const MAX_PLANE_PIXELS: u32 = 256;

/// Whether [`input_grad_by_image_source`] computes this input gradient: dy planes of whole
/// vec4s, and few enough pixels and multiply-adds per plane to unroll them all.
fn input_grad_by_image(s: ConvShape) -> bool {
    let (oh, ow) = (s.out_h(), s.out_w());
    (oh * ow).is_multiple_of(4) && oh * ow * s.kh * s.kw <= MAX_PLANE_TAPS && s.h * s.w <= MAX_PLANE_PIXELS
}

/// The input gradient on 8-wide subgroups for small planes (conv2's): one subgroup per
/// image and group of 8 input channels, lane = input channel, each lane accumulating its
/// whole dx plane. Every dy plane is then loaded once per image (2 vec4s a lane for conv2,
/// handed to all lanes by `subgroupBroadcast`), and with every position a literal, zero
/// padding costs nothing: only the multiply-adds whose dy pixel exists are written out
/// (conv2: 1600 of 3600 per plane). The block kernel ([`input_grad_source`]) loads each dy
/// row under every block that needs it, 9 times for conv2, and a storage load costs
/// lavapipe ~8 instructions per lane and component against ~2.5 for a multiply-add (a
/// uniform load, as of the weights here, is a branch-free gather, ~3 per lane). conv2 at
/// batch 100 on lavapipe (probe, best of 15): 1.46-1.50 -> 0.89-0.92 ms. A balanced tree
/// of each pixel's sum instead of a chain: no faster (0.91).
fn input_grad_by_image_source(s: ConvShape) -> String {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let quads = oh * ow / 4;
    let groups = c.div_ceil(8);
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "// Generated by src/kernels/conv_direct.rs: input gradient of {s:?},");
    let _ = writeln!(o, "// one workgroup of 8 per image and group of 8 input channels, lane = input channel.");
    let _ = write!(
        o,
        "{BATCH_STRUCT}\
         @group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;\n\
         @group(0) @binding(1) var<uniform> w: array<vec4<f32>, {w4}>;\n\
         @group(0) @binding(2) var<storage, read_write> dx: array<f32>;\n\
         @group(0) @binding(3) var<uniform> s: Batch;\n\n\
         {weight_fns}\
         @compute @workgroup_size(8)\n\
         fn {CONV_INPUT_GRAD_DIRECT}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20          @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {{\n\
         \x20   let group = wid.x + wid.y * nwg.x;\n\
         \x20   let image = min(group / {groups}u, s.n - 1u);\n\
         \x20   let channel = (group % {groups}u) * 8u + lid;\n\
         \x20   let valid = group / {groups}u < s.n && channel < {c}u;\n\
         \x20   let ci = min(channel, {cmax}u);\n",
        w4 = uniform_weights_len(s) / 4,
        weight_fns = LoadSharing::Subgroup8.functions(),
        cmax = c - 1,
    );
    for y in 0..h {
        for x in 0..w {
            let _ = writeln!(o, "    var a_{y}_{x} = 0.0;");
        }
    }
    let _ = writeln!(o, "    for (var o = 0u; o < {oc}u; o++) {{");
    let _ = writeln!(o, "    let plane = (image * {oc}u + o) * {quads}u;");
    for j in 0..quads.div_ceil(8) {
        let _ = writeln!(o, "    let mine_{j} = dy[plane + min({}u + lane, {}u)];", 8 * j, quads - 1);
    }
    for q in 0..quads {
        let _ = writeln!(o, "    let d_{q} = subgroupBroadcast(mine_{}, {}u);", q / 8, q % 8);
    }
    let _ = writeln!(o, "    let wo = o * {}u + ci * {}u;", c * k * k, k * k);
    for t in 0..k * k {
        let _ = writeln!(o, "    let t_{t} = weight_at(wo + {t}u);");
    }
    // dx[y, x] += dy[y - ky, x - kx] · w[ky, kx] wherever that dy pixel exists.
    for y in 0..h {
        for x in 0..w {
            let terms: Vec<String> = (0..k * k)
                .filter_map(|t| {
                    let (ky, kx) = (t / k, t % k);
                    let (dy_y, dy_x) = (y as i32 - ky as i32, x as i32 - kx as i32);
                    let inside = dy_y >= 0 && dy_y < oh as i32 && dy_x >= 0 && dy_x < ow as i32;
                    inside.then(|| {
                        let at = (dy_y as u32) * ow + dy_x as u32;
                        format!("t_{t} * d_{}.{}", at / 4, COMPONENT[(at % 4) as usize])
                    })
                })
                .collect();
            if !terms.is_empty() {
                let _ = writeln!(o, "    a_{y}_{x} += {};", terms.join(" + "));
            }
        }
    }
    o.push_str("    }\n");
    let _ = writeln!(o, "    let base = (image * {c}u + ci) * {}u;", h * w);
    for y in 0..h {
        for x in 0..w {
            let _ = writeln!(o, "    if (valid) {{ dx[base + {}u] = a_{y}_{x}; }}", y * w + x);
        }
    }
    o.push_str("}\n");
    out
}

/// Whether [`weight_grad_source`] can compute this convolution's weight gradient: as
/// [`supports`], with at most [`MAX_WEIGHT_GRAD_ACCUMULATORS`] taps.
pub fn supports_weight_grad(s: ConvShape) -> bool {
    supports(s) && s.kh * s.kw <= MAX_WEIGHT_GRAD_ACCUMULATORS
}

/// Accumulators per weight-gradient invocation: its output channels times K·K. LLVM's
/// compile time grows fast with them (conv2's 16 x 25 = 400: 25 s on a cold Mesa cache).
const MAX_WEIGHT_GRAD_ACCUMULATORS: u32 = 200;

/// Output channels per weight-gradient invocation.
fn weight_grad_channels(s: ConvShape) -> u32 {
    (MAX_WEIGHT_GRAD_ACCUMULATORS / (s.kh * s.kw)).clamp(1, s.oc)
}

/// The WGSL source of the weight gradient, in partial sums over images of
/// dW_n (OC, C, K, K) = Σ dy[n, o, oy, ox] · x[n, c, oy + ky, ox + kx], looping over
/// 4-pixel blocks of the output; each block's K input rows give every tap's window (the
/// im2col values) in registers, and each output channel's dy vec4 is dotted with all of
/// them. Replaces im2col + a GEMM per image.
pub fn weight_grad_source(s: ConvShape, sharing: LoadSharing) -> String {
    if weight_grad_by_image(s, sharing) {
        weight_grad_by_image_source(s, DyFrom::Dy, InputFormat::F32)
    } else {
        weight_grad_per_invocation_source(s)
    }
}

/// Accumulators per lane of [`weight_grad_by_image_source`]: ⌈OC/8⌉·C·K·K (conv2: 2·6·25 =
/// 300, conv1 25). Past this the shader, and LLVM's time to compile it, grow too large, and
/// the per-invocation kernel (at most [`MAX_WEIGHT_GRAD_ACCUMULATORS`]) takes the shape.
const MAX_BY_IMAGE_ACCUMULATORS: u32 = 600;

/// Whether the weight gradient of `s` runs [`weight_grad_by_image_source`] (8-wide
/// subgroups, and few enough accumulators per lane) rather than the per-invocation kernel.
fn weight_grad_by_image(s: ConvShape, sharing: LoadSharing) -> bool {
    sharing == LoadSharing::Subgroup8 && s.oc.div_ceil(8) * s.c * s.kh * s.kw <= MAX_BY_IMAGE_ACCUMULATORS
}

/// Where the weight gradient reads dy, the gradient of the convolution's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DyFrom {
    /// dy itself, (N, OC, OH, OW).
    Dy,
    /// Through the ReLU and 2x2 max-pool that follow the convolution: the pool's output
    /// gradient at its argmax where the pool's output is > 0, 0 elsewhere — what
    /// `maxpool2x2_relu_backward` writes, read from its inputs instead. When nothing else
    /// needs dy (conv1: the input gradient is not wanted) that kernel is not run at all:
    /// on lavapipe it took 1.4 ms of a 19 ms step, batch 100.
    Pool,
}

/// Whether [`weight_grad_through_pool_source`] applies: the by-image weight gradient's
/// shapes whose output the forward can pool.
pub fn supports_weight_grad_through_pool(s: ConvShape) -> bool {
    supports_weight_grad(s) && supports_pool(s) && weight_grad_by_image(s, LoadSharing::Subgroup8)
}

/// The WGSL source of the weight gradient with dy read through the pool ([`DyFrom::Pool`]);
/// 8-wide subgroups only. Bindings: x, dpool, dw, db, batch, argmax, pooled, and for
/// [`InputFormat::Bytes`] the sample order.
pub fn weight_grad_through_pool_source(s: ConvShape, input: InputFormat) -> String {
    weight_grad_by_image_source(s, DyFrom::Pool, input)
}

/// WGSL for the input binding of a generated kernel: f32 vec4s, or a dataset's packed bytes
/// with the sample order at binding `order_binding` and `pixels` to unpack a word.
fn input_bindings(input: InputFormat, order_binding: u32) -> String {
    match input {
        InputFormat::F32 => "@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;\n".to_string(),
        InputFormat::Bytes => format!(
            "@group(0) @binding(0) var<storage, read> x: array<u32>;\n\
             @group(0) @binding({order_binding}) var<storage, read> order: array<u32>;\n\
             // 4 pixels from their bytes, as gather_batch converts them.\n\
             fn pixels(word: u32) -> vec4<f32> {{\n\
             \x20   return vec4<f32>((vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu)) / 255.0;\n\
             }}\n"
        ),
    }
}

/// The WGSL expression for where batch image `image` starts in x, in vec4s (words for bytes).
fn input_image(input: InputFormat) -> &'static str {
    match input {
        InputFormat::F32 => "image",
        InputFormat::Bytes => "order[s.first + image]",
    }
}

/// The WGSL function that turns a loaded element of x into 4 pixels ("" for f32).
fn input_unpack(input: InputFormat) -> &'static str {
    match input {
        InputFormat::F32 => "",
        InputFormat::Bytes => "pixels",
    }
}

/// Images summed by one subgroup of [`weight_grad_by_image_source`]: fewer partial sums
/// to add up afterwards, and still 25 subgroups for 2 cores at batch 100.
const IMAGES_PER_SUBGROUP: u32 = 4;

/// [`weight_grad_source`] with one subgroup of 8 per [`IMAGES_PER_SUBGROUP`] images (one
/// after the other): lane l accumulates output channels l, l + 8, … for every input
/// channel. Per block the C·K input rows are loaded once between the 8 lanes (each lane a
/// few vec4s) and handed to all by `subgroupBroadcast`, instead of once per (channel,
/// group of output channels) as in the per-invocation kernel: conv2 on lavapipe, batch
/// 100, 2.1-4.2 -> 0.9-1.0 ms, conv1 1.3 -> 0.7 ms (probe, one image per subgroup).
fn weight_grad_by_image_source(s: ConvShape, dy_from: DyFrom, input: InputFormat) -> String {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let blocks_x = ow / 4;
    let vec4s_per_row = vec4s_per_window_row(k);
    let taps = k * k;
    // A block is one output row of 4 pixels, or two (one row of 2x2 pool windows) when dy
    // comes through the pool.
    let out_rows = match dy_from {
        DyFrom::Dy => 1,
        DyFrom::Pool => 2,
    };
    let rows = k + out_rows - 1;
    let block_vec4s = c * rows * vec4s_per_row;
    let per_lane = block_vec4s.div_ceil(8);
    let channels_per_lane = oc.div_ceil(8);
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "// Generated by src/kernels/conv_direct.rs: weight gradient of {s:?}, dy from {dy_from:?},");
    let _ = writeln!(o, "// one subgroup of 8 per {IMAGES_PER_SUBGROUP} images, lane l: output channels l, l + 8, ...");
    let dy_bindings = match dy_from {
        DyFrom::Dy => "@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;\n".to_string(),
        // Two windows per load: the pool's output gradient, its argmax (flat indices into
        // y) and its output (the ReLU's mask: a window whose maximum is 0 passes nothing).
        DyFrom::Pool => "@group(0) @binding(1) var<storage, read> dpool: array<vec2<f32>>;\n\
             @group(0) @binding(5) var<storage, read> argmax: array<vec2<u32>>;\n\
             @group(0) @binding(6) var<storage, read> pooled: array<vec2<f32>>;\n"
            .to_string(),
    };
    let _ = write!(
        o,
        "{BATCH_STRUCT}\
         {x_binding}\
         {dy_bindings}\
         @group(0) @binding(2) var<storage, read_write> dw: array<f32>;\n\
         // The bias gradient comes free with dy's loads: Σ dy per output channel.\n\
         @group(0) @binding(3) var<storage, read_write> db: array<f32>;\n\
         @group(0) @binding(4) var<uniform> s: Batch;\n\n\
         @compute @workgroup_size(8)\n\
         fn {CONV_WEIGHT_GRAD_DIRECT}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20                  @builtin(subgroup_invocation_id) lane: u32) {{\n\
         \x20   let group = wid.x + wid.y * nwg.x;\n\
         \x20   let valid = group * {IMAGES_PER_SUBGROUP}u < s.n;\n",
        // After the uniform (4): argmax and pooled (5, 6) through the pool, then the order.
        x_binding = input_bindings(input, if dy_from == DyFrom::Pool { 7 } else { 5 }),
    );
    // Lane l loads the block's vec4s l, l + 8, …: vec4 v is (channel, row, column) =
    // (v / (R·V), (v / V) % R, v % V) for R rows of V vec4s (the last lanes repeat the last).
    for m in 0..per_lane {
        let _ = writeln!(
            o,
            "    let v_{m} = min(lane + {}u, {}u);\n\
             \x20   let row_{m} = (v_{m} / {cv}u) * {plane4}u + ((v_{m} / {vec4s_per_row}u) % {rows}u) * {row4}u;\n\
             \x20   let column_{m} = v_{m} % {vec4s_per_row}u;",
            8 * m,
            block_vec4s - 1,
            cv = rows * vec4s_per_row,
            plane4 = h * w / 4,
            row4 = w / 4,
        );
    }
    for j in 0..channels_per_lane {
        let _ = writeln!(o, "    var bias_{j} = 0.0;");
        for ci in 0..c {
            for t in 0..taps {
                let _ = writeln!(o, "    var a_{j}_{ci}_{t} = 0.0;");
            }
        }
    }
    // The same image for all lanes: the branch is uniform across the subgroup.
    let _ = writeln!(o, "    for (var i = 0u; i < {IMAGES_PER_SUBGROUP}u; i++) {{");
    let _ = writeln!(o, "    let image = group * {IMAGES_PER_SUBGROUP}u + i;");
    let _ = writeln!(o, "    if (image < s.n) {{");
    let _ = writeln!(o, "    let x_image = {} * {}u;", input_image(input), c * h * w / 4);
    match dy_from {
        DyFrom::Dy => {
            let _ = writeln!(o, "    let dy_image = image * {}u;", oc * oh * ow / 4);
        }
        DyFrom::Pool => {
            let _ = writeln!(o, "    let pool_image = image * {}u;", oc * oh * ow / 8);
        }
    }
    let _ = writeln!(o, "    for (var b = 0u; b < {}u; b++) {{", oh / out_rows * blocks_x);
    let _ = writeln!(o, "    let oy = {out_rows}u * (b / {blocks_x}u);");
    let _ = writeln!(o, "    let q0 = b % {blocks_x}u;");
    for m in 0..per_lane {
        let _ = writeln!(
            o,
            "    let l_{m} = x[x_image + row_{m} + oy * {row4}u + min(q0 + column_{m}, {qmax}u)];",
            row4 = w / 4,
            qmax = w / 4 - 1,
        );
    }
    // Bytes are broadcast as their u32 words, a quarter of the lanes' traffic.
    let unpack = input_unpack(input);
    for ci in 0..c {
        for row in 0..rows {
            for q in 0..vec4s_per_row {
                let v = (ci * rows + row) * vec4s_per_row + q;
                let _ = writeln!(o, "    let r_{ci}_{row}_{q} = {unpack}(subgroupBroadcast(l_{}, {}u));", v / 8, v % 8);
            }
        }
    }
    // dy of each output row of the block for the lane's channels: g_{j}_{r}.
    for j in 0..channels_per_lane {
        match dy_from {
            DyFrom::Dy => {
                let _ = writeln!(
                    o,
                    "    let g_{j}_0 = dy[dy_image + min(lane + {}u, {}u) * {plane}u + oy * {row4}u + q0];\n\
                     \x20   bias_{j} += dot(g_{j}_0, vec4<f32>(1.0));",
                    8 * j,
                    oc - 1,
                    plane = oh * ow / 4,
                    row4 = ow / 4
                );
            }
            DyFrom::Pool => {
                // Window 0 covers the block's columns 0-1, window 1 columns 2-3; `d` is
                // the argmax's offset from the block's top-left pixel.
                let _ = writeln!(
                    o,
                    "    let ch_{j} = min(lane + {j8}u, {ocm}u);\n\
                     \x20   let at_{j} = pool_image + ch_{j} * {pplane}u + (oy / 2u) * {blocks_x}u + q0;\n\
                     \x20   let p_{j} = pooled[at_{j}];\n\
                     \x20   let dp_{j} = select(vec2<f32>(0.0), dpool[at_{j}], p_{j} > vec2<f32>(0.0));\n\
                     \x20   let d_{j} = argmax[at_{j}] - vec2<u32>(((image * {oc}u + ch_{j}) * {oh}u + oy) * {ow}u + 4u * q0);\n\
                     \x20   let g_{j}_0 = select(vec4<f32>(0.0), dp_{j}.xxyy, d_{j}.xxyy == vec4<u32>(0u, 1u, 2u, 3u));\n\
                     \x20   let g_{j}_1 = select(vec4<f32>(0.0), dp_{j}.xxyy, d_{j}.xxyy == vec4<u32>({ow}u, {ow1}u, {ow2}u, {ow3}u));\n\
                     \x20   bias_{j} += dp_{j}.x + dp_{j}.y;",
                    j8 = 8 * j,
                    ocm = oc - 1,
                    pplane = oh * ow / 8,
                    ow1 = ow + 1,
                    ow2 = ow + 2,
                    ow3 = ow + 3,
                );
            }
        }
    }
    // One output row at a time: its windows (the im2col values) dotted with its dy.
    for r in 0..out_rows {
        for ci in 0..c {
            for ky in 0..k {
                for kx in 0..k {
                    let _ = writeln!(
                        o,
                        "    let x_{r}_{ci}_{} = {};",
                        ky * k + kx,
                        window(&format!("r_{ci}_{}", ky + r), kx)
                    );
                }
            }
        }
        for j in 0..channels_per_lane {
            for ci in 0..c {
                o.push_str("   ");
                for t in 0..taps {
                    let _ = write!(o, " a_{j}_{ci}_{t} += dot(g_{j}_{r}, x_{r}_{ci}_{t});");
                }
                o.push('\n');
            }
        }
    }
    o.push_str("    }\n    }\n    }\n");
    // This group's partial sum of dW_n (OC, C, K, K): the lane's output channels.
    for j in 0..channels_per_lane {
        let _ = writeln!(
            o,
            "    if (valid && lane + {j8}u < {oc}u) {{ db[group * {oc}u + lane + {j8}u] = bias_{j};\n\
             \x20     let base = (group * {oc}u + lane + {j8}u) * {per_oc}u;",
            j8 = 8 * j,
            per_oc = c * taps
        );
        for ci in 0..c {
            o.push_str("     ");
            for t in 0..taps {
                let _ = write!(o, " dw[base + {}u] = a_{j}_{ci}_{t};", ci * taps + t);
            }
            o.push('\n');
        }
        o.push_str("    }\n");
    }
    o.push_str("}\n");
    out
}

/// [`weight_grad_source`] with invocations that share nothing: one per (image, input
/// channel, group of [`weight_grad_channels`] output channels).
fn weight_grad_per_invocation_source(s: ConvShape) -> String {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let blocks_x = ow / 4;
    let vec4s_per_row = vec4s_per_window_row(k);
    let taps = k * k;
    let og = weight_grad_channels(s);
    let groups = oc.div_ceil(og);
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "// Generated by src/kernels/conv_direct.rs: weight gradient of {s:?},");
    let _ = writeln!(o, "// {og} output channels per invocation.");
    let _ = write!(
        o,
        "{BATCH_STRUCT}\
         @group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;\n\
         @group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;\n\
         @group(0) @binding(2) var<storage, read_write> dw: array<f32>;\n\
         @group(0) @binding(3) var<uniform> s: Batch;\n\n\
         // 8 invocations per workgroup: there are only N·C of them (conv1: 100), and lavapipe\n\
         // runs a workgroup on one thread.\n\
         @compute @workgroup_size(8)\n\
         fn {CONV_WEIGHT_GRAD_DIRECT}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20                  @builtin(local_invocation_index) lid: u32) {{\n\
         \x20   let id = (wid.x + wid.y * nwg.x) * 8u + lid;\n\
         \x20   let total = s.n * {per_image}u;\n\
         \x20   let valid = id < total;\n\
         \x20   let clamped = min(id, total - 1u);\n\
         \x20   let image = clamped / {per_image}u;\n\
         \x20   let channel = (clamped % {per_image}u) / {groups}u;\n\
         \x20   let o0 = (clamped % {groups}u) * {og}u;\n\
         \x20   let x_plane = (image * {c}u + channel) * {x_plane4}u;\n\
         \x20   let dy_image = image * {dy_image4}u;\n",
        x_plane4 = h * w / 4,
        dy_image4 = oc * oh * ow / 4,
        per_image = c * groups,
    );
    for oi in 0..og {
        for t in 0..taps {
            let _ = writeln!(o, "    var a_{oi}_{t} = 0.0;");
        }
    }
    let _ = writeln!(o, "    for (var b = 0u; b < {}u; b++) {{", oh * blocks_x);
    let _ = writeln!(o, "    let oy = b / {blocks_x}u;");
    let _ = writeln!(o, "    let q0 = b % {blocks_x}u;");
    for ky in 0..k {
        for q in 0..vec4s_per_row {
            let _ = writeln!(
                o,
                "    let r_{ky}_{q} = x[x_plane + (oy + {ky}u) * {row4}u + min(q0 + {q}u, {qmax}u)];",
                row4 = w / 4,
                qmax = w / 4 - 1,
            );
        }
        for kx in 0..k {
            let _ = writeln!(o, "    let x_{} = {};", ky * k + kx, window(&format!("r_{ky}"), kx));
        }
    }
    for oi in 0..og {
        let _ = write!(
            o,
            "    {{ let g = dy[dy_image + min(o0 + {oi}u, {omax}u) * {plane}u + oy * {row4}u + q0];",
            omax = oc - 1,
            plane = oh * ow / 4,
            row4 = ow / 4
        );
        for t in 0..taps {
            let _ = write!(o, " a_{oi}_{t} += dot(g, x_{t});");
        }
        o.push_str(" }\n");
    }
    o.push_str("    }\n");
    // dW_n (OC, C, K, K): this invocation's channel of every output channel.
    let _ = writeln!(o, "    let base = (image * {oc}u + o0) * {}u + channel * {taps}u;", c * taps);
    for oi in 0..og {
        let _ = write!(o, "    if (valid && o0 + {oi}u < {oc}u) {{");
        for t in 0..taps {
            let _ = write!(o, " dw[base + {}u] = a_{oi}_{t};", oi * c * taps + t);
        }
        o.push_str(" }\n");
    }
    o.push_str("}\n");
    out
}

/// The weights as the kernels' uniform binding reads them: whole vec4s, so the view is
/// extended to a multiple of 4 elements (the parameters' 64-element tensor alignment leaves
/// room; the extra values are never used). At most `MAX_TAPS` floats: 16 KiB, inside
/// WebGPU's guaranteed 64 KiB uniform binding.
fn weights_view<'a>(op: &'static str, s: ConvShape, w: View<'a>) -> Result<View<'a>> {
    w.require(op, "w", s.w_len())?;
    let len = uniform_weights_len(s);
    if w.offset + len > w.buffer.size() / 4 {
        let what = format!("weights must be readable up to {len} elements (whole vec4s) from offset {}", w.offset);
        return Err(Error::ShapeMismatch { op, what });
    }
    Ok(View { buffer: w.buffer, offset: w.offset, len })
}

/// Host side of the generated kernels; pipelines are cached by the `Gpu` per source.
pub struct ConvDirect {
    pub sharing: LoadSharing,
}

impl ConvDirect {
    /// The kernels as this device runs them best.
    pub fn new(gpu: &Gpu) -> Self {
        ConvDirect { sharing: LoadSharing::for_device(gpu) }
    }

    /// y (N,OC,OH,OW) = x (N,C,H,W) ⋆ w + bias [ReLU]; with `pool` = (pooled, argmax), also
    /// y's 2x2 max-pool (N,OC,OH/2,OW/2) and its argmax, as `maxpool2x2_forward` writes
    /// them. y is stored only if given (one of y and `pool` must be). `w` is bound as a uniform buffer, so it must start on a 256-byte boundary (as
    /// every parameter tensor does).
    #[allow(clippy::too_many_arguments)]
    pub fn conv_forward_direct(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        relu: bool,
        x: View,
        w: View,
        bias: View,
        y: Option<View>,
        pool: Option<(View, View)>,
    ) -> Result<Dispatch> {
        x.require(CONV_FORWARD_DIRECT, "x", s.x_len())?;
        self.forward(gpu, s, relu, x, None, w, bias, y, pool)
    }

    /// The forward from f32 `x`, or from packed bytes through `order`.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        relu: bool,
        x: View,
        order: Option<View>,
        w: View,
        bias: View,
        y: Option<View>,
        pool: Option<(View, View)>,
    ) -> Result<Dispatch> {
        let op = CONV_FORWARD_DIRECT;
        if !supports(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?}") });
        }
        if y.is_none() && pool.is_none() {
            return Err(Error::ShapeMismatch { op, what: "neither y nor the pool is written".into() });
        }
        bias.require(op, "bias", s.oc as u64)?;
        let w = weights_view(op, s, w)?;
        let mut views = vec![x, w, bias];
        if let Some(y) = y {
            y.require(op, "y", s.y_len())?;
            views.push(y);
        }
        if let Some((pooled, argmax)) = pool {
            if !supports_pool(s) {
                return Err(Error::ShapeMismatch { op, what: format!("cannot pool {s:?} (odd output height)") });
            }
            let pool_len = s.y_len() / 4;
            pooled.require(op, "pooled", pool_len)?;
            argmax.require(op, "argmax", pool_len)?;
            views.extend([pooled, argmax]);
        }
        let blocks = invocations(BlockOrder::ByImage, s.n, blocks_per_image(s.out_h(), s.out_w(), block_rows(s)));
        let input = if order.is_some() { InputFormat::Bytes } else { InputFormat::F32 };
        let label = format!("{op}[relu {relu}, y {}, pool {}, {input:?}]", y.is_some(), pool.is_some());
        let source = source(s, relu, y.is_some(), pool.is_some(), self.sharing, input);
        let pipeline = gpu.generated_pipeline(&label, source, op)?;
        // The uniform goes after the other views; the order, if any, after it.
        let at = views.len();
        views.extend(order);
        Ok(prepare_with_uniform_at(gpu, &pipeline, &label, &views, at, &[s.n, 0, 0, 0], block_grid(blocks)))
    }

    /// As [`ConvDirect::conv_forward_direct`] with the pool and without y, reading the
    /// batch from a dataset's packed bytes ([`InputFormat::Bytes`]): `images` holds the
    /// dataset (C·H·W bytes an image, 4 to a u32), and batch image n is image
    /// `order[first + n]`, `first` being set by [`set_first_sample`] before each submission.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_forward_direct_from_bytes(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        relu: bool,
        images: View,
        order: View,
        w: View,
        bias: View,
        pool: (View, View),
    ) -> Result<Dispatch> {
        require_whole_words(CONV_FORWARD_DIRECT, s)?;
        order.require(CONV_FORWARD_DIRECT, "order", s.n as u64)?;
        self.forward(gpu, s, relu, images, Some(order), w, bias, None, Some(pool))
    }

    /// dx (N,C,H,W) = the input gradient of the convolution for dy (N,OC,OH,OW);
    /// overwritten. `w` as for [`ConvDirect::conv_forward_direct`]. Small planes on 8-wide
    /// subgroups by image (`input_grad_by_image_source`), others by blocks of dx.
    pub fn conv_input_grad_direct(&self, gpu: &Gpu, s: ConvShape, dy: View, w: View, dx: View) -> Result<Dispatch> {
        let op = CONV_INPUT_GRAD_DIRECT;
        if !supports_input_grad(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?}") });
        }
        dy.require(op, "dy", s.y_len())?;
        dx.require(op, "dx", s.x_len())?;
        let w = weights_view(op, s, w)?;
        let by_image = self.sharing == LoadSharing::Subgroup8 && input_grad_by_image(s);
        let (source, grid) = if by_image {
            (input_grad_by_image_source(s), crate::gpu::grid(s.n * s.c.div_ceil(8)))
        } else {
            let blocks =
                invocations(BlockOrder::ImageGroups, s.n, blocks_per_image(s.h, s.w, input_grad_block_rows(s)));
            (input_grad_source(s, self.sharing), block_grid(blocks))
        };
        let pipeline = gpu.generated_pipeline(op, source, op)?;
        Ok(prepare(gpu, &pipeline, op, &[dy, w, dx], &[s.n, 0, 0, 0], grid))
    }

    /// How many partial weight gradients [`ConvDirect::conv_weight_grad_direct`] writes for
    /// `s`: one per [`IMAGES_PER_SUBGROUP`] images where the by-image kernel runs (8-wide
    /// subgroups, not too many accumulators), else one per image.
    pub fn weight_grad_partials(&self, s: ConvShape) -> u32 {
        if weight_grad_by_image(s, self.sharing) {
            s.n.div_ceil(IMAGES_PER_SUBGROUP)
        } else {
            s.n
        }
    }

    /// Whether [`ConvDirect::conv_weight_grad_direct`] also writes the bias gradient's
    /// partials for `s` (and so needs `db`): where the by-image kernel runs.
    pub fn writes_bias_grad(&self, s: ConvShape) -> bool {
        weight_grad_by_image(s, self.sharing)
    }

    /// Whether [`ConvDirect::conv_weight_grad_through_pool`] can compute `s` on this
    /// device: 8-wide subgroups and a shape [`supports_weight_grad_through_pool`].
    pub fn reads_dy_through_pool(&self, s: ConvShape) -> bool {
        self.sharing == LoadSharing::Subgroup8 && supports_weight_grad_through_pool(s)
    }

    /// dw (P, OC, C, KH, KW), P = [`ConvDirect::weight_grad_partials`]: the weight
    /// gradient for dy (N,OC,OH,OW) and the conv's input x (N,C,H,W), partial p summed over
    /// images p·⌈N/P⌉ .. (p+1)·⌈N/P⌉ (the last partial may have fewer), overwritten; the
    /// caller sums the P partials. Where [`ConvDirect::writes_bias_grad`], `db` (P, OC)
    /// gets the bias gradient's partials (Σ dy) the same way; elsewhere it must be `None`.
    pub fn conv_weight_grad_direct(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        x: View,
        dy: View,
        dw: View,
        db: Option<View>,
    ) -> Result<Dispatch> {
        let op = CONV_WEIGHT_GRAD_DIRECT;
        if !supports_weight_grad(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?}") });
        }
        dy.require(op, "dy", s.y_len())?;
        x.require(op, "x", s.x_len())?;
        let source = weight_grad_source(s, self.sharing);
        self.weight_grad_dispatch(gpu, s, source, x, dy, &[], dw, db)
    }

    /// [`ConvDirect::conv_weight_grad_direct`] with dy read through the ReLU and 2x2
    /// max-pool that follow the convolution ([`DyFrom::Pool`]): from the pool's output
    /// gradient `dpool`, `argmax` and output `pooled`, each (N, OC, OH/2, OW/2). Needs
    /// 8-wide subgroups ([`LoadSharing::Subgroup8`]).
    #[allow(clippy::too_many_arguments)]
    pub fn conv_weight_grad_through_pool(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        x: View,
        dpool: View,
        argmax: View,
        pooled: View,
        dw: View,
        db: View,
    ) -> Result<Dispatch> {
        x.require(CONV_WEIGHT_GRAD_DIRECT, "x", s.x_len())?;
        self.weight_grad_through_pool(gpu, s, x, None, dpool, argmax, pooled, dw, db)
    }

    /// As [`ConvDirect::conv_weight_grad_through_pool`], reading x from a dataset's packed
    /// bytes as [`ConvDirect::conv_forward_direct_from_bytes`] does (`first` set by
    /// [`set_first_sample`]).
    #[allow(clippy::too_many_arguments)]
    pub fn conv_weight_grad_through_pool_from_bytes(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        images: View,
        order: View,
        dpool: View,
        argmax: View,
        pooled: View,
        dw: View,
        db: View,
    ) -> Result<Dispatch> {
        require_whole_words(CONV_WEIGHT_GRAD_DIRECT, s)?;
        order.require(CONV_WEIGHT_GRAD_DIRECT, "order", s.n as u64)?;
        self.weight_grad_through_pool(gpu, s, images, Some(order), dpool, argmax, pooled, dw, db)
    }

    /// The through-pool weight gradient from f32 `x`, or from packed bytes through `order`.
    #[allow(clippy::too_many_arguments)]
    fn weight_grad_through_pool<'a>(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        x: View<'a>,
        order: Option<View<'a>>,
        dpool: View<'a>,
        argmax: View<'a>,
        pooled: View<'a>,
        dw: View<'a>,
        db: View<'a>,
    ) -> Result<Dispatch> {
        let op = CONV_WEIGHT_GRAD_DIRECT;
        if !self.reads_dy_through_pool(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot read dy through the pool for {s:?}") });
        }
        let pooled_len = s.y_len() / 4;
        dpool.require(op, "dpool", pooled_len)?;
        argmax.require(op, "argmax", pooled_len)?;
        pooled.require(op, "pooled", pooled_len)?;
        let input = if order.is_some() { InputFormat::Bytes } else { InputFormat::F32 };
        let source = weight_grad_through_pool_source(s, input);
        let after_uniform: Vec<View> = [argmax, pooled].into_iter().chain(order).collect();
        self.weight_grad_dispatch(gpu, s, source, x, dpool, &after_uniform, dw, Some(db))
    }

    /// Checks dw and db and binds x, `dy` (or dpool), dw, db, the batch uniform, then
    /// `after_uniform` (argmax and pooled at bindings 5 and 6, then the order for bytes).
    #[allow(clippy::too_many_arguments)]
    fn weight_grad_dispatch<'a>(
        &self,
        gpu: &Gpu,
        s: ConvShape,
        source: String,
        x: View<'a>,
        dy: View<'a>,
        after_uniform: &[View<'a>],
        dw: View<'a>,
        db: Option<View<'a>>,
    ) -> Result<Dispatch> {
        let op = CONV_WEIGHT_GRAD_DIRECT;
        dw.require(op, "dw", self.weight_grad_partials(s) as u64 * s.w_len())?;
        let mut views = vec![x, dy, dw];
        match (db, self.writes_bias_grad(s)) {
            (Some(db), true) => {
                db.require(op, "db", self.weight_grad_partials(s) as u64 * s.oc as u64)?;
                views.push(db);
            }
            (None, false) => {}
            (Some(_), false) => {
                return Err(Error::ShapeMismatch { op, what: "no bias gradient here: db must be None".into() })
            }
            (None, true) => return Err(Error::ShapeMismatch { op, what: "db (the bias gradient) is required".into() }),
        }
        let uniform_at = views.len();
        views.extend_from_slice(after_uniform);
        let pipeline = gpu.generated_pipeline(op, source, op)?;
        let groups = if weight_grad_by_image(s, self.sharing) {
            self.weight_grad_partials(s)
        } else {
            (s.n * s.c * s.oc.div_ceil(weight_grad_channels(s))).div_ceil(8)
        };
        Ok(prepare_with_uniform_at(
            gpu,
            &pipeline,
            op,
            &views,
            uniform_at,
            &[s.n, 0u32, 0, 0],
            crate::gpu::grid(groups),
        ))
    }
}
