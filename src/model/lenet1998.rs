//! LeNet-1998 (LeCun, Bottou, Bengio, Haffner 1998) on the GPU as a plan, like
//! `lenet5::Plan`: buffers and bind groups made once for one batch size.
//!
//! input 28x28 -> padded to 32x32, background -0.1, ink 1.175 -> C1 6@5x5 -> squash
//! -> S2 (2x2 sum · coef + bias) -> squash -> C3 16@5x5 over the paper's connection table
//! -> squash -> S4 -> squash -> C5 120@5x5 (= dense 400 -> 120) -> squash -> F6 84 -> squash
//! -> 10 Euclidean RBF units with fixed 7x12 bitmap centers -> the paper's loss (eq. 9).
//!
//! C3 runs as an ordinary convolution: its 1,500 stored weights are spread into a dense
//! (16, 6, 5, 5) kernel through an index table (zeros where the table has no connection),
//! and the dense gradient is gathered back, so unconnected weights are never stored,
//! counted or updated. SDLM's second derivatives come from the same backward kernels run
//! on squared weights and activations (`record_curvature`).

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::dense_direct::DenseProduct;
use crate::kernels::gemm::{Epilogue, Transpose};
use crate::kernels::metrics::METRICS_LEN;
use crate::kernels::rbf::RbfViews;
use crate::kernels::squash::SquashFn;
use crate::kernels::table::NONE;
use crate::kernels::Kernels;
use crate::model::lenet5::{Dense, CLASSES, IMAGE_SIDE};
use crate::model::params::ParamLayout;
use crate::model::{Mode, Network};
use crate::shapes::{ConvShape, GemmShape, PadShape, PoolShape, RbfShape, ReduceShape};

/// Border added around the 28x28 digit (32x32, as in the paper).
pub const PAD: u32 = 2;
/// Input scaling: background (0) -> -0.1, full ink (1) -> 1.175 (mean ~0, variance ~1).
pub const INPUT_LO: f32 = -0.1;
pub const INPUT_HI: f32 = 1.175;
/// F6's units: one per pixel of the 7x12 RBF bitmaps.
pub const F6_UNITS: u32 = 84;
pub const BITMAP_W: usize = 7;
pub const BITMAP_H: usize = 12;
/// The constant j of the loss (eq. 9), E = y_label + log(e^-j + Σ e^-y_i): its e^-j keeps
/// the penalty from pushing classes that are already far. The paper leaves its value open.
pub const RBF_J: f32 = 1.0;

/// C3's connection table (the paper's Table I): the S2 maps each C3 map reads, in the
/// order its stored weights use. Maps 0-5: 3 contiguous; 6-11: 4 contiguous; 12-14: 4
/// non-contiguous; 15: all 6. 60 connections.
pub const C3_INPUTS: [&[u32]; 16] = [
    &[0, 1, 2],
    &[1, 2, 3],
    &[2, 3, 4],
    &[3, 4, 5],
    &[4, 5, 0],
    &[5, 0, 1],
    &[0, 1, 2, 3],
    &[1, 2, 3, 4],
    &[2, 3, 4, 5],
    &[3, 4, 5, 0],
    &[4, 5, 0, 1],
    &[5, 0, 1, 2],
    &[0, 1, 3, 4],
    &[1, 2, 4, 5],
    &[0, 2, 3, 5],
    &[0, 1, 2, 3, 4, 5],
];

/// C3's stored weight tensors: name and the C3 maps (first, count) it holds, each map's
/// kernels for its inputs in `C3_INPUTS` order: (maps, inputs, 5, 5).
pub const C3_GROUPS: [(&str, u32, u32); 4] =
    [("c3.weight.3in", 0, 6), ("c3.weight.4in", 6, 6), ("c3.weight.4in_skip", 12, 3), ("c3.weight.6in", 15, 1)];

/// Every layer's shape at one batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lenet1998Shapes {
    pub batch: u32,
    pub input: PadShape, // (N,1,28,28) -> (N,1,32,32)
    pub c1: ConvShape,   // -> (N,6,28,28)
    pub s2: PoolShape,   // -> (N,6,14,14)
    pub c3: ConvShape,   // -> (N,16,10,10)
    pub s4: PoolShape,   // -> (N,16,5,5) = (N,400)
    pub c5: Dense,       // 400 -> 120
    pub f6: Dense,       // 120 -> 84
    pub rbf: RbfShape,   // 84 -> 10
}

impl Lenet1998Shapes {
    pub fn new(batch: u32) -> Self {
        let input = PadShape::new(batch, IMAGE_SIDE, IMAGE_SIDE, PAD, INPUT_LO, INPUT_HI);
        let c1 = ConvShape::new(batch, 1, input.out_h(), input.out_w(), 6, 5);
        let s2 = PoolShape::new(batch, c1.oc, c1.out_h(), c1.out_w());
        let c3 = ConvShape::new(batch, s2.c, s2.out_h(), s2.out_w(), 16, 5);
        let s4 = PoolShape::new(batch, c3.oc, c3.out_h(), c3.out_w());
        let flat = s4.c * s4.out_h() * s4.out_w();
        Lenet1998Shapes {
            batch,
            input,
            c1,
            s2,
            c3,
            s4,
            c5: Dense { inputs: flat, outputs: 120 },
            f6: Dense { inputs: 120, outputs: F6_UNITS },
            rbf: RbfShape::new(batch, CLASSES, F6_UNITS, RBF_J),
        }
    }
}

/// The ten 7x12 bitmaps (row-major, true = ink) from `assets/rbf_digits.txt`.
pub fn rbf_bitmaps() -> [[bool; BITMAP_W * BITMAP_H]; 10] {
    parse_bitmaps(include_str!("../../assets/rbf_digits.txt")).expect("assets/rbf_digits.txt is well formed (tested)")
}

/// Parses the bitmap file: `digit N` then 12 rows of 7 characters, '#' ink, '.' background;
/// lines starting with '#' followed by a space are comments.
pub fn parse_bitmaps(text: &str) -> std::result::Result<[[bool; BITMAP_W * BITMAP_H]; 10], String> {
    let mut out = [[false; BITMAP_W * BITMAP_H]; 10];
    let mut seen = [false; 10];
    let mut lines = text.lines().filter(|l| !l.starts_with("# ") && !l.trim().is_empty());
    while let Some(head) = lines.next() {
        let d: usize = head
            .strip_prefix("digit ")
            .and_then(|n| n.trim().parse().ok())
            .filter(|&d| d < 10)
            .ok_or_else(|| format!("expected `digit N` (N in 0..10), found {head:?}"))?;
        for r in 0..BITMAP_H {
            let row = lines.next().ok_or_else(|| format!("digit {d}: only {r} of {BITMAP_H} rows"))?;
            if row.len() != BITMAP_W || !row.chars().all(|c| c == '#' || c == '.') {
                return Err(format!("digit {d}, row {r}: expected {BITMAP_W} of '#'/'.', found {row:?}"));
            }
            for (c, ch) in row.chars().enumerate() {
                out[d][r * BITMAP_W + c] = ch == '#';
            }
        }
        seen[d] = true;
    }
    match seen.iter().position(|s| !s) {
        Some(d) => Err(format!("digit {d} is missing")),
        None => Ok(out),
    }
}

/// The RBF centers (10, 84): f(+1) for ink, f(-1) for background (exactly ±1 for the
/// scaled tanh, the points of its largest curvature, as in the paper).
pub fn rbf_centers(squash: SquashFn) -> Vec<f32> {
    let mut ends = [0.0f32; 2];
    crate::reference::squash::squash_forward(squash, &[1.0f32, -1.0], &mut ends);
    rbf_bitmaps().iter().flat_map(|b| b.iter().map(move |&ink| if ink { ends[0] } else { ends[1] })).collect()
}

/// The element range of the flat parameter buffer that holds C3's four weight tensors.
pub fn c3_span(layout: &ParamLayout) -> std::ops::Range<usize> {
    let first = layout.get(C3_GROUPS[0].0);
    let last = layout.get(C3_GROUPS[3].0);
    first.offset..last.offset + last.len()
}

/// For each entry of the dense (16, 6, 5, 5) C3 kernel, the index into `c3_span` of its
/// stored weight, or NONE where the table has no connection.
pub fn c3_dense_index(layout: &ParamLayout) -> Vec<u32> {
    let span = c3_span(layout);
    let mut index = vec![NONE; 16 * 6 * 25];
    for (name, first, count) in C3_GROUPS {
        let t = layout.get(name);
        let inputs = C3_INPUTS[first as usize].len();
        for m in 0..count as usize {
            let map = first as usize + m;
            for (k, &input) in C3_INPUTS[map].iter().enumerate() {
                for tap in 0..25 {
                    let stored = t.offset + (m * inputs + k) * 25 + tap - span.start;
                    index[(map * 6 + input as usize) * 25 + tap] = stored as u32;
                }
            }
        }
    }
    index
}

/// The inverse: for each element of `c3_span`, its entry in the dense kernel, or NONE for
/// the padding between the four tensors.
pub fn c3_stored_index(layout: &ParamLayout) -> Vec<u32> {
    let mut index = vec![NONE; c3_span(layout).len()];
    for (dense, &stored) in c3_dense_index(layout).iter().enumerate() {
        if stored != NONE {
            index[stored as usize] = dense as u32;
        }
    }
    index
}

/// Forward tensors. `_a` is a layer's pre-activation, the plain name its squashed output.
pub struct Activations1998 {
    pub input: wgpu::Buffer, // (N,1,32,32)
    pub col1: wgpu::Buffer,  // (N,25,784)
    pub c1_a: wgpu::Buffer,  // (N,6,28,28)
    pub c1: wgpu::Buffer,
    pub s2_a: wgpu::Buffer, // (N,6,14,14)
    pub s2: wgpu::Buffer,
    pub c3_kernel: wgpu::Buffer, // (16,6,5,5) dense, zeros where unconnected
    pub col3: wgpu::Buffer,      // (N,150,100)
    pub c3_a: wgpu::Buffer,      // (N,16,10,10)
    pub c3: wgpu::Buffer,
    pub s4_a: wgpu::Buffer, // (N,16,5,5)
    pub s4: wgpu::Buffer,
    pub c5_a: wgpu::Buffer, // (N,120)
    pub c5: wgpu::Buffer,
    pub f6_a: wgpu::Buffer, // (N,84)
    pub f6: wgpu::Buffer,
    pub dist: wgpu::Buffer,  // (N,10) RBF outputs y_i
    pub probs: wgpu::Buffer, // (N,10) softmin of dist
    pub loss: wgpu::Buffer,  // (N)
}

/// Backward scratch: gradients w.r.t. activations (overwritten each pass). `d_c3` and
/// `d_c1` are w.r.t. the squashed outputs when a pass starts there (`Start1998`).
pub struct Gradients1998 {
    d_c5: wgpu::Buffer,
    d_s4: wgpu::Buffer,
    terms4: wgpu::Buffer,
    pub d_c3: wgpu::Buffer,
    dcol3: wgpu::Buffer,
    d_s2: wgpu::Buffer,
    terms2: wgpu::Buffer,
    pub d_c1: wgpu::Buffer,
    dw_per_image: wgpu::Buffer,
    d_c3_kernel: wgpu::Buffer,
    dcol1: wgpu::Buffer,
    d_input: wgpu::Buffer,
    /// d loss / d x for the (N, 28·28) input, with `Mode::TrainWithInputGrad`.
    pub dx: wgpu::Buffer,
}

/// Where a backward pass starts: from the loss's gradient w.r.t. F6 (written by the
/// forward pass), or from a gradient written into `grad.d_c3` / `grad.d_c1` (w.r.t. that
/// layer's squashed output), as gradient ascent on a channel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start1998 {
    Output,
    C3,
    C1,
}

/// Squared copies for the Gauss-Newton pass.
struct Squares {
    params: wgpu::Buffer,
    c3_kernel: wgpu::Buffer,
    col1: wgpu::Buffer,
    col3: wgpu::Buffer,
    s4: wgpu::Buffer,
    c5: wgpu::Buffer,
}

/// LeNet-1998 at one batch size.
pub struct Plan1998 {
    pub shapes: Lenet1998Shapes,
    pub squash: SquashFn,
    pub x: wgpu::Buffer,      // (N, 28*28) in [0, 1]
    pub labels: wgpu::Buffer, // (N) u32
    pub act: Activations1998,
    pub metrics: wgpu::Buffer,
    pub centers: wgpu::Buffer,
    pub grad: Option<Gradients1998>,
    forward: Vec<Dispatch>,
    backward: Vec<Dispatch>,
    /// Where the C3 and C1 segments start in `backward`.
    starts: [usize; 2],
    /// d input -> d x (`Mode::TrainWithInputGrad`).
    input: Vec<Dispatch>,
    curvature: Vec<Dispatch>,
    metrics_accumulate: Dispatch,
    // Held for the bind groups' sake.
    _d_f6: wgpu::Buffer,
    _squares: Option<Squares>,
    _tables: [wgpu::Buffer; 2],
}

fn view<'a>(buffer: &'a wgpu::Buffer, layout: &ParamLayout, name: &str) -> View<'a> {
    let t = layout.get(name);
    View { buffer, offset: t.offset as u64, len: t.len() as u64 }
}

impl Plan1998 {
    /// Builds every buffer and dispatch for `batch` images. `grads` receives the gradient
    /// in training modes; with `curvature`, `record_curvature` writes SDLM's per-parameter
    /// second derivatives (mean over the batch) there.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        k: &Kernels,
        layout: &ParamLayout,
        params: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        curvature: Option<&wgpu::Buffer>,
        batch: u32,
        mode: Mode,
        squash: SquashFn,
    ) -> Result<Plan1998> {
        if batch == 0 {
            return Err(crate::Error::Config("batch size must be at least 1".into()));
        }
        let train = matches!(mode, Mode::Train | Mode::TrainWithInputGrad);
        let s = Lenet1998Shapes::new(batch);
        let n = batch as u64;
        let buf = |label: &str, len: u64| gpu.storage(label, len as usize);
        let x = buf("x", s.input.x_len());
        let labels = buf("labels", n);
        let (c5_len, f6_len) = (n * 120, n * F6_UNITS as u64);
        let act = Activations1998 {
            input: buf("act.input", s.input.y_len()),
            col1: buf("act.col1", s.c1.col_len()),
            c1_a: buf("act.c1_a", s.c1.y_len()),
            c1: buf("act.c1", s.c1.y_len()),
            s2_a: buf("act.s2_a", s.s2.y_len()),
            s2: buf("act.s2", s.s2.y_len()),
            c3_kernel: buf("act.c3_kernel", s.c3.w_len()),
            col3: buf("act.col3", s.c3.col_len()),
            c3_a: buf("act.c3_a", s.c3.y_len()),
            c3: buf("act.c3", s.c3.y_len()),
            s4_a: buf("act.s4_a", s.s4.y_len()),
            s4: buf("act.s4", s.s4.y_len()),
            c5_a: buf("act.c5_a", c5_len),
            c5: buf("act.c5", c5_len),
            f6_a: buf("act.f6_a", f6_len),
            f6: buf("act.f6", f6_len),
            dist: buf("act.dist", s.rbf.y_len()),
            probs: buf("act.probs", s.rbf.y_len()),
            loss: buf("act.loss", n),
        };
        let metrics = gpu.storage("metrics", METRICS_LEN);
        let centers = gpu.storage_from("rbf.centers", &rbf_centers(squash));
        let tables = [
            gpu.storage_from("c3.dense_index", &c3_dense_index(layout)),
            gpu.storage_from("c3.stored_index", &c3_stored_index(layout)),
        ];
        let span = c3_span(layout);
        fn span_of<'b>(b: &'b wgpu::Buffer, span: &std::ops::Range<usize>) -> View<'b> {
            View { buffer: b, offset: span.start as u64, len: span.len() as u64 }
        }
        fn v(buffer: &wgpu::Buffer) -> View<'_> {
            View::whole(buffer)
        }
        let p = |name| view(params, layout, name);
        let a = &act;
        // d_f6 is written by the loss in every mode (the forward pass computes it).
        let d_f6 = buf("grad.f6", f6_len);

        // ---- forward ---------------------------------------------------------------------
        let squash_fwd = |len: u64, pre: &wgpu::Buffer, out: &wgpu::Buffer| {
            k.squash.squash_forward(gpu, squash, len as u32, v(pre), v(out))
        };
        let conv =
            |c: ConvShape, x: View, col: &wgpu::Buffer, w: View, b, out: &wgpu::Buffer| -> Result<[Dispatch; 2]> {
                let gs = c.forward_gemm();
                Ok([
                    k.im2col.im2col_forward(gpu, c, x, v(col))?,
                    k.gemm.gemm(
                        gpu,
                        Transpose::None,
                        Epilogue::BiasRow { relu: false },
                        gs,
                        w,
                        v(col),
                        Some(p(b)),
                        v(out),
                    )?,
                ])
            };
        let dense = |l: Dense, x: &wgpu::Buffer, w, b, out: &wgpu::Buffer| {
            let gs = GemmShape::new(batch, l.outputs, l.inputs);
            k.dense(gpu, DenseProduct::Forward { relu: false }, gs, v(x), p(w), Some(p(b)), v(out))
        };
        let rbf_views = RbfViews {
            x: v(&a.f6),
            centers: v(&centers),
            labels: v(&labels),
            dist: v(&a.dist),
            probs: v(&a.probs),
            loss: v(&a.loss),
            dx: v(&d_f6),
        };
        let mut forward = vec![k.pad.pad_normalize_forward(gpu, s.input, v(&x), v(&a.input))?];
        forward.extend(conv(s.c1, v(&a.input), &a.col1, p("c1.weight"), "c1.bias", &a.c1_a)?);
        forward.push(squash_fwd(s.c1.y_len(), &a.c1_a, &a.c1)?);
        forward.push(k.subsample.subsample_forward(gpu, s.s2, [v(&a.c1), p("s2.coef"), p("s2.bias"), v(&a.s2_a)])?);
        forward.push(squash_fwd(s.s2.y_len(), &a.s2_a, &a.s2)?);
        forward.push(k.table.gather_indexed(gpu, span_of(params, &span), v(&tables[0]), v(&a.c3_kernel))?);
        forward.extend(conv(s.c3, v(&a.s2), &a.col3, v(&a.c3_kernel), "c3.bias", &a.c3_a)?);
        forward.push(squash_fwd(s.c3.y_len(), &a.c3_a, &a.c3)?);
        forward.push(k.subsample.subsample_forward(gpu, s.s4, [v(&a.c3), p("s4.coef"), p("s4.bias"), v(&a.s4_a)])?);
        forward.push(squash_fwd(s.s4.y_len(), &a.s4_a, &a.s4)?);
        forward.push(dense(s.c5, &a.s4, "c5.weight", "c5.bias", &a.c5_a)?);
        forward.push(squash_fwd(c5_len, &a.c5_a, &a.c5)?);
        forward.push(dense(s.f6, &a.c5, "f6.weight", "f6.bias", &a.f6_a)?);
        forward.push(squash_fwd(f6_len, &a.f6_a, &a.f6)?);
        forward.push(k.rbf.rbf_loss_forward_backward(gpu, s.rbf, false, rbf_views)?);

        // ---- backward ----------------------------------------------------------------------
        let grad = train.then(|| Gradients1998 {
            d_c5: buf("grad.c5", c5_len),
            d_s4: buf("grad.s4", s.s4.y_len()),
            terms4: buf("grad.s4_terms", s.s4.y_len()),
            d_c3: buf("grad.c3", s.c3.y_len()),
            dcol3: buf("grad.col3", s.c3.col_len()),
            d_s2: buf("grad.s2", s.s2.y_len()),
            terms2: buf("grad.s2_terms", s.s2.y_len()),
            d_c1: buf("grad.c1", s.c1.y_len()),
            dw_per_image: buf("grad.dw_per_image", s.c3.w_len().max(s.c1.w_len()) * n),
            d_c3_kernel: buf("grad.c3_kernel", s.c3.w_len()),
            dcol1: buf("grad.col1", if mode == Mode::TrainWithInputGrad { s.c1.col_len() } else { 1 }),
            d_input: buf("grad.input", if mode == Mode::TrainWithInputGrad { s.input.y_len() } else { 1 }),
            dx: buf("grad.x", if mode == Mode::TrainWithInputGrad { s.input.x_len() } else { 1 }),
        });
        let squares = (train && curvature.is_some()).then(|| Squares {
            params: buf("sq.params", layout.padded_len as u64),
            c3_kernel: buf("sq.c3_kernel", s.c3.w_len()),
            col1: buf("sq.col1", s.c1.col_len()),
            col3: buf("sq.col3", s.c3.col_len()),
            s4: buf("sq.s4", s.s4.y_len()),
            c5: buf("sq.c5", c5_len),
        });

        // One backward pass: first order into `out` (from d_f6 as the loss wrote it), or the
        // Gauss-Newton second-order pass (squared weights, activations and derivatives).
        let backward_pass = |d: &Gradients1998,
                             sq: Option<&Squares>,
                             out: &wgpu::Buffer|
         -> Result<(Vec<Dispatch>, [usize; 2])> {
            let second = sq.is_some();
            let g = |name| view(out, layout, name);
            let w = |name| view(sq.map_or(params, |q| &q.params), layout, name);
            let squash_bwd = |len: u64, y: &wgpu::Buffer, g: &wgpu::Buffer| {
                k.squash.squash_backward(gpu, squash, second, len as u32, v(y), v(g))
            };
            let dense_bwd =
                |l: Dense, x: &wgpu::Buffer, dy: &wgpu::Buffer, wn, bn, dx: &wgpu::Buffer| -> Result<[Dispatch; 3]> {
                    Ok([
                        k.dense(
                            gpu,
                            DenseProduct::WeightGrad,
                            GemmShape::new(l.outputs, l.inputs, batch),
                            v(dy),
                            v(x),
                            None,
                            g(wn),
                        )?,
                        k.reduce.sum_reduce(gpu, ReduceShape::new(batch, l.outputs, 1), v(dy), g(bn))?,
                        k.dense(
                            gpu,
                            DenseProduct::InputGrad { relu_mask: false },
                            GemmShape::new(batch, l.inputs, l.outputs),
                            v(dy),
                            w(wn),
                            None,
                            v(dx),
                        )?,
                    ])
                };
            let conv_dw = |c: ConvShape,
                           col: &wgpu::Buffer,
                           dy: &wgpu::Buffer,
                           dw: View,
                           bn|
             -> Result<Vec<Dispatch>> {
                let gs = c.weight_grad_gemm();
                let mut out = vec![
                    k.gemm.gemm(gpu, Transpose::B, Epilogue::None, gs, v(dy), v(col), None, v(&d.dw_per_image))?,
                    k.reduce.sum_reduce(gpu, ReduceShape::new(c.n, c.oc * c.patch_len(), 1), v(&d.dw_per_image), dw)?,
                ];
                let bias = ReduceShape::new(c.n, c.oc, c.out_pixels());
                out.extend(k.reduce.sum_reduce_staged(gpu, bias, v(dy), g(bn))?);
                Ok(out)
            };
            let subsample_bwd = |ps: PoolShape,
                                 x: &wgpu::Buffer,
                                 coef,
                                 da: &wgpu::Buffer,
                                 dx: &wgpu::Buffer,
                                 terms: &wgpu::Buffer,
                                 bias|
             -> Result<[Dispatch; 3]> {
                let plane = ps.out_h() * ps.out_w();
                Ok([
                    // Plain coefficients: the kernel squares them itself in the second-order pass.
                    k.subsample.subsample_backward(gpu, ps, second, [v(x), p(coef), v(da), v(dx), v(terms)])?,
                    k.reduce.sum_reduce(gpu, ReduceShape::new(batch, ps.c, plane), v(terms), g(coef))?,
                    k.reduce.sum_reduce(gpu, ReduceShape::new(batch, ps.c, plane), v(da), g(bias))?,
                ])
            };
            let mut out_list = vec![squash_bwd(f6_len, &a.f6, &d_f6)?];
            out_list.extend(dense_bwd(s.f6, sq.map_or(&a.c5, |q| &q.c5), &d_f6, "f6.weight", "f6.bias", &d.d_c5)?);
            out_list.push(squash_bwd(c5_len, &a.c5, &d.d_c5)?);
            out_list.extend(dense_bwd(s.c5, sq.map_or(&a.s4, |q| &q.s4), &d.d_c5, "c5.weight", "c5.bias", &d.d_s4)?);
            out_list.push(squash_bwd(s.s4.y_len(), &a.s4, &d.d_s4)?);
            out_list.extend(subsample_bwd(s.s4, &a.c3, "s4.coef", &d.d_s4, &d.d_c3, &d.terms4, "s4.bias")?);
            let c3_start = out_list.len();
            out_list.push(squash_bwd(s.c3.y_len(), &a.c3, &d.d_c3)?);
            out_list.extend(conv_dw(s.c3, sq.map_or(&a.col3, |q| &q.col3), &d.d_c3, v(&d.d_c3_kernel), "c3.bias")?);
            out_list.push(k.table.gather_indexed(gpu, v(&d.d_c3_kernel), v(&tables[1]), span_of(out, &span))?);
            let c3 = s.c3;
            let gs = c3.input_grad_gemm();
            let kernel = sq.map_or(&a.c3_kernel, |q| &q.c3_kernel);
            out_list.push(k.gemm.gemm(
                gpu,
                Transpose::A,
                Epilogue::None,
                gs,
                v(kernel),
                v(&d.d_c3),
                None,
                v(&d.dcol3),
            )?);
            out_list.push(k.im2col.col2im_backward(gpu, c3, v(&d.dcol3), v(&d.d_s2))?);
            out_list.push(squash_bwd(s.s2.y_len(), &a.s2, &d.d_s2)?);
            out_list.extend(subsample_bwd(s.s2, &a.c1, "s2.coef", &d.d_s2, &d.d_c1, &d.terms2, "s2.bias")?);
            let c1_start = out_list.len();
            out_list.push(squash_bwd(s.c1.y_len(), &a.c1, &d.d_c1)?);
            out_list.extend(conv_dw(s.c1, sq.map_or(&a.col1, |q| &q.col1), &d.d_c1, g("c1.weight"), "c1.bias")?);
            Ok((out_list, [c3_start, c1_start]))
        };

        let mut backward = Vec::new();
        let mut starts = [0, 0];
        let mut input = Vec::new();
        let mut curvature_list = Vec::new();
        if let Some(d) = &grad {
            (backward, starts) = backward_pass(d, None, grads)?;
            if mode == Mode::TrainWithInputGrad {
                let c1 = s.c1;
                let gs = c1.input_grad_gemm();
                let w = p("c1.weight");
                input.push(k.gemm.gemm(gpu, Transpose::A, Epilogue::None, gs, w, v(&d.d_c1), None, v(&d.dcol1))?);
                input.push(k.im2col.col2im_backward(gpu, c1, v(&d.dcol1), v(&d.d_input))?);
                input.push(k.pad.pad_normalize_backward(gpu, s.input, v(&d.d_input), v(&d.dx))?);
            }
            if let (Some(q), Some(hb)) = (&squares, curvature) {
                let sq = |len: u64, x: &wgpu::Buffer, out: &wgpu::Buffer| {
                    k.elementwise.square(gpu, len as u32, v(x), v(out))
                };
                curvature_list.push(sq(layout.padded_len as u64, params, &q.params)?);
                curvature_list.push(k.table.gather_indexed(
                    gpu,
                    span_of(&q.params, &span),
                    v(&tables[0]),
                    v(&q.c3_kernel),
                )?);
                curvature_list.push(sq(s.c1.col_len(), &a.col1, &q.col1)?);
                curvature_list.push(sq(s.c3.col_len(), &a.col3, &q.col3)?);
                curvature_list.push(sq(s.s4.y_len(), &a.s4, &q.s4)?);
                curvature_list.push(sq(c5_len, &a.c5, &q.c5)?);
                let views = RbfViews { dx: v(&d_f6), ..rbf_views };
                curvature_list.push(k.rbf.rbf_loss_forward_backward(gpu, s.rbf, true, views)?);
                curvature_list.extend(backward_pass(d, Some(q), hb)?.0);
            }
        }
        let metrics_accumulate = k.metrics.metrics_accumulate(
            gpu,
            crate::shapes::XentShape::new(batch, CLASSES),
            v(&act.probs),
            v(&labels),
            v(&act.loss),
            v(&metrics),
        )?;
        Ok(Plan1998 {
            shapes: s,
            squash,
            x,
            labels,
            act,
            metrics,
            centers,
            grad,
            forward,
            backward,
            starts,
            input,
            curvature: curvature_list,
            metrics_accumulate,
            _d_f6: d_f6,
            _squares: squares,
            _tables: tables,
        })
    }
}

impl Plan1998 {
    /// The backward pass from `start` down to the parameters (and, with
    /// `Mode::TrainWithInputGrad`, on to d loss / d x in `grad.dx`).
    pub fn record_backward_from(&self, pass: &mut wgpu::ComputePass<'_>, start: Start1998) {
        let first = match start {
            Start1998::Output => 0,
            Start1998::C3 => self.starts[0],
            Start1998::C1 => self.starts[1],
        };
        self.backward[first..].iter().chain(&self.input).for_each(|d| d.record(pass));
    }
}

impl Network for Plan1998 {
    fn batch(&self) -> u32 {
        self.shapes.batch
    }
    fn x(&self) -> &wgpu::Buffer {
        &self.x
    }
    fn labels(&self) -> &wgpu::Buffer {
        &self.labels
    }
    fn metrics(&self) -> &wgpu::Buffer {
        &self.metrics
    }
    fn probs(&self) -> &wgpu::Buffer {
        &self.act.probs
    }
    fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.forward.iter().for_each(|d| d.record(pass));
    }
    fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.backward.iter().for_each(|d| d.record(pass));
    }
    fn record_metrics(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.metrics_accumulate.record(pass);
    }
    fn record_curvature(&self, pass: &mut wgpu::ComputePass<'_>) -> bool {
        self.curvature.iter().for_each(|d| d.record(pass));
        !self.curvature.is_empty()
    }
    fn forward_dispatches(&self) -> Vec<&Dispatch> {
        self.forward.iter().collect()
    }
    fn dispatches(&self) -> Vec<&Dispatch> {
        self.forward.iter().chain(&self.backward).chain([&self.metrics_accumulate]).collect()
    }
}
