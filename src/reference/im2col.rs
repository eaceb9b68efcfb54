//! CPU twin of `shaders/im2col.wgsl`.

use super::Float;
use crate::shapes::ConvShape;

/// x (N,C,H,W) -> col (N, C*KH*KW, OH*OW).
pub fn im2col_forward<T: Float>(x: &[T], s: ConvShape, col: &mut [T]) {
    let (n, c, h, w) = (s.n as usize, s.c as usize, s.h as usize, s.w as usize);
    let (kh, kw) = (s.kh as usize, s.kw as usize);
    let (oh_n, ow_n) = (s.out_h() as usize, s.out_w() as usize);
    let rows = s.patch_len() as usize;
    for ni in 0..n {
        for ci in 0..c {
            for i in 0..kh {
                for j in 0..kw {
                    let row = (ci * kh + i) * kw + j;
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            col[(ni * rows + row) * oh_n * ow_n + oh * ow_n + ow] =
                                x[((ni * c + ci) * h + oh + i) * w + ow + j];
                        }
                    }
                }
            }
        }
    }
}

/// dcol (N, C*KH*KW, OH*OW) -> dx (N,C,H,W): the adjoint of im2col. Overwrites dx.
pub fn col2im_backward<T: Float>(dcol: &[T], s: ConvShape, dx: &mut [T]) {
    let (n, c, h, w) = (s.n as usize, s.c as usize, s.h as usize, s.w as usize);
    let (kh, kw) = (s.kh as usize, s.kw as usize);
    let (oh_n, ow_n) = (s.out_h() as usize, s.out_w() as usize);
    let rows = s.patch_len() as usize;
    dx[..s.x_len() as usize].fill(T::zero());
    for ni in 0..n {
        for ci in 0..c {
            for i in 0..kh {
                for j in 0..kw {
                    let row = (ci * kh + i) * kw + j;
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            let g = dcol[(ni * rows + row) * oh_n * ow_n + oh * ow_n + ow];
                            let xi = ((ni * c + ci) * h + oh + i) * w + ow + j;
                            dx[xi] = dx[xi] + g;
                        }
                    }
                }
            }
        }
    }
}
