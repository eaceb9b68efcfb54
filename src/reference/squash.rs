//! CPU twin of `shaders/squash.wgsl`.

use super::Float;
use crate::kernels::squash::{SquashFn, TANH_A, TANH_S};

/// y = f(a).
pub fn squash_forward<T: Float>(f: SquashFn, a: &[T], y: &mut [T]) {
    let (amp, slope) = (T::from(TANH_A).unwrap(), T::from(TANH_S).unwrap());
    for (yi, &ai) in y.iter_mut().zip(a) {
        *yi = match f {
            SquashFn::ScaledTanh => amp * (slope * ai).tanh(),
            SquashFn::Sigmoid => T::one() / (T::one() + (-ai).exp()),
        };
    }
}

/// g <- g · f'(a) (or · f'(a)² when `squared`), with f'(a) computed from y = f(a).
pub fn squash_backward<T: Float>(f: SquashFn, squared: bool, y: &[T], g: &mut [T]) {
    let (amp, slope) = (T::from(TANH_A).unwrap(), T::from(TANH_S).unwrap());
    for (gi, &yi) in g.iter_mut().zip(y) {
        let d = match f {
            SquashFn::ScaledTanh => slope / amp * (amp * amp - yi * yi),
            SquashFn::Sigmoid => yi * (T::one() - yi),
        };
        *gi = *gi * if squared { d * d } else { d };
    }
}
