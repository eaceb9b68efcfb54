//! CPU twin of `model::lenet1998`: the same ops in the same order, on the same layouts.

use super::lenet5::{conv_forward, dense_forward};
use super::{gemm, im2col, pad, rbf, reduce, squash, subsample, table, Float};
use crate::kernels::gemm::{Epilogue, Transpose};
use crate::kernels::squash::SquashFn;
use crate::model::lenet1998::{c3_dense_index, c3_span, c3_stored_index, rbf_centers, Lenet1998Shapes};
use crate::model::params::ParamLayout;
use crate::shapes::DenseShape;
use crate::shapes::{ConvShape, GemmShape, PoolShape, ReduceShape};

/// Every forward tensor, named as the GPU plan's taps (squashed outputs).
pub struct Forward1998<T> {
    pub input: Vec<T>,
    pub col1: Vec<T>,
    pub c1: Vec<T>,
    pub s2: Vec<T>,
    pub c3_kernel: Vec<T>,
    pub col3: Vec<T>,
    pub c3: Vec<T>,
    pub s4: Vec<T>,
    pub c5: Vec<T>,
    pub f6: Vec<T>,
    pub dist: Vec<T>,
    pub probs: Vec<T>,
    pub loss: Vec<T>,
    /// d(mean loss)/d f6 (the RBF kernel computes it with the loss).
    pub d_f6: Vec<T>,
}

fn squashed<T: Float>(f: SquashFn, a: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); a.len()];
    squash::squash_forward(f, a, &mut y);
    y
}

fn subsampled<T: Float>(s: PoolShape, x: &[T], coef: &[T], bias: &[T]) -> Vec<T> {
    let mut a = vec![T::zero(); s.y_len() as usize];
    subsample::subsample_forward(x, coef, bias, s, &mut a);
    a
}

/// Forward pass of `batch` images x (N,1,28,28) in [0,1] through the loss.
pub fn lenet1998_forward<T: Float>(
    layout: &ParamLayout,
    params: &[T],
    x: &[T],
    labels: &[u32],
    batch: u32,
    f: SquashFn,
) -> Forward1998<T> {
    let s = Lenet1998Shapes::new(batch);
    let p = |name: &str| &params[layout.get(name).range()];
    let mut input = vec![T::zero(); s.input.y_len() as usize];
    pad::pad_normalize_forward(x, s.input, &mut input);
    let (col1, c1_a) = conv_forward(s.c1, &input, p("c1.weight"), p("c1.bias"), false);
    let c1 = squashed(f, &c1_a);
    let s2 = squashed(f, &subsampled(s.s2, &c1, p("s2.coef"), p("s2.bias")));
    let mut c3_kernel = vec![T::zero(); s.c3.w_len() as usize];
    table::gather_indexed(&params[c3_span(layout)], &c3_dense_index(layout), &mut c3_kernel);
    let (col3, c3_a) = conv_forward(s.c3, &s2, &c3_kernel, p("c3.bias"), false);
    let c3 = squashed(f, &c3_a);
    let s4 = squashed(f, &subsampled(s.s4, &c3, p("s4.coef"), p("s4.bias")));
    let c5 = squashed(f, &dense_forward(s.c5, batch, &s4, p("c5.weight"), p("c5.bias"), false));
    let f6 = squashed(f, &dense_forward(s.f6, batch, &c5, p("f6.weight"), p("f6.bias"), false));
    let centers: Vec<T> = rbf_centers(f).into_iter().map(|c| T::from(c).unwrap()).collect();
    let out = rbf::rbf_loss_forward_backward(&f6, &centers, labels, s.rbf, false);
    Forward1998 {
        input,
        col1,
        c1,
        s2,
        c3_kernel,
        col3,
        c3,
        s4,
        c5,
        f6,
        dist: out.dist,
        probs: out.probs,
        loss: out.loss,
        d_f6: out.dx,
    }
}

/// The mean loss (what the finite-difference checks differentiate).
pub fn lenet1998_loss<T: Float>(
    layout: &ParamLayout,
    params: &[T],
    x: &[T],
    labels: &[u32],
    batch: u32,
    f: SquashFn,
) -> T {
    let out = lenet1998_forward(layout, params, x, labels, batch, f);
    out.loss.iter().fold(T::zero(), |a, &b| a + b) / T::from(batch).unwrap()
}

/// Gradient of the mean loss w.r.t. every parameter, in the flat layout (padding zero).
pub fn lenet1998_backward<T: Float>(
    layout: &ParamLayout,
    params: &[T],
    fw: &Forward1998<T>,
    batch: u32,
    f: SquashFn,
) -> Vec<T> {
    let s = Lenet1998Shapes::new(batch);
    let mut grads = vec![T::zero(); layout.padded_len];
    let set = |grads: &mut Vec<T>, name: &str, v: &[T]| grads[layout.get(name).range()].copy_from_slice(v);
    let sum = |x: &[T], rs: ReduceShape| {
        let mut y = vec![T::zero(); rs.channels as usize];
        reduce::sum_reduce(x, rs, &mut y);
        y
    };
    let squash_bwd = |y: &[T], g: &mut Vec<T>| squash::squash_backward(f, false, y, g);
    let dense_bwd = |l: DenseShape, x: &[T], dy: &[T], w: &str, b: &str, grads: &mut Vec<T>| {
        let mut dw = vec![T::zero(); (l.outputs * l.inputs) as usize];
        gemm::gemm(Transpose::A, Epilogue::None, GemmShape::new(l.outputs, l.inputs, batch), dy, x, None, &mut dw);
        set(grads, w, &dw);
        set(grads, b, &sum(dy, ReduceShape::new(batch, l.outputs, 1)));
        let mut dx = vec![T::zero(); (batch * l.inputs) as usize];
        let wv = &params[layout.get(w).range()];
        gemm::gemm(Transpose::None, Epilogue::None, GemmShape::new(batch, l.inputs, l.outputs), dy, wv, None, &mut dx);
        dx
    };
    let subsample_bwd = |ps: PoolShape, x: &[T], coef: &str, da: &[T], bias: &str, grads: &mut Vec<T>| {
        let mut dx = vec![T::zero(); ps.x_len() as usize];
        let mut terms = vec![T::zero(); ps.y_len() as usize];
        subsample::subsample_backward(x, &params[layout.get(coef).range()], da, ps, false, &mut dx, &mut terms);
        let rs = ReduceShape::new(batch, ps.c, ps.out_h() * ps.out_w());
        set(grads, coef, &sum(&terms, rs));
        set(grads, bias, &sum(da, rs));
        dx
    };
    let conv_dw = |c: ConvShape, col: &[T], dy: &[T]| {
        let per_image = c.oc * c.patch_len();
        let mut dw_per_image = vec![T::zero(); (per_image * c.n) as usize];
        let gs = c.weight_grad_gemm();
        gemm::gemm(Transpose::B, Epilogue::None, gs, dy, col, None, &mut dw_per_image);
        (sum(&dw_per_image, ReduceShape::new(c.n, per_image, 1)), sum(dy, ReduceShape::new(c.n, c.oc, c.out_pixels())))
    };

    let mut d_f6 = fw.d_f6.clone();
    squash_bwd(&fw.f6, &mut d_f6);
    let mut d_c5 = dense_bwd(s.f6, &fw.c5, &d_f6, "f6.weight", "f6.bias", &mut grads);
    squash_bwd(&fw.c5, &mut d_c5);
    let mut d_s4 = dense_bwd(s.c5, &fw.s4, &d_c5, "c5.weight", "c5.bias", &mut grads);
    squash_bwd(&fw.s4, &mut d_s4);
    let mut d_c3 = subsample_bwd(s.s4, &fw.c3, "s4.coef", &d_s4, "s4.bias", &mut grads);
    squash_bwd(&fw.c3, &mut d_c3);
    let (dk, db) = conv_dw(s.c3, &fw.col3, &d_c3);
    let span = c3_span(layout);
    let mut stored = vec![T::zero(); span.len()];
    table::gather_indexed(&dk, &c3_stored_index(layout), &mut stored);
    grads[span].copy_from_slice(&stored);
    set(&mut grads, "c3.bias", &db);
    let c3 = s.c3;
    let mut dcol3 = vec![T::zero(); c3.col_len() as usize];
    let gs = c3.input_grad_gemm();
    gemm::gemm(Transpose::A, Epilogue::None, gs, &fw.c3_kernel, &d_c3, None, &mut dcol3);
    let mut d_s2 = vec![T::zero(); c3.x_len() as usize];
    im2col::col2im_backward(&dcol3, c3, &mut d_s2);
    squash_bwd(&fw.s2, &mut d_s2);
    let mut d_c1 = subsample_bwd(s.s2, &fw.c1, "s2.coef", &d_s2, "s2.bias", &mut grads);
    squash_bwd(&fw.c1, &mut d_c1);
    let (dw1, db1) = conv_dw(s.c1, &fw.col1, &d_c1);
    set(&mut grads, "c1.weight", &dw1);
    set(&mut grads, "c1.bias", &db1);
    grads
}
