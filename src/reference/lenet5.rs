//! CPU twin of `model::lenet5`: the same ops in the same order, on the same layouts.

use super::{elementwise, gemm, im2col, pool, reduce, softmax_xent, Float};
use crate::kernels::gemm::{Epilogue, Transpose};
use crate::model::lenet5::Lenet5Shapes;
use crate::model::params::ParamLayout;
use crate::shapes::DenseShape;
use crate::shapes::{ConvShape, GemmShape, ReduceShape};

/// Every forward tensor, named as in `model::lenet5::Activations`.
pub struct Forward<T> {
    pub col1: Vec<T>,
    pub conv1: Vec<T>,
    pub pool1: Vec<T>,
    pub argmax1: Vec<u32>,
    pub col2: Vec<T>,
    pub conv2: Vec<T>,
    pub pool2: Vec<T>,
    pub argmax2: Vec<u32>,
    pub fc1: Vec<T>,
    pub fc2: Vec<T>,
    pub logits: Vec<T>,
    pub probs: Vec<T>,
    pub loss: Vec<T>,
    pub dlogits: Vec<T>,
}

fn param<'a, T>(params: &'a [T], layout: &ParamLayout, name: &str) -> &'a [T] {
    &params[layout.get(name).range()]
}

/// im2col + GEMM + bias [+ ReLU]: returns (col, y). Shared with the LeNet-1998 twin.
pub(crate) fn conv_forward<T: Float>(c: ConvShape, x: &[T], w: &[T], b: &[T], relu: bool) -> (Vec<T>, Vec<T>) {
    let mut col = vec![T::zero(); c.col_len() as usize];
    im2col::im2col_forward(x, c, &mut col);
    let mut y = vec![T::zero(); c.y_len() as usize];
    let gs = c.forward_gemm();
    gemm::gemm(Transpose::None, Epilogue::BiasRow { relu }, gs, w, &col, Some(b), &mut y);
    (col, y)
}

/// y (N, OUT) = x · Wᵀ + b [ReLU]. Shared with the LeNet-1998 twin.
pub(crate) fn dense_forward<T: Float>(l: DenseShape, batch: u32, x: &[T], w: &[T], b: &[T], relu: bool) -> Vec<T> {
    let mut y = vec![T::zero(); (batch * l.outputs) as usize];
    let gs = GemmShape::new(batch, l.outputs, l.inputs);
    gemm::gemm(Transpose::B, Epilogue::BiasCol { relu }, gs, x, w, Some(b), &mut y);
    y
}

/// Forward pass of `batch` images x (N,1,28,28) through the loss and its logit gradient.
pub fn lenet5_forward<T: Float>(layout: &ParamLayout, params: &[T], x: &[T], labels: &[u32], batch: u32) -> Forward<T> {
    let s = Lenet5Shapes::new(batch);
    let p = |name| param(params, layout, name);
    let (col1, conv1) = conv_forward(s.conv1, x, p("conv1.weight"), p("conv1.bias"), true);
    let mut pool1 = vec![T::zero(); s.pool1.y_len() as usize];
    let mut argmax1 = vec![0; s.pool1.y_len() as usize];
    pool::maxpool2x2_forward(&conv1, s.pool1, &mut pool1, &mut argmax1);
    let (col2, conv2) = conv_forward(s.conv2, &pool1, p("conv2.weight"), p("conv2.bias"), true);
    let mut pool2 = vec![T::zero(); s.pool2.y_len() as usize];
    let mut argmax2 = vec![0; s.pool2.y_len() as usize];
    pool::maxpool2x2_forward(&conv2, s.pool2, &mut pool2, &mut argmax2);
    let fc1 = dense_forward(s.fc1, batch, &pool2, p("fc1.weight"), p("fc1.bias"), true);
    let fc2 = dense_forward(s.fc2, batch, &fc1, p("fc2.weight"), p("fc2.bias"), true);
    let logits = dense_forward(s.fc3, batch, &fc2, p("fc3.weight"), p("fc3.bias"), false);
    let xs = s.xent();
    let mut probs = vec![T::zero(); xs.logits_len() as usize];
    let mut dlogits = vec![T::zero(); xs.logits_len() as usize];
    let mut loss = vec![T::zero(); batch as usize];
    softmax_xent::softmax_xent_forward_backward(&logits, labels, xs, &mut probs, &mut dlogits, &mut loss);
    Forward { col1, conv1, pool1, argmax1, col2, conv2, pool2, argmax2, fc1, fc2, logits, probs, loss, dlogits }
}

/// Mean loss of a batch: what finite differences differentiate.
pub fn lenet5_loss<T: Float>(layout: &ParamLayout, params: &[T], x: &[T], labels: &[u32], batch: u32) -> T {
    let f = lenet5_forward(layout, params, x, labels, batch);
    let total = f.loss.iter().fold(T::zero(), |acc, &l| acc + l);
    total / T::from(batch).unwrap_or(T::nan())
}

/// What the backward computes from `Forward::dlogits`.
pub struct Backward<T> {
    /// Parameter gradients in the layout.
    pub grads: Vec<T>,
    /// d / d x.
    pub dx: Vec<T>,
    /// d / d (conv1's and conv2's pre-activations), what the GPU keeps in their taps.
    pub dconv1: Vec<T>,
    pub dconv2: Vec<T>,
}

/// Backward pass from `f.dlogits`.
pub fn lenet5_backward<T: Float>(layout: &ParamLayout, params: &[T], f: &Forward<T>, batch: u32) -> Backward<T> {
    let s = Lenet5Shapes::new(batch);
    let mut grads = vec![T::zero(); layout.padded_len];

    let dense_backward = |l: DenseShape, x: &[T], dy: &[T], w: &str, b: &str, grads: &mut Vec<T>| {
        let mut dw = vec![T::zero(); (l.outputs * l.inputs) as usize];
        gemm::gemm(Transpose::A, Epilogue::None, GemmShape::new(l.outputs, l.inputs, batch), dy, x, None, &mut dw);
        grads[layout.get(w).range()].copy_from_slice(&dw);
        let mut db = vec![T::zero(); l.outputs as usize];
        reduce::sum_reduce(dy, ReduceShape::new(batch, l.outputs, 1), &mut db);
        grads[layout.get(b).range()].copy_from_slice(&db);
        let mut dx = vec![T::zero(); (batch * l.inputs) as usize];
        gemm::gemm(
            Transpose::None,
            Epilogue::None,
            GemmShape::new(batch, l.inputs, l.outputs),
            dy,
            param(params, layout, w),
            None,
            &mut dx,
        );
        dx
    };
    let mut dfc2 = dense_backward(s.fc3, &f.fc2, &f.dlogits, "fc3.weight", "fc3.bias", &mut grads);
    elementwise::relu_backward(&f.fc2, &mut dfc2);
    let mut dfc1 = dense_backward(s.fc2, &f.fc1, &dfc2, "fc2.weight", "fc2.bias", &mut grads);
    elementwise::relu_backward(&f.fc1, &mut dfc1);
    let dpool2 = dense_backward(s.fc1, &f.pool2, &dfc1, "fc1.weight", "fc1.bias", &mut grads);

    let conv_backward = |c: ConvShape, col: &[T], dy: &[T], w: &str, b: &str, grads: &mut Vec<T>| {
        let per_image = c.oc * c.patch_len();
        let mut dw_per_image = vec![T::zero(); (per_image * c.n) as usize];
        let gs = c.weight_grad_gemm();
        gemm::gemm(Transpose::B, Epilogue::None, gs, dy, col, None, &mut dw_per_image);
        let mut dw = vec![T::zero(); per_image as usize];
        reduce::sum_reduce(&dw_per_image, ReduceShape::new(c.n, per_image, 1), &mut dw);
        grads[layout.get(w).range()].copy_from_slice(&dw);
        let mut db = vec![T::zero(); c.oc as usize];
        reduce::sum_reduce(dy, ReduceShape::new(c.n, c.oc, c.out_pixels()), &mut db);
        grads[layout.get(b).range()].copy_from_slice(&db);
        let mut dcol = vec![T::zero(); c.col_len() as usize];
        let gs = c.input_grad_gemm();
        gemm::gemm(Transpose::A, Epilogue::None, gs, param(params, layout, w), dy, None, &mut dcol);
        let mut dx = vec![T::zero(); c.x_len() as usize];
        im2col::col2im_backward(&dcol, c, &mut dx);
        dx
    };
    let mut dconv2 = vec![T::zero(); s.conv2.y_len() as usize];
    pool::maxpool2x2_backward(&dpool2, &f.argmax2, s.pool2, &mut dconv2);
    elementwise::relu_backward(&f.conv2, &mut dconv2);
    let dpool1 = conv_backward(s.conv2, &f.col2, &dconv2, "conv2.weight", "conv2.bias", &mut grads);
    let mut dconv1 = vec![T::zero(); s.conv1.y_len() as usize];
    pool::maxpool2x2_backward(&dpool1, &f.argmax1, s.pool1, &mut dconv1);
    elementwise::relu_backward(&f.conv1, &mut dconv1);
    let dx = conv_backward(s.conv1, &f.col1, &dconv1, "conv1.weight", "conv1.bias", &mut grads);
    Backward { grads, dx, dconv1, dconv2 }
}
