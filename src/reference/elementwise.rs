//! CPU twin of `shaders/elementwise.wgsl`.

use super::Float;

/// g <- g * (y > 0), with y the ReLU's output.
pub fn relu_backward<T: Float>(y: &[T], g: &mut [T]) {
    for (gi, &yi) in g.iter_mut().zip(y) {
        if yi <= T::zero() {
            *gi = T::zero();
        }
    }
}

/// out = x · x.
pub fn square<T: Float>(x: &[T], out: &mut [T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * v;
    }
}
