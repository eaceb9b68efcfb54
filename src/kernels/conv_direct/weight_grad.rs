//! The direct weight gradient, in partial sums over runs of images:
//! dW_n (OC, C, K, K) = Σ dy[n, o, oy, ox] · x[n, c, oy + ky, ox + kx]. Each 4-pixel block of
//! the output gives, from its K input rows, every tap's window (the im2col values) in
//! registers, dotted with each output channel's dy vec4. Replaces im2col + a GEMM per image.
//! dy is read as it is, or through the ReLU and max-pool that follow the convolution
//! ([`DyViews::Pool`]), so that no kernel has to write it.

use super::{
    input_bindings, input_functions, input_image, input_unpack, shape_name, supports, supports_pool,
    vec4s_per_window_row, window, ConvDirect, ConvInput, InputFormat, LoadSharing, CONV_WEIGHT_GRAD_DIRECT,
};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::generated_dispatch;
use crate::kernels::wgsl::{Access, GeneratedKernel, Wgsl, BATCH_STRUCT};
use crate::shapes::ConvShape;

/// Accumulators per weight-gradient invocation of the per-invocation kernel: its output
/// channels times K·K (LLVM's compile time grows fast with them).
const MAX_WEIGHT_GRAD_ACCUMULATORS: u32 = 200;

/// Accumulators per lane of the by-image kernel: ⌈OC/lanes⌉·C·K·K (conv2 on 8 lanes:
/// 2·6·25 = 300, conv1 25). Past this the shader grows too large, and the per-invocation
/// kernel takes the shape.
const MAX_BY_IMAGE_ACCUMULATORS: u32 = 600;

/// Widest subgroups the by-image kernel runs on. At 16 lanes (lavapipe, 512-bit vectors on
/// an AMD EPYC) conv2's took 3.12 ms against the per-invocation kernel's 1.69, and conv1's
/// through the pool 1.39 against 1.29 for the per-invocation kernel and the pool's backward
/// (BENCHMARKS.md, 2026-12-07); wider GPU subgroups would get 25 workgroups at batch 100.
const MAX_BY_IMAGE_LANES: u32 = 8;

/// Images summed by one subgroup of the by-image kernel: fewer partial sums to add up
/// afterwards, and still 25 subgroups for 2 cores at batch 100.
const IMAGES_PER_SUBGROUP: u32 = 4;

/// Whether [`weight_grad_source`] can compute this convolution's weight gradient: as
/// [`supports`], with at most [`MAX_WEIGHT_GRAD_ACCUMULATORS`] taps.
pub fn supports_weight_grad(s: ConvShape) -> bool {
    supports(s) && s.kh * s.kw <= MAX_WEIGHT_GRAD_ACCUMULATORS
}

/// Whether the weight gradient can read dy through the pool on subgroups of `lanes`: the
/// by-image kernel's shapes whose output the forward can pool.
pub fn supports_weight_grad_through_pool(s: ConvShape, lanes: u32) -> bool {
    supports_weight_grad(s) && supports_pool(s) && by_image_lanes(s, LoadSharing::Subgroup { lanes }).is_some()
}

/// The subgroup width where the weight gradient of `s` runs the by-image kernel
/// (subgroups of at most [`MAX_BY_IMAGE_LANES`], and few enough accumulators per lane);
/// None where the per-invocation kernel runs.
fn by_image_lanes(s: ConvShape, sharing: LoadSharing) -> Option<u32> {
    sharing.lanes().filter(|&lanes| {
        lanes <= MAX_BY_IMAGE_LANES && s.oc.div_ceil(lanes) * s.c * s.kh * s.kw <= MAX_BY_IMAGE_ACCUMULATORS
    })
}

/// Output channels per invocation of the per-invocation kernel.
fn weight_grad_channels(s: ConvShape) -> u32 {
    (MAX_WEIGHT_GRAD_ACCUMULATORS / (s.kh * s.kw)).clamp(1, s.oc)
}

/// Where the weight gradient reads dy, the gradient of the convolution's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DyFrom {
    /// dy itself, (N, OC, OH, OW).
    Dy,
    /// Through the ReLU and 2x2 max-pool that follow the convolution: the pool's output
    /// gradient at its argmax where the pool's output is > 0, 0 elsewhere — what
    /// `maxpool2x2_relu_backward` writes, read from its inputs instead. Where nothing else
    /// needs dy (conv1 without the input gradient), that kernel is not run at all.
    Pool,
}

/// dy as the weight gradient binds it.
#[derive(Clone, Copy)]
pub enum DyViews<'a> {
    Dy(View<'a>),
    /// The pool's output gradient, its argmax and its output, each (N, OC, OH/2, OW/2).
    Pool {
        dpool: View<'a>,
        argmax: View<'a>,
        pooled: View<'a>,
    },
}

/// What the weight gradient reads and writes.
#[derive(Clone, Copy)]
pub struct WeightGradViews<'a> {
    pub x: ConvInput<'a>,
    pub dy: DyViews<'a>,
    /// (P, OC, C, KH, KW): P = [`ConvDirect::weight_grad_partials`].
    pub dw: View<'a>,
    /// (P, OC), where [`ConvDirect::writes_bias_grad`]; None elsewhere.
    pub db: Option<View<'a>>,
}

/// The WGSL of the weight gradient with dy as it is, from f32 x (any batch size).
pub fn weight_grad_source(s: ConvShape, sharing: LoadSharing) -> GeneratedKernel {
    match by_image_lanes(s, sharing) {
        Some(lanes) => weight_grad_by_image_source(s, DyFrom::Dy, InputFormat::F32, lanes),
        None => weight_grad_per_invocation_source(s),
    }
}

/// The WGSL of the weight gradient with dy read through the pool, on subgroups of `lanes`.
pub fn weight_grad_through_pool_source(s: ConvShape, input: InputFormat, lanes: u32) -> GeneratedKernel {
    weight_grad_by_image_source(s, DyFrom::Pool, input, lanes)
}

/// One subgroup of `lanes` per [`IMAGES_PER_SUBGROUP`] images (one after the other): lane l
/// accumulates output channels l, l + lanes, … for every input channel. Per block the C·K
/// input rows are loaded once between the lanes (a few vec4s each) and handed to all by
/// `subgroupBroadcast`, instead of once per (channel, group of output channels) as in the
/// per-invocation kernel. The bias gradient comes free with dy's loads.
fn weight_grad_by_image_source(s: ConvShape, dy_from: DyFrom, input: InputFormat, lanes: u32) -> GeneratedKernel {
    let (c, oc, k) = (s.c, s.oc, s.kh);
    // A block is one output row of 4 pixels, or two (one row of 2x2 pool windows) when dy
    // comes through the pool.
    let out_rows = match dy_from {
        DyFrom::Dy => 1,
        DyFrom::Pool => 2,
    };
    let rows = k + out_rows - 1;
    let block_vec4s = c * rows * vec4s_per_window_row(k);
    let mut g = Wgsl::new(
        "src/kernels/conv_direct/weight_grad.rs",
        &format!(
            "weight gradient of x ({c},{},{}) -> y ({oc},{},{}), {k}x{k} taps, dy from {dy_from:?}, input {input:?},\n\
             // one subgroup of {lanes} per {IMAGES_PER_SUBGROUP} images, lane l: output channels l, l + {lanes}, ...",
            s.h,
            s.w,
            s.out_h(),
            s.out_w()
        ),
    );
    g.line(BATCH_STRUCT);
    input_bindings(&mut g, input);
    match dy_from {
        DyFrom::Dy => g.storage("dy", Access::Read, "array<vec4<f32>>"),
        DyFrom::Pool => {
            g.comment("Two windows per load: the pool's output gradient, its argmax (flat indices into\ny) and its output (the ReLU's mask: a window whose maximum is 0 passes nothing).");
            g.storage("dpool", Access::Read, "array<vec2<f32>>");
            g.storage("argmax", Access::Read, "array<vec2<u32>>");
            g.storage("pooled", Access::Read, "array<vec2<f32>>");
        }
    }
    g.storage("dw", Access::ReadWrite, "array<f32>");
    g.comment("The bias gradient comes free with dy's loads: Σ dy per output channel.");
    g.storage("db", Access::ReadWrite, "array<f32>");
    g.uniform("s", "Batch");
    g.blank();
    input_functions(&mut g, input);
    g.entry_point(CONV_WEIGHT_GRAD_DIRECT, lanes, true);
    g.line(format!("let valid = group * {IMAGES_PER_SUBGROUP}u < s.n;"));
    // Lane l loads the block's vec4s l, l + lanes, …: vec4 v is (channel, row, column) =
    // (v / (R·V), (v / V) % R, v % V) for R rows of V vec4s (the last lanes repeat the last).
    let vec4s_per_row = vec4s_per_window_row(k);
    for m in 0..block_vec4s.div_ceil(lanes) {
        g.line(format!("let v_{m} = min(lane + {}u, {}u);", lanes * m, block_vec4s - 1));
        g.line(format!(
            "let row_{m} = (v_{m} / {}u) * {}u + ((v_{m} / {vec4s_per_row}u) % {rows}u) * {}u;",
            rows * vec4s_per_row,
            s.h * s.w / 4,
            s.w / 4
        ));
        g.line(format!("let column_{m} = v_{m} % {vec4s_per_row}u;"));
    }
    for j in 0..oc.div_ceil(lanes) {
        g.line(format!("var bias_{j} = 0.0;"));
        for ci in 0..c {
            for t in 0..k * k {
                g.line(format!("var a_{j}_{ci}_{t} = 0.0;"));
            }
        }
    }
    by_image_loop(&mut g, s, dy_from, input, block_vec4s, lanes);
    by_image_stores(&mut g, s, lanes);
    g.close();
    let name = format!("conv_weight_grad-{}-by-image-dy-from-{dy_from:?}-{input:?}-sg{lanes}", shape_name(s));
    g.finish(name.to_lowercase(), CONV_WEIGHT_GRAD_DIRECT)
}

/// The by-image kernel's loop over its images and their blocks.
fn by_image_loop(g: &mut Wgsl, s: ConvShape, dy_from: DyFrom, input: InputFormat, block_vec4s: u32, lanes: u32) {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let blocks_x = ow / 4;
    let out_rows = if dy_from == DyFrom::Pool { 2 } else { 1 };
    let rows = k + out_rows - 1;
    let vec4s_per_row = vec4s_per_window_row(k);
    // The same image for all lanes: the branch is uniform across the subgroup.
    g.open(format!("for (var i = 0u; i < {IMAGES_PER_SUBGROUP}u; i++)"));
    g.line(format!("let image = group * {IMAGES_PER_SUBGROUP}u + i;"));
    g.open("if (image < s.n)");
    g.line(format!("let x_image = {} * {}u;", input_image(input), c * h * w / 4));
    match dy_from {
        DyFrom::Dy => g.line(format!("let dy_image = image * {}u;", oc * oh * ow / 4)),
        DyFrom::Pool => g.line(format!("let pool_image = image * {}u;", oc * oh * ow / 8)),
    }
    g.open(format!("for (var b = 0u; b < {}u; b++)", oh / out_rows * blocks_x));
    g.line(format!("let oy = {out_rows}u * (b / {blocks_x}u);"));
    g.line(format!("let q0 = b % {blocks_x}u;"));
    for m in 0..block_vec4s.div_ceil(lanes) {
        g.line(format!("let l_{m} = x[x_image + row_{m} + oy * {}u + min(q0 + column_{m}, {}u)];", w / 4, w / 4 - 1));
    }
    // Bytes are broadcast as their u32 words, a quarter of the lanes' traffic.
    let unpack = input_unpack(input);
    for ci in 0..c {
        for row in 0..rows {
            for q in 0..vec4s_per_row {
                let v = (ci * rows + row) * vec4s_per_row + q;
                g.line(format!("let r_{ci}_{row}_{q} = {unpack}(subgroupBroadcast(l_{}, {}u));", v / lanes, v % lanes));
            }
        }
    }
    for j in 0..oc.div_ceil(lanes) {
        dy_of_block(g, s, dy_from, lanes, j);
    }
    // One output row at a time: its windows (the im2col values) dotted with its dy.
    for r in 0..out_rows {
        for ci in 0..c {
            for ky in 0..k {
                for kx in 0..k {
                    g.line(format!("let x_{r}_{ci}_{} = {};", ky * k + kx, window(&format!("r_{ci}_{}", ky + r), kx)));
                }
            }
        }
        for j in 0..oc.div_ceil(lanes) {
            for ci in 0..c {
                let dots: Vec<String> =
                    (0..k * k).map(|t| format!("a_{j}_{ci}_{t} += dot(g_{j}_{r}, x_{r}_{ci}_{t});")).collect();
                g.line(dots.join(" "));
            }
        }
    }
    g.close();
    g.close();
    g.close();
}

/// dy of each output row of the block for the lane's channel group `j` (of `lanes`
/// channels): g_{j}_{r}, and the bias gradient's sum.
fn dy_of_block(g: &mut Wgsl, s: ConvShape, dy_from: DyFrom, lanes: u32, j: u32) {
    let (oc, oh, ow) = (s.oc, s.out_h(), s.out_w());
    let first = lanes * j;
    match dy_from {
        DyFrom::Dy => {
            g.line(format!(
                "let g_{j}_0 = dy[dy_image + min(lane + {}u, {}u) * {}u + oy * {}u + q0];",
                first,
                oc - 1,
                oh * ow / 4,
                ow / 4
            ));
            g.line(format!("bias_{j} += dot(g_{j}_0, vec4<f32>(1.0));"));
        }
        DyFrom::Pool => {
            // Window 0 covers the block's columns 0-1, window 1 columns 2-3; `d` is the
            // argmax's offset from the block's top-left pixel.
            g.line(format!("let ch_{j} = min(lane + {first}u, {}u);", oc - 1));
            g.line(format!("let at_{j} = pool_image + ch_{j} * {}u + (oy / 2u) * {}u + q0;", oh * ow / 8, ow / 4));
            g.line(format!("let p_{j} = pooled[at_{j}];"));
            g.line(format!("let dp_{j} = select(vec2<f32>(0.0), dpool[at_{j}], p_{j} > vec2<f32>(0.0));"));
            g.line(format!(
                "let d_{j} = argmax[at_{j}] - vec2<u32>(((image * {oc}u + ch_{j}) * {oh}u + oy) * {ow}u + 4u * q0);"
            ));
            g.line(format!(
                "let g_{j}_0 = select(vec4<f32>(0.0), dp_{j}.xxyy, d_{j}.xxyy == vec4<u32>(0u, 1u, 2u, 3u));"
            ));
            g.line(format!(
                "let g_{j}_1 = select(vec4<f32>(0.0), dp_{j}.xxyy, d_{j}.xxyy == vec4<u32>({ow}u, {}u, {}u, {}u));",
                ow + 1,
                ow + 2,
                ow + 3
            ));
            g.line(format!("bias_{j} += dp_{j}.x + dp_{j}.y;"));
        }
    }
}

/// This group's partial sum of dW_n (OC, C, K, K) and of the bias: the lane's channels.
fn by_image_stores(g: &mut Wgsl, s: ConvShape, lanes: u32) {
    let (c, oc, taps) = (s.c, s.oc, s.kh * s.kw);
    for j in 0..oc.div_ceil(lanes) {
        let first = lanes * j;
        g.open(format!("if (valid && lane + {first}u < {oc}u)"));
        g.line(format!("db[group * {oc}u + lane + {first}u] = bias_{j};"));
        g.line(format!("let base = (group * {oc}u + lane + {first}u) * {}u;", c * taps));
        for ci in 0..c {
            let stores: Vec<String> =
                (0..taps).map(|t| format!("dw[base + {}u] = a_{j}_{ci}_{t};", ci * taps + t)).collect();
            g.line(stores.join(" "));
        }
        g.close();
    }
}

/// Invocations that share nothing: one per (image, input channel, group of
/// [`weight_grad_channels`] output channels).
fn weight_grad_per_invocation_source(s: ConvShape) -> GeneratedKernel {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let blocks_x = ow / 4;
    let vec4s_per_row = vec4s_per_window_row(k);
    let taps = k * k;
    let og = weight_grad_channels(s);
    let groups = oc.div_ceil(og);
    let mut g = Wgsl::new(
        "src/kernels/conv_direct/weight_grad.rs",
        &format!("weight gradient of x ({c},{h},{w}) -> y ({oc},{oh},{ow}), {k}x{k} taps,\n// {og} output channels per invocation."),
    );
    g.line(BATCH_STRUCT);
    g.storage("x", Access::Read, "array<vec4<f32>>");
    g.storage("dy", Access::Read, "array<vec4<f32>>");
    g.storage("dw", Access::ReadWrite, "array<f32>");
    g.uniform("s", "Batch");
    g.comment("8 invocations per workgroup: there are only N·C of them (conv1: 100), and lavapipe\nruns a workgroup on one thread.");
    g.entry_point(CONV_WEIGHT_GRAD_DIRECT, 8, false);
    let per_image = c * groups;
    g.line("let id = group * 8u + lid;");
    g.line(format!("let total = s.n * {per_image}u;"));
    g.line("let valid = id < total;");
    g.line("let clamped = min(id, total - 1u);");
    g.line(format!("let image = clamped / {per_image}u;"));
    g.line(format!("let channel = (clamped % {per_image}u) / {groups}u;"));
    g.line(format!("let o0 = (clamped % {groups}u) * {og}u;"));
    g.line(format!("let x_plane = (image * {c}u + channel) * {}u;", h * w / 4));
    g.line(format!("let dy_image = image * {}u;", oc * oh * ow / 4));
    for oi in 0..og {
        for t in 0..taps {
            g.line(format!("var a_{oi}_{t} = 0.0;"));
        }
    }
    g.open(format!("for (var b = 0u; b < {}u; b++)", oh * blocks_x));
    g.line(format!("let oy = b / {blocks_x}u;"));
    g.line(format!("let q0 = b % {blocks_x}u;"));
    for ky in 0..k {
        for q in 0..vec4s_per_row {
            g.line(format!(
                "let r_{ky}_{q} = x[x_plane + (oy + {ky}u) * {}u + min(q0 + {q}u, {}u)];",
                w / 4,
                w / 4 - 1
            ));
        }
        for kx in 0..k {
            g.line(format!("let x_{} = {};", ky * k + kx, window(&format!("r_{ky}"), kx)));
        }
    }
    for oi in 0..og {
        let dots: String = (0..taps).map(|t| format!(" a_{oi}_{t} += dot(g, x_{t});")).collect();
        g.line(format!(
            "{{ let g = dy[dy_image + min(o0 + {oi}u, {}u) * {}u + oy * {}u + q0];{dots} }}",
            oc - 1,
            oh * ow / 4,
            ow / 4
        ));
    }
    g.close();
    g.comment("dW_n (OC, C, K, K): this invocation's channel of every output channel.");
    g.line(format!("let base = (image * {oc}u + o0) * {}u + channel * {taps}u;", c * taps));
    for oi in 0..og {
        let stores: String = (0..taps).map(|t| format!(" dw[base + {}u] = a_{oi}_{t};", oi * c * taps + t)).collect();
        g.line(format!("if (valid && o0 + {oi}u < {oc}u) {{{stores} }}"));
    }
    g.close();
    g.finish(format!("conv_weight_grad-{}-per-invocation", shape_name(s)), CONV_WEIGHT_GRAD_DIRECT)
}

impl ConvDirect {
    /// How many partial weight gradients [`ConvDirect::conv_weight_grad_direct`] writes for
    /// `s`: one per [`IMAGES_PER_SUBGROUP`] images where the by-image kernel runs
    /// (subgroups, not too many accumulators), else one per image.
    pub fn weight_grad_partials(&self, s: ConvShape) -> u32 {
        if by_image_lanes(s, self.sharing).is_some() {
            s.n.div_ceil(IMAGES_PER_SUBGROUP)
        } else {
            s.n
        }
    }

    /// Whether [`ConvDirect::conv_weight_grad_direct`] also writes the bias gradient's
    /// partials for `s` (and so needs `db`): where the by-image kernel runs.
    pub fn writes_bias_grad(&self, s: ConvShape) -> bool {
        by_image_lanes(s, self.sharing).is_some()
    }

    /// Whether the weight gradient can read dy through the pool ([`DyViews::Pool`]) for
    /// `s` on this device: subgroups and a shape that allows it.
    pub fn reads_dy_through_pool(&self, s: ConvShape) -> bool {
        self.sharing.lanes().is_some_and(|lanes| supports_weight_grad_through_pool(s, lanes))
    }

    /// dw (P, OC, C, KH, KW), P = [`ConvDirect::weight_grad_partials`]: the weight gradient
    /// for dy and the conv's input x (N,C,H,W), partial p summed over images
    /// p·⌈N/P⌉ .. (p+1)·⌈N/P⌉ (the last may have fewer), overwritten; the caller sums the
    /// P partials. Where [`ConvDirect::writes_bias_grad`], `db` (P, OC) gets the bias
    /// gradient's partials the same way. x from bytes needs the by-image kernel.
    pub fn conv_weight_grad_direct(&self, gpu: &Gpu, s: ConvShape, v: WeightGradViews) -> Result<Dispatch> {
        let op = CONV_WEIGHT_GRAD_DIRECT;
        if !supports_weight_grad(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?}") });
        }
        let lanes = by_image_lanes(s, self.sharing);
        let by_image = lanes.is_some();
        let mut views = v.x.views(op, s)?;
        let kernel = match v.dy {
            DyViews::Dy(dy) => {
                dy.require(op, "dy", s.y_len())?;
                views.push(("dy", dy));
                match (v.x.format(), lanes) {
                    (InputFormat::F32, _) => weight_grad_source(s, self.sharing),
                    (InputFormat::Bytes, Some(lanes)) => {
                        weight_grad_by_image_source(s, DyFrom::Dy, InputFormat::Bytes, lanes)
                    }
                    (InputFormat::Bytes, None) => {
                        let what = format!("cannot read bytes for {s:?} on this device");
                        return Err(Error::ShapeMismatch { op, what });
                    }
                }
            }
            DyViews::Pool { dpool, argmax, pooled } => {
                let (true, Some(lanes)) = (self.reads_dy_through_pool(s), lanes) else {
                    let what = format!("cannot read dy through the pool for {s:?}");
                    return Err(Error::ShapeMismatch { op, what });
                };
                let pooled_len = s.y_len() / 4;
                for (name, view) in [("dpool", dpool), ("argmax", argmax), ("pooled", pooled)] {
                    view.require(op, name, pooled_len)?;
                    views.push((name, view));
                }
                weight_grad_through_pool_source(s, v.x.format(), lanes)
            }
        };
        let partials = self.weight_grad_partials(s) as u64;
        v.dw.require(op, "dw", partials * s.w_len())?;
        views.push(("dw", v.dw));
        match (v.db, by_image) {
            (Some(db), true) => {
                db.require(op, "db", partials * s.oc as u64)?;
                views.push(("db", db));
            }
            (None, false) => {}
            (Some(_), false) => {
                return Err(Error::ShapeMismatch { op, what: "no bias gradient here: db must be None".into() })
            }
            (None, true) => return Err(Error::ShapeMismatch { op, what: "db (the bias gradient) is required".into() }),
        }
        let groups =
            if by_image { partials as u32 } else { (s.n * s.c * s.oc.div_ceil(weight_grad_channels(s))).div_ceil(8) };
        generated_dispatch(gpu, &kernel, &views, s.n, crate::gpu::grid(groups))
    }
}
