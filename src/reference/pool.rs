//! CPU twin of `shaders/pool.wgsl`.

use super::Float;
use crate::shapes::PoolShape;

/// x (N,C,H,W) -> y (N,C,H/2,W/2), argmax = flat index into x (first maximum wins).
pub fn maxpool2x2_forward<T: Float>(x: &[T], s: PoolShape, y: &mut [T], argmax: &mut [u32]) {
    let (h, w) = (s.h as usize, s.w as usize);
    let (oh_n, ow_n) = (s.out_h() as usize, s.out_w() as usize);
    for plane in 0..(s.n * s.c) as usize {
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let top_left = (plane * h + 2 * oh) * w + 2 * ow;
                let mut best = top_left;
                for cand in [top_left + 1, top_left + w, top_left + w + 1] {
                    if x[cand] > x[best] {
                        best = cand;
                    }
                }
                let yi = (plane * oh_n + oh) * ow_n + ow;
                y[yi] = x[best];
                argmax[yi] = best as u32;
            }
        }
    }
}

/// dy (N,C,H/2,W/2), argmax -> dx (N,C,H,W): each dy goes to its window's maximum; the
/// rest of dx is zero. Overwrites dx.
pub fn maxpool2x2_backward<T: Float>(dy: &[T], argmax: &[u32], s: PoolShape, dx: &mut [T]) {
    dx[..s.x_len() as usize].fill(T::zero());
    for (yi, &xi) in argmax[..s.y_len() as usize].iter().enumerate() {
        dx[xi as usize] = dy[yi];
    }
}
