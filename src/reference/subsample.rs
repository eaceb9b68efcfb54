//! CPU twin of `shaders/subsample.wgsl`.

use super::Float;
use crate::shapes::PoolShape;

fn window_sum<T: Float>(x: &[T], s: PoolShape, plane: usize, oh: usize, ow: usize) -> T {
    let (h, w) = (s.h as usize, s.w as usize);
    let tl = (plane * h + 2 * oh) * w + 2 * ow;
    x[tl] + x[tl + 1] + x[tl + w] + x[tl + w + 1]
}

/// a[n,c,i,j] = coef[c] · (2x2 window sum of x) + bias[c].
pub fn subsample_forward<T: Float>(x: &[T], coef: &[T], bias: &[T], s: PoolShape, a: &mut [T]) {
    let (oh_n, ow_n) = (s.out_h() as usize, s.out_w() as usize);
    for plane in 0..(s.n * s.c) as usize {
        let c = plane % s.c as usize;
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                a[(plane * oh_n + oh) * ow_n + ow] = coef[c] * window_sum(x, s, plane, oh, ow) + bias[c];
            }
        }
    }
}

/// dx (overwritten) = coef · da for each window input, 0 for dropped rows/columns;
/// terms = da · window sum. `squared`: coef², window sum² (Gauss-Newton pass).
pub fn subsample_backward<T: Float>(
    x: &[T],
    coef: &[T],
    da: &[T],
    s: PoolShape,
    squared: bool,
    dx: &mut [T],
    terms: &mut [T],
) {
    let (h, w) = (s.h as usize, s.w as usize);
    let (oh_n, ow_n) = (s.out_h() as usize, s.out_w() as usize);
    dx[..s.x_len() as usize].fill(T::zero());
    for plane in 0..(s.n * s.c) as usize {
        let c = plane % s.c as usize;
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let i = (plane * oh_n + oh) * ow_n + ow;
                let sum = window_sum(x, s, plane, oh, ow);
                let (k, q) = if squared { (coef[c] * coef[c], sum * sum) } else { (coef[c], sum) };
                terms[i] = da[i] * q;
                let tl = (plane * h + 2 * oh) * w + 2 * ow;
                for j in [tl, tl + 1, tl + w, tl + w + 1] {
                    dx[j] = k * da[i];
                }
            }
        }
    }
}
