//! CPU twin of `shaders/softmax_xent.wgsl`.

use super::Float;
use crate::shapes::XentShape;

/// probs = softmax(logits); loss[i] = -log probs[i, label]; dlogits = (probs - onehot)/N.
pub fn softmax_xent_forward_backward<T: Float>(
    logits: &[T],
    labels: &[u32],
    s: XentShape,
    probs: &mut [T],
    dlogits: &mut [T],
    loss: &mut [T],
) {
    let classes = s.classes as usize;
    let n = T::from(s.n).unwrap_or(T::nan());
    for i in 0..s.n as usize {
        let row = &logits[i * classes..(i + 1) * classes];
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let sum = row.iter().fold(T::zero(), |acc, &l| acc + (l - m).exp());
        let label = labels[i] as usize;
        for j in 0..classes {
            let p = (row[j] - m).exp() / sum;
            probs[i * classes + j] = p;
            let onehot = if j == label { T::one() } else { T::zero() };
            dlogits[i * classes + j] = (p - onehot) / n;
        }
        loss[i] = sum.ln() + m - row[label];
    }
}

/// Mean cross-entropy of a batch: what the model's loss is.
pub fn mean_xent<T: Float>(logits: &[T], labels: &[u32], classes: usize) -> T {
    let n = labels.len();
    let mut total = T::zero();
    for (i, &label) in labels.iter().enumerate() {
        let row = &logits[i * classes..(i + 1) * classes];
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let sum = row.iter().fold(T::zero(), |acc, &l| acc + (l - m).exp());
        total = total + sum.ln() + m - row[label as usize];
    }
    total / T::from(n).unwrap_or(T::nan())
}
