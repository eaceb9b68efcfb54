//! CPU twin of `shaders/metrics.wgsl`.

use crate::kernels::metrics::MetricSums;

/// Adds a batch's loss sum, correct count and size to `m` (argmax ties: lowest class).
pub fn metrics_accumulate(probs: &[f32], labels: &[u32], loss: &[f32], m: &mut MetricSums) {
    let classes = probs.len() / labels.len().max(1);
    for (i, &label) in labels.iter().enumerate() {
        let row = &probs[i * classes..(i + 1) * classes];
        let mut best = 0;
        for j in 1..classes {
            if row[j] > row[best] {
                best = j;
            }
        }
        m.correct += (best == label as usize) as u32;
        m.loss_sum += loss[i];
    }
    m.samples += labels.len() as u32;
}
