//! The Keras-variant LeNet-5 on the GPU as a plan: buffers and bind groups made once for
//! one batch size, forward and backward as lists of prepared dispatches.
//!
//! conv1 6@5x5 ReLU -> maxpool 2 -> conv2 16@5x5 ReLU -> maxpool 2 -> flatten (C,H,W)
//! -> fc1 120 ReLU -> fc2 84 ReLU -> fc3 10 -> softmax + cross-entropy.
//! Activations are NCHW, as in PyTorch, so flatten is free and checkpoints load there.

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::conv_direct;
use crate::kernels::dense_direct::DenseProduct;
use crate::kernels::gemm::{Epilogue, Transpose};
use crate::kernels::metrics::METRICS_LEN;
use crate::kernels::softmax_xent::XentViews;
use crate::kernels::Kernels;
use crate::model::params::ParamLayout;
use crate::shapes::{ConvShape, GemmShape, PoolShape, ReduceShape, XentShape};

pub const IMAGE_SIDE: u32 = 28;
pub const IMAGE_LEN: u32 = IMAGE_SIDE * IMAGE_SIDE;
pub const CLASSES: u32 = 10;

/// A dense layer y (N, OUT) = x (N, IN) · Wᵀ + b, W stored (OUT, IN) as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dense {
    pub inputs: u32,
    pub outputs: u32,
}

/// Every layer's shape at one batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lenet5Shapes {
    pub batch: u32,
    pub conv1: ConvShape, // (N,1,28,28) -> (N,6,24,24)
    pub pool1: PoolShape, // -> (N,6,12,12)
    pub conv2: ConvShape, // -> (N,16,8,8)
    pub pool2: PoolShape, // -> (N,16,4,4) = (N,256)
    pub fc1: Dense,       // 256 -> 120
    pub fc2: Dense,       // 120 -> 84
    pub fc3: Dense,       // 84 -> 10
}

impl Lenet5Shapes {
    pub fn new(batch: u32) -> Self {
        let conv1 = ConvShape::new(batch, 1, IMAGE_SIDE, IMAGE_SIDE, 6, 5);
        let pool1 = PoolShape::new(batch, conv1.oc, conv1.out_h(), conv1.out_w());
        let conv2 = ConvShape::new(batch, pool1.c, pool1.out_h(), pool1.out_w(), 16, 5);
        let pool2 = PoolShape::new(batch, conv2.oc, conv2.out_h(), conv2.out_w());
        let flat = pool2.c * pool2.out_h() * pool2.out_w();
        Lenet5Shapes {
            batch,
            conv1,
            pool1,
            conv2,
            pool2,
            fc1: Dense { inputs: flat, outputs: 120 },
            fc2: Dense { inputs: 120, outputs: 84 },
            fc3: Dense { inputs: 84, outputs: CLASSES },
        }
    }

    pub fn xent(&self) -> XentShape {
        XentShape::new(self.batch, CLASSES)
    }
}

/// Forward tensors, in layer order. Shapes for batch N in the comments.
pub struct Activations {
    pub col1: wgpu::Buffer,    // (N, 25, 576) im2col of x
    pub conv1: wgpu::Buffer,   // (N, 6, 24, 24) after ReLU
    pub pool1: wgpu::Buffer,   // (N, 6, 12, 12)
    pub argmax1: wgpu::Buffer, // (N, 6, 12, 12) u32 index into conv1
    pub col2: wgpu::Buffer,    // (N, 150, 64) im2col of pool1
    pub conv2: wgpu::Buffer,   // (N, 16, 8, 8) after ReLU
    pub pool2: wgpu::Buffer,   // (N, 16, 4, 4), read as (N, 256)
    pub argmax2: wgpu::Buffer, // (N, 16, 4, 4) u32 index into conv2
    pub fc1: wgpu::Buffer,     // (N, 120) after ReLU
    pub fc2: wgpu::Buffer,     // (N, 84) after ReLU
    pub logits: wgpu::Buffer,  // (N, 10)
    pub probs: wgpu::Buffer,   // (N, 10) softmax
    pub loss: wgpu::Buffer,    // (N) per-sample cross-entropy
}

/// Backward tensors: the gradient of the mean loss with respect to each activation.
pub struct Gradients {
    pub dlogits: wgpu::Buffer, // (N, 10)
    pub dfc2: wgpu::Buffer,    // (N, 84)
    pub dfc1: wgpu::Buffer,    // (N, 120)
    pub dpool2: wgpu::Buffer,  // (N, 256)
    pub dconv2: wgpu::Buffer,  // (N, 16, 8, 8)
    pub dcol2: wgpu::Buffer,   // (N, 150, 64)
    pub dpool1: wgpu::Buffer,  // (N, 6, 12, 12)
    pub dconv1: wgpu::Buffer,  // (N, 6, 24, 24)
    pub dcol1: wgpu::Buffer,   // (N, 25, 576), only with the input gradient
    pub dx: wgpu::Buffer,      // (N, 1, 28, 28), only with the input gradient
    /// Conv weight gradients per image, or per run of images (`weight_grad_partials`:
    /// at most N rows of OC*C*KH*KW), before the batch sum.
    pub dw_per_image: wgpu::Buffer,
    /// The same for the conv bias (at most N rows of OC), where the weight-gradient kernel
    /// writes it (`writes_bias_grad`).
    pub db_per_image: wgpu::Buffer,
}

/// What a plan is built for: which buffers it allocates and which passes it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward and loss only (evaluation): no backward buffers, and the convolutions'
    /// outputs are not stored where they are pooled on the fly (nothing reads them).
    Inference,
    /// As `Inference`, with every layer's output stored (feature maps).
    FeatureMaps,
    /// Forward, backward into the parameter gradients.
    Train,
    /// As `Train`, plus d loss / d x (gradient checks, gradient ascent on the input).
    TrainWithInputGrad,
}

/// The model at one batch size: its input, activations, gradients and dispatches.
/// `params` and `grads` belong to the caller and are shared by plans of other sizes.
pub struct Plan {
    pub shapes: Lenet5Shapes,
    pub x: wgpu::Buffer,      // (N, 1, 28, 28) f32
    pub labels: wgpu::Buffer, // (N) u32
    pub act: Activations,
    pub grad: Gradients,
    /// Running [loss sum, correct, samples, _]; see `kernels::metrics`.
    pub metrics: wgpu::Buffer,
    forward: Vec<Dispatch>,
    backward: BackwardSegments,
    metrics_accumulate: Dispatch,
    mode: Mode,
    /// conv1's weight gradient reads dy through pool1 (and is `backward.conv1[0]`).
    conv1_through_pool: bool,
    /// conv1 reads the batch from a dataset's bytes (`Network::read_input_from`).
    reads_dataset: bool,
}

/// The backward pass in pieces, in the order they run.
#[derive(Default)]
struct BackwardSegments {
    /// dlogits -> fc3, fc2, fc1 gradients and dpool2.
    dense: Vec<Dispatch>,
    /// dpool2 -> dconv2, masked by conv2's ReLU.
    pool2: Vec<Dispatch>,
    /// conv2 gradients, dpool1.
    conv2: Vec<Dispatch>,
    /// dpool1 -> dconv1, masked by conv1's ReLU (empty when conv1's weight gradient reads
    /// dy through the pool, i.e. without `Mode::TrainWithInputGrad` on lavapipe).
    pool1: Vec<Dispatch>,
    /// conv1 gradients.
    conv1: Vec<Dispatch>,
    /// dconv1 -> dx (only with `Mode::TrainWithInputGrad`).
    input: Vec<Dispatch>,
}

impl BackwardSegments {
    fn from(&self, start: BackwardFrom) -> impl Iterator<Item = &Dispatch> {
        let segments = [&self.dense, &self.pool2, &self.conv2, &self.pool1, &self.conv1, &self.input];
        let skip = match start {
            BackwardFrom::Logits => 0,
            BackwardFrom::Conv2PreRelu => 2,
            BackwardFrom::Conv1PreRelu => 4,
        };
        segments.into_iter().skip(skip).flatten()
    }
}

/// Where a backward pass starts: from the gradient already written into `grad.dlogits`,
/// or into `grad.dconv2` / `grad.dconv1` taken as the gradient w.r.t. the conv's
/// pre-activation (the ReLU's mask is skipped: gradient ascent from a blank image, where a
/// channel is off everywhere, would otherwise never move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackwardFrom {
    Logits,
    Conv2PreRelu,
    Conv1PreRelu,
}

fn view<'a>(buffer: &'a wgpu::Buffer, layout: &ParamLayout, name: &str) -> View<'a> {
    let t = layout.get(name);
    View { buffer, offset: t.offset as u64, len: t.len() as u64 }
}

impl Plan {
    /// Builds every buffer and bind group for `batch` images in `mode`. `grads` is only
    /// written by training modes.
    pub fn new(
        gpu: &Gpu,
        k: &Kernels,
        layout: &ParamLayout,
        params: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        batch: u32,
        mode: Mode,
    ) -> Result<Plan> {
        if batch == 0 {
            return Err(crate::Error::Config("batch size must be at least 1".into()));
        }
        let train = matches!(mode, Mode::Train | Mode::TrainWithInputGrad);
        let input_grad = mode == Mode::TrainWithInputGrad;
        // The conv outputs before their pools: read back as feature maps, or by gradient
        // ascent (which starts from them); the backward reads the pools' outputs instead.
        let store_conv_y = |c: ConvShape| {
            matches!(mode, Mode::FeatureMaps | Mode::TrainWithInputGrad) || !conv_direct::supports_pool(c)
        };
        let s = Lenet5Shapes::new(batch);
        let n = batch as usize;
        // conv1's weight gradient reads dy through pool1 and its ReLU, and dconv1 is never
        // written, unless the input gradient needs dconv1 (or the kernel cannot).
        let conv1_through_pool = train && !input_grad && k.conv_direct.reads_dy_through_pool(s.conv1);
        let buf = |label: &str, len: u64| gpu.storage(label, len as usize);
        let x = buf("x", s.conv1.x_len());
        let labels = buf("labels", n as u64);
        // Buffers a mode never touches get one element, not their full size.
        let sized = |needed: bool, len: u64| if needed { len } else { 1 };
        // The im2col matrix: read by the GEMM forward, or the GEMM weight gradient.
        let needs_col = |c: ConvShape| !conv_direct::supports(c) || (train && !conv_direct::supports_weight_grad(c));
        let act = Activations {
            col1: buf("act.col1", sized(needs_col(s.conv1), s.conv1.col_len())),
            conv1: buf("act.conv1", sized(store_conv_y(s.conv1), s.conv1.y_len())),
            pool1: buf("act.pool1", s.pool1.y_len()),
            argmax1: buf("act.argmax1", s.pool1.y_len()),
            col2: buf("act.col2", sized(needs_col(s.conv2), s.conv2.col_len())),
            conv2: buf("act.conv2", sized(store_conv_y(s.conv2), s.conv2.y_len())),
            pool2: buf("act.pool2", s.pool2.y_len()),
            argmax2: buf("act.argmax2", s.pool2.y_len()),
            fc1: buf("act.fc1", (n * 120) as u64),
            fc2: buf("act.fc2", (n * 84) as u64),
            logits: buf("act.logits", s.xent().logits_len()),
            probs: buf("act.probs", s.xent().logits_len()),
            loss: buf("act.loss", n as u64),
        };
        let grad = Gradients {
            dlogits: buf("grad.logits", s.xent().logits_len()),
            dfc2: buf("grad.fc2", sized(train, (n * 84) as u64)),
            dfc1: buf("grad.fc1", sized(train, (n * 120) as u64)),
            dpool2: buf("grad.pool2", sized(train, s.pool2.y_len())),
            dconv2: buf("grad.conv2", sized(train, s.conv2.y_len())),
            dcol2: buf("grad.col2", sized(train && !conv_direct::supports_input_grad(s.conv2), s.conv2.col_len())),
            dpool1: buf("grad.pool1", sized(train, s.pool1.y_len())),
            dconv1: buf("grad.conv1", sized(train && !conv1_through_pool, s.conv1.y_len())),
            dcol1: buf("grad.col1", sized(input_grad && !conv_direct::supports_input_grad(s.conv1), s.conv1.col_len())),
            dx: buf("grad.x", sized(input_grad, s.conv1.x_len())),
            dw_per_image: buf("grad.dw_per_image", sized(train, s.conv2.w_len().max(s.conv1.w_len()) * n as u64)),
            db_per_image: buf(
                "grad.db_per_image",
                sized(
                    train && [s.conv1, s.conv2].iter().any(|&c| k.conv_direct.writes_bias_grad(c)),
                    s.conv2.oc.max(s.conv1.oc) as u64 * n as u64,
                ),
            ),
        };
        let metrics = gpu.storage("metrics", METRICS_LEN);

        let p = |name| view(params, layout, name);
        let g = |name| view(grads, layout, name);
        fn v(buffer: &wgpu::Buffer) -> View<'_> {
            View::whole(buffer)
        }
        let a = &act;
        let d = &grad;

        // ---- forward -------------------------------------------------------------------
        // A generated direct convolution where the shape allows (LeNet's do), with the
        // max-pool fused in where the output height is even; otherwise im2col + GEMM. The
        // pool runs on its own where it was not fused.
        let conv_pool_forward = |c: ConvShape,
                                 ps: PoolShape,
                                 x: View,
                                 col: View,
                                 w,
                                 b,
                                 y: View,
                                 pooled: View,
                                 argmax: View|
         -> Result<Vec<Dispatch>> {
            let fused_pool = conv_direct::supports_pool(c).then_some((pooled, argmax));
            let mut out = Vec::new();
            if conv_direct::supports(c) {
                let y = store_conv_y(c).then_some(y);
                out.push(k.conv_direct.conv_forward_direct(gpu, c, true, x, p(w), p(b), y, fused_pool)?);
            } else {
                let gs = c.forward_gemm();
                out.push(k.im2col.im2col_forward(gpu, c, x, col)?);
                out.push(k.gemm.gemm(
                    gpu,
                    Transpose::None,
                    Epilogue::BiasRow { relu: true },
                    gs,
                    p(w),
                    col,
                    Some(p(b)),
                    y,
                )?);
            }
            if fused_pool.is_none() {
                out.push(k.pool.maxpool2x2_forward(gpu, ps, y, pooled, argmax)?);
            }
            Ok(out)
        };
        let dense_forward = |l: Dense, x: View, w, b, relu, y: View| {
            let gs = GemmShape::new(batch, l.outputs, l.inputs);
            k.dense(gpu, DenseProduct::Forward { relu }, gs, x, p(w), Some(p(b)), y)
        };
        let xent = XentViews {
            logits: v(&a.logits),
            labels: v(&labels),
            probs: v(&a.probs),
            dlogits: v(&d.dlogits),
            loss: v(&a.loss),
        };
        let mut forward = Vec::new();
        forward.extend(conv_pool_forward(
            s.conv1,
            s.pool1,
            v(&x),
            v(&a.col1),
            "conv1.weight",
            "conv1.bias",
            v(&a.conv1),
            v(&a.pool1),
            v(&a.argmax1),
        )?);
        forward.extend(conv_pool_forward(
            s.conv2,
            s.pool2,
            v(&a.pool1),
            v(&a.col2),
            "conv2.weight",
            "conv2.bias",
            v(&a.conv2),
            v(&a.pool2),
            v(&a.argmax2),
        )?);
        forward.push(dense_forward(s.fc1, v(&a.pool2), "fc1.weight", "fc1.bias", true, v(&a.fc1))?);
        forward.push(dense_forward(s.fc2, v(&a.fc1), "fc2.weight", "fc2.bias", true, v(&a.fc2))?);
        forward.push(dense_forward(s.fc3, v(&a.fc2), "fc3.weight", "fc3.bias", false, v(&a.logits))?);
        // Fused: the loss's gradient is computed with the loss, so it is part of forward.
        forward.push(k.xent.softmax_xent_forward_backward(gpu, s.xent(), xent)?);

        // ---- backward (reverse order; every gradient is overwritten, never accumulated) -----
        // dy arrives already masked by the layer's ReLU. Produces dW, db and (if dx) dx,
        // masked by `dx_relu` > 0 where dx passes back through a ReLU with that output.
        let dense_backward = |l: Dense,
                              x: View,
                              dy: View,
                              w,
                              b,
                              dx: Option<View>,
                              dx_relu: Option<View>|
         -> Result<Vec<Dispatch>> {
            let mut out = vec![
                k.dense(gpu, DenseProduct::WeightGrad, GemmShape::new(l.outputs, l.inputs, batch), dy, x, None, g(w))?,
                k.reduce.sum_reduce(gpu, ReduceShape::new(batch, l.outputs, 1), dy, g(b))?,
            ];
            if let Some(dx) = dx {
                let product = DenseProduct::InputGrad { relu_mask: dx_relu.is_some() };
                out.push(k.dense(gpu, product, GemmShape::new(batch, l.inputs, l.outputs), dy, p(w), dx_relu, dx)?);
            }
            Ok(out)
        };
        // `dy`, or with `through_pool` (dpool, argmax, pooled) dy read through the ReLU and
        // pool that follow the conv, so that no kernel has to write dy.
        let conv_weight_backward = |c: ConvShape,
                                    x: View,
                                    col: View,
                                    dy: View,
                                    through_pool: Option<[View; 3]>,
                                    w,
                                    b|
         -> Result<Vec<Dispatch>> {
            let per_image = c.oc * c.patch_len();
            let mut out = Vec::new();
            // The direct kernels write their own number of partials, and maybe the bias's.
            let direct = through_pool.is_some() || conv_direct::supports_weight_grad(c);
            let partials = if direct { k.conv_direct.weight_grad_partials(c) } else { c.n };
            let bias_partials = direct && k.conv_direct.writes_bias_grad(c);
            let (dw, db) = (v(&d.dw_per_image), v(&d.db_per_image));
            if let Some([dpool, argmax, pooled]) = through_pool {
                out.push(k.conv_direct.conv_weight_grad_through_pool(gpu, c, x, dpool, argmax, pooled, dw, db)?);
            } else if direct {
                out.push(k.conv_direct.conv_weight_grad_direct(gpu, c, x, dy, dw, bias_partials.then_some(db))?);
            } else {
                if conv_direct::supports(c) {
                    // The direct forward wrote no im2col matrix.
                    out.push(k.im2col.im2col_forward(gpu, c, x, col)?);
                }
                let gs = c.weight_grad_gemm();
                out.push(k.gemm.gemm(gpu, Transpose::B, Epilogue::None, gs, dy, col, None, dw)?);
            }
            out.push(k.reduce.sum_reduce(gpu, ReduceShape::new(partials, per_image, 1), dw, g(w))?);
            if bias_partials {
                out.push(k.reduce.sum_reduce(gpu, ReduceShape::new(partials, c.oc, 1), db, g(b))?);
            } else {
                out.extend(k.reduce.sum_reduce_staged(gpu, ReduceShape::new(c.n, c.oc, c.out_pixels()), dy, g(b))?);
            }
            Ok(out)
        };
        let conv_input_backward = |c: ConvShape, dy: View, w, dcol: View, dx: View| -> Result<Vec<Dispatch>> {
            if conv_direct::supports_input_grad(c) {
                return Ok(vec![k.conv_direct.conv_input_grad_direct(gpu, c, dy, p(w), dx)?]);
            }
            let gs = c.input_grad_gemm();
            Ok(vec![
                k.gemm.gemm(gpu, Transpose::A, Epilogue::None, gs, p(w), dy, None, dcol)?,
                k.im2col.col2im_backward(gpu, c, dcol, dx)?,
            ])
        };

        // Segments, so that gradient ascent can start backward at a conv layer's output.
        let mut backward = BackwardSegments::default();
        if train {
            let b = &mut backward;
            b.dense.extend(dense_backward(
                s.fc3,
                v(&a.fc2),
                v(&d.dlogits),
                "fc3.weight",
                "fc3.bias",
                Some(v(&d.dfc2)),
                Some(v(&a.fc2)),
            )?);
            b.dense.extend(dense_backward(
                s.fc2,
                v(&a.fc1),
                v(&d.dfc2),
                "fc2.weight",
                "fc2.bias",
                Some(v(&d.dfc1)),
                Some(v(&a.fc1)),
            )?);
            b.dense.extend(dense_backward(
                s.fc1,
                v(&a.pool2),
                v(&d.dfc1),
                "fc1.weight",
                "fc1.bias",
                Some(v(&d.dpool2)),
                None,
            )?);
            // The ReLU before each pool is masked inside the pool's backward.
            b.pool2.push(k.pool.maxpool2x2_relu_backward(
                gpu,
                s.pool2,
                v(&d.dpool2),
                v(&a.argmax2),
                v(&a.pool2),
                v(&d.dconv2),
            )?);
            b.conv2.extend(conv_weight_backward(
                s.conv2,
                v(&a.pool1),
                v(&a.col2),
                v(&d.dconv2),
                None,
                "conv2.weight",
                "conv2.bias",
            )?);
            b.conv2.extend(conv_input_backward(s.conv2, v(&d.dconv2), "conv2.weight", v(&d.dcol2), v(&d.dpool1))?);
            let through_pool = [v(&d.dpool1), v(&a.argmax1), v(&a.pool1)];
            if !conv1_through_pool {
                b.pool1.push(k.pool.maxpool2x2_relu_backward(
                    gpu,
                    s.pool1,
                    through_pool[0],
                    through_pool[1],
                    through_pool[2],
                    v(&d.dconv1),
                )?);
            }
            b.conv1.extend(conv_weight_backward(
                s.conv1,
                v(&x),
                v(&a.col1),
                v(&d.dconv1),
                conv1_through_pool.then_some(through_pool),
                "conv1.weight",
                "conv1.bias",
            )?);
        }
        if input_grad {
            let input = conv_input_backward(s.conv1, v(&d.dconv1), "conv1.weight", v(&d.dcol1), v(&d.dx))?;
            backward.input.extend(input);
        }
        let metrics_accumulate =
            k.metrics.metrics_accumulate(gpu, s.xent(), v(&a.probs), v(&labels), v(&a.loss), v(&metrics))?;

        Ok(Plan {
            shapes: s,
            x,
            labels,
            act,
            grad,
            metrics,
            forward,
            backward,
            metrics_accumulate,
            mode,
            conv1_through_pool,
            reads_dataset: false,
        })
    }

    /// Forward pass through the loss (and its gradient w.r.t. the logits).
    pub fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.forward.iter().for_each(|d| d.record(pass));
    }

    /// Parameter gradients into `grads` (and d loss/d x when the plan was built for it).
    pub fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.record_backward_from(pass, BackwardFrom::Logits);
    }

    /// The backward pass from a given layer's output gradient down to the input.
    /// `BackwardFrom::Conv1PreRelu` needs `Mode::TrainWithInputGrad` (only then is
    /// `grad.dconv1` read).
    pub fn record_backward_from(&self, pass: &mut wgpu::ComputePass<'_>, start: BackwardFrom) {
        self.backward.from(start).for_each(|d| d.record(pass));
    }

    /// Adds this batch's loss and correct count to `self.metrics`.
    pub fn record_metrics(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.metrics_accumulate.record(pass);
    }

    /// Every dispatch of a training step, in order (for per-kernel timing).
    pub fn dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        self.forward.iter().chain(self.backward.from(BackwardFrom::Logits)).chain([&self.metrics_accumulate])
    }
}

impl crate::model::Network for Plan {
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
        Plan::record_forward(self, pass)
    }
    fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>) {
        Plan::record_backward(self, pass)
    }
    fn record_metrics(&self, pass: &mut wgpu::ComputePass<'_>) {
        Plan::record_metrics(self, pass)
    }
    fn record_curvature(&self, _pass: &mut wgpu::ComputePass<'_>) -> bool {
        false
    }
    fn forward_dispatches(&self) -> Vec<&Dispatch> {
        self.forward.iter().collect()
    }
    /// conv1 direct with its pool fused (its dispatch is then `forward[0]`), in
    /// `Mode::Inference`, or in `Mode::Train` where conv1's weight gradient, the other
    /// reader of x, reads dy through the pool (then `backward.conv1[0]`).
    fn read_input_from(
        &mut self,
        gpu: &Gpu,
        k: &Kernels,
        layout: &ParamLayout,
        params: &wgpu::Buffer,
        images: View,
        order: View,
    ) -> Result<bool> {
        let c = self.shapes.conv1;
        let train = match self.mode {
            Mode::Inference => false,
            Mode::Train if self.conv1_through_pool => true,
            _ => return Ok(false),
        };
        if !conv_direct::supports_pool(c) {
            return Ok(false);
        }
        let (w, b) = (view(params, layout, "conv1.weight"), view(params, layout, "conv1.bias"));
        let (pooled, argmax) = (View::whole(&self.act.pool1), View::whole(&self.act.argmax1));
        self.forward[0] =
            k.conv_direct.conv_forward_direct_from_bytes(gpu, c, true, images, order, w, b, (pooled, argmax))?;
        if train {
            let (dpool, dw, db) = (
                View::whole(&self.grad.dpool1),
                View::whole(&self.grad.dw_per_image),
                View::whole(&self.grad.db_per_image),
            );
            self.backward.conv1[0] = k
                .conv_direct
                .conv_weight_grad_through_pool_from_bytes(gpu, c, images, order, dpool, argmax, pooled, dw, db)?;
        }
        self.reads_dataset = true;
        Ok(true)
    }
    fn set_first_sample(&self, gpu: &Gpu, first: u32) {
        if self.reads_dataset {
            conv_direct::set_first_sample(gpu, &self.forward[0], self.shapes.batch, first);
            if self.mode == Mode::Train {
                conv_direct::set_first_sample(gpu, &self.backward.conv1[0], self.shapes.batch, first);
            }
        }
    }
    fn dispatches(&self) -> Vec<&Dispatch> {
        Plan::dispatches(self).collect()
    }
}
