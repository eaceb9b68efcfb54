//! CPU twin of `shaders/optim.wgsl`.

use crate::shapes::SgdParams;

/// g' = g + wd·w;  v = momentum·v + g';  w -= lr·v.
pub fn sgd_step(p: SgdParams, params: &mut [f32], grads: &[f32], velocity: &mut [f32]) {
    for i in 0..p.len as usize {
        let g = grads[i] + p.weight_decay * params[i];
        velocity[i] = p.momentum * velocity[i] + g;
        params[i] -= p.lr * velocity[i];
    }
}
