//! CPU twin of `shaders/pad.wgsl`.

use super::Float;
use crate::shapes::PadShape;

/// x (N,1,H,W) in [0,1] -> y (N,1,H+2P,W+2P): lo + (hi - lo) x inside, lo on the border.
pub fn pad_normalize_forward<T: Float>(x: &[T], s: PadShape, y: &mut [T]) {
    let (h, w, p) = (s.h as usize, s.w as usize, s.pad as usize);
    let (ph, pw) = (s.out_h() as usize, s.out_w() as usize);
    let (lo, hi) = (T::from(s.lo).unwrap(), T::from(s.hi).unwrap());
    y[..s.y_len() as usize].fill(lo);
    for n in 0..s.n as usize {
        for r in 0..h {
            for c in 0..w {
                y[(n * ph + r + p) * pw + c + p] = lo + (hi - lo) * x[(n * h + r) * w + c];
            }
        }
    }
}

/// dy (N,1,H+2P,W+2P) -> dx (N,1,H,W) = (hi - lo) · dy inside the border.
pub fn pad_normalize_backward<T: Float>(dy: &[T], s: PadShape, dx: &mut [T]) {
    let (h, w, p) = (s.h as usize, s.w as usize, s.pad as usize);
    let (ph, pw) = (s.out_h() as usize, s.out_w() as usize);
    let scale = T::from(s.hi - s.lo).unwrap();
    for n in 0..s.n as usize {
        for r in 0..h {
            for c in 0..w {
                dx[(n * h + r) * w + c] = scale * dy[(n * ph + r + p) * pw + c + p];
            }
        }
    }
}
