//! CPU twin of `shaders/optim.wgsl`.

use crate::shapes::{AdamParams, SdlmParams, SgdParams};

/// g' = g + wd·w;  v = momentum·v + g';  w -= lr·v.
pub fn sgd_step(p: SgdParams, params: &mut [f32], grads: &[f32], velocity: &mut [f32]) {
    for i in 0..p.len as usize {
        let g = grads[i] + p.weight_decay * params[i];
        velocity[i] = p.momentum * velocity[i] + g;
        params[i] -= p.lr * velocity[i];
    }
}

/// PyTorch's Adam step with L2 weight decay; `p` carries step t's bias corrections.
pub fn adam_step(p: AdamParams, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
    for i in 0..p.len as usize {
        let g = grads[i] + p.weight_decay * params[i];
        m[i] = p.beta1 * m[i] + (1.0 - p.beta1) * g;
        v[i] = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
        params[i] -= p.lr * (m[i] / p.bias_correction1) / ((v[i] / p.bias_correction2).sqrt() + p.eps);
    }
}

/// SDLM: w -= lr / (mu + h) · g.
pub fn sdlm_step(p: SdlmParams, params: &mut [f32], grads: &[f32], hessian: &[f32]) {
    for i in 0..p.len as usize {
        params[i] -= p.lr / (p.mu + hessian[i]) * grads[i];
    }
}

/// acc += scale · x.
pub fn scale_add(p: SdlmParams, acc: &mut [f32], x: &[f32]) {
    for i in 0..p.len as usize {
        acc[i] += p.scale * x[i];
    }
}
