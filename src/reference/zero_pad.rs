//! CPU twin of `shaders/zero_pad.wgsl`.

use super::Float;
use crate::shapes::ZeroPadShape;

/// x (P,H,W) -> y (P,OH,OW): x in each plane's top-left corner, zeros elsewhere.
pub fn zero_pad_forward<T: Float>(x: &[T], s: ZeroPadShape, y: &mut [T]) {
    let (h, w, oh, ow) = (s.h as usize, s.w as usize, s.out_h as usize, s.out_w as usize);
    y[..s.y_len() as usize].fill(T::zero());
    for p in 0..s.planes as usize {
        for r in 0..h {
            for c in 0..w {
                y[(p * oh + r) * ow + c] = x[(p * h + r) * w + c];
            }
        }
    }
}

/// dy (P,OH,OW) -> dx (P,H,W): each plane's top-left corner.
pub fn zero_pad_backward<T: Float>(dy: &[T], s: ZeroPadShape, dx: &mut [T]) {
    let (h, w, oh, ow) = (s.h as usize, s.w as usize, s.out_h as usize, s.out_w as usize);
    for p in 0..s.planes as usize {
        for r in 0..h {
            for c in 0..w {
                dx[(p * h + r) * w + c] = dy[(p * oh + r) * ow + c];
            }
        }
    }
}
