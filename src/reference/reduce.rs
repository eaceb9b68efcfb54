//! CPU twin of `shaders/reduce.wgsl`.

use super::Float;
use crate::shapes::ReduceShape;

/// x (OUTER, C, INNER) -> y (C), summed in f64. Overwrites y.
pub fn sum_reduce<T: Float>(x: &[T], s: ReduceShape, y: &mut [T]) {
    let (outer, channels, inner) = (s.outer as usize, s.channels as usize, s.inner as usize);
    for (c, yc) in y[..channels].iter_mut().enumerate() {
        let mut acc = 0.0f64;
        for o in 0..outer {
            for i in 0..inner {
                acc += x[(o * channels + c) * inner + i].to_f64().unwrap_or(f64::NAN);
            }
        }
        *yc = T::from(acc).unwrap_or(T::nan());
    }
}
