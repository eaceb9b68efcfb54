//! CPU twin of `shaders/objective.wgsl`.

use crate::kernels::objective::ClassObjective;
use crate::shapes::{ChannelShape, XentShape};

/// objective[n] = logit or probability of class targets[n]; dlogits = its gradient.
pub fn class_objective_backward(
    mode: ClassObjective,
    s: XentShape,
    logits: &[f32],
    probs: &[f32],
    targets: &[u32],
    dlogits: &mut [f32],
    objective: &mut [f32],
) {
    let c = s.classes as usize;
    for n in 0..s.n as usize {
        let t = targets[n] as usize;
        let pt = probs[n * c + t];
        for j in 0..c {
            let onehot = if j == t { 1.0 } else { 0.0 };
            dlogits[n * c + j] = match mode {
                ClassObjective::Logit => onehot,
                ClassObjective::Softmax => pt * (onehot - probs[n * c + j]),
            };
        }
        objective[n] = match mode {
            ClassObjective::Logit => logits[n * c + t],
            ClassObjective::Softmax => pt,
        };
    }
}

/// objective[n] = mean of y[n, targets[n], :]; dy = 1/HW on that channel, 0 elsewhere.
pub fn channel_objective_backward(s: ChannelShape, y: &[f32], targets: &[u32], dy: &mut [f32], objective: &mut [f32]) {
    let (c, hw) = (s.c as usize, s.hw as usize);
    for n in 0..s.n as usize {
        let t = targets[n] as usize;
        for ch in 0..c {
            let g = if ch == t { 1.0 / hw as f32 } else { 0.0 };
            dy[(n * c + ch) * hw..(n * c + ch + 1) * hw].fill(g);
        }
        objective[n] = y[(n * c + t) * hw..(n * c + t + 1) * hw].iter().sum::<f32>() / hw as f32;
    }
}
