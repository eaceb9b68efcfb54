//! CPU twin of `shaders/gemm.wgsl`.

use super::Float;
use crate::kernels::gemm::{Epilogue, Transpose};
use crate::shapes::GemmShape;

/// C_b = op(A_b) · op(B_b), then the epilogue, for every batch item; overwrites C.
/// `operand` is the bias, or the ReLU output (laid out as C) of `ReluMask`.
/// Accumulates in f64 whatever `T` is, so it is the more accurate side of a comparison.
pub fn gemm<T: Float>(
    transpose: Transpose,
    epilogue: Epilogue,
    s: GemmShape,
    a: &[T],
    b: &[T],
    operand: Option<&[T]>,
    c: &mut [T],
) {
    let (m, n, k) = (s.m as usize, s.n as usize, s.k as usize);
    for item in 0..s.batch as usize {
        let ab = item * s.stride_a as usize;
        let bb = item * s.stride_b as usize;
        let cb = item * s.stride_c as usize;
        for row in 0..m {
            for col in 0..n {
                let mut acc = 0.0f64;
                for kk in 0..k {
                    let av = match transpose {
                        Transpose::A => a[ab + kk * m + row],
                        _ => a[ab + row * k + kk],
                    };
                    let bv = match transpose {
                        Transpose::B => b[bb + col * k + kk],
                        _ => b[bb + kk * n + col],
                    };
                    acc += av.to_f64().unwrap_or(f64::NAN) * bv.to_f64().unwrap_or(f64::NAN);
                }
                let mut v = T::from(acc).unwrap_or(T::nan());
                let relu = match epilogue {
                    Epilogue::None => false,
                    Epilogue::BiasRow { relu } => {
                        v = v + operand.expect("BiasRow needs a bias")[row];
                        relu
                    }
                    Epilogue::BiasCol { relu } => {
                        v = v + operand.expect("BiasCol needs a bias")[col];
                        relu
                    }
                    Epilogue::ReluMask => {
                        if operand.expect("ReluMask needs the ReLU's output")[cb + row * n + col] <= T::zero() {
                            v = T::zero();
                        }
                        false
                    }
                };
                if relu {
                    v = v.max(T::zero());
                }
                c[cb + row * n + col] = v;
            }
        }
    }
}
