//! CPU twin of `kernels::conv_direct`: the convolution as plain loops over the NCHW layouts
//! (no im2col), so it also checks `im2col` + `gemm` independently.

use super::Float;
use crate::shapes::ConvShape;

/// y (N,OC,OH,OW) = x (N,C,H,W) ⋆ w (OC,C,KH,KW) + bias, then ReLU when `relu`.
pub fn conv_forward_direct<T: Float>(s: ConvShape, relu: bool, x: &[T], w: &[T], bias: &[T], y: &mut [T]) {
    let (n, c, h, wd, oc) = (s.n as usize, s.c as usize, s.h as usize, s.w as usize, s.oc as usize);
    let (kh, kw) = (s.kh as usize, s.kw as usize);
    let (oh, ow) = (s.out_h() as usize, s.out_w() as usize);
    for ni in 0..n {
        for o in 0..oc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias[o];
                    for i in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let weight = w[((o * c + i) * kh + ky) * kw + kx];
                                acc = acc + weight * x[((ni * c + i) * h + oy + ky) * wd + ox + kx];
                            }
                        }
                    }
                    y[((ni * oc + o) * oh + oy) * ow + ox] = if relu { acc.max(T::zero()) } else { acc };
                }
            }
        }
    }
}

/// dx (N,C,H,W) = the input gradient for dy (N,OC,OH,OW), the adjoint of the forward:
/// dx[i, y + ky, x + kx] += dy[o, y, x] · w[o, i, ky, kx]. Overwrites dx.
pub fn conv_input_grad_direct<T: Float>(s: ConvShape, dy: &[T], w: &[T], dx: &mut [T]) {
    let (n, c, h, wd, oc) = (s.n as usize, s.c as usize, s.h as usize, s.w as usize, s.oc as usize);
    let (kh, kw) = (s.kh as usize, s.kw as usize);
    let (oh, ow) = (s.out_h() as usize, s.out_w() as usize);
    dx.iter_mut().for_each(|v| *v = T::zero());
    for ni in 0..n {
        for o in 0..oc {
            for oy in 0..oh {
                for ox in 0..ow {
                    let g = dy[((ni * oc + o) * oh + oy) * ow + ox];
                    for i in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let at = ((ni * c + i) * h + oy + ky) * wd + ox + kx;
                                dx[at] = dx[at] + g * w[((o * c + i) * kh + ky) * kw + kx];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dw (N, OC, C, KH, KW): each image's weight gradient,
/// dw[n, o, i, ky, kx] = Σ dy[n, o, oy, ox] · x[n, i, oy + ky, ox + kx]. Overwrites dw.
pub fn conv_weight_grad_direct<T: Float>(s: ConvShape, x: &[T], dy: &[T], dw: &mut [T]) {
    let (n, c, h, wd, oc) = (s.n as usize, s.c as usize, s.h as usize, s.w as usize, s.oc as usize);
    let (kh, kw) = (s.kh as usize, s.kw as usize);
    let (oh, ow) = (s.out_h() as usize, s.out_w() as usize);
    for ni in 0..n {
        for o in 0..oc {
            for i in 0..c {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let mut acc = T::zero();
                        for oy in 0..oh {
                            for ox in 0..ow {
                                acc = acc
                                    + dy[((ni * oc + o) * oh + oy) * ow + ox]
                                        * x[((ni * c + i) * h + oy + ky) * wd + ox + kx];
                            }
                        }
                        dw[(((ni * oc + o) * c + i) * kh + ky) * kw + kx] = acc;
                    }
                }
            }
        }
    }
}
