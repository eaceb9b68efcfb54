//! CPU twin of `shaders/rbf.wgsl`.

use super::Float;
use crate::shapes::RbfShape;

/// The outputs of one RBF-loss evaluation.
pub struct RbfOut<T> {
    pub dist: Vec<T>,
    pub probs: Vec<T>,
    pub loss: Vec<T>,
    pub dx: Vec<T>,
}

/// dist y_i = Σ_j (x_j - c_ij)², softmin probs, loss E = y_label + log(e^-J + Σ e^-y_i)
/// and d(mean E)/dx; with `curvature`, dx = 2/N everywhere.
pub fn rbf_loss_forward_backward<T: Float>(
    x: &[T],
    centers: &[T],
    labels: &[u32],
    s: RbfShape,
    curvature: bool,
) -> RbfOut<T> {
    let (n, classes, units) = (s.n as usize, s.classes as usize, s.units as usize);
    let j = T::from(s.j).unwrap();
    let two = T::from(2.0).unwrap();
    let inv_n = T::one() / T::from(n).unwrap();
    let mut out = RbfOut {
        dist: vec![T::zero(); n * classes],
        probs: vec![T::zero(); n * classes],
        loss: vec![T::zero(); n],
        dx: vec![T::zero(); n * units],
    };
    for s_i in 0..n {
        let xs = &x[s_i * units..(s_i + 1) * units];
        let y: Vec<T> = (0..classes)
            .map(|i| {
                (0..units).fold(T::zero(), |acc, u| {
                    let d = xs[u] - centers[i * units + u];
                    acc + d * d
                })
            })
            .collect();
        let y_min = y.iter().fold(T::infinity(), |a, &b| a.min(b));
        let m = j.min(y_min);
        let z = (m - j).exp() + y.iter().fold(T::zero(), |a, &yi| a + (m - yi).exp());
        let soft = y.iter().fold(T::zero(), |a, &yi| a + (y_min - yi).exp());
        let label = labels[s_i] as usize;
        out.loss[s_i] = y[label] - m + z.ln();
        let dy: Vec<T> =
            (0..classes).map(|i| if i == label { T::one() } else { T::zero() } - (m - y[i]).exp() / z).collect();
        for (i, &yi) in y.iter().enumerate() {
            out.dist[s_i * classes + i] = yi;
            out.probs[s_i * classes + i] = (y_min - yi).exp() / soft;
        }
        for u in 0..units {
            out.dx[s_i * units + u] = if curvature {
                two * inv_n
            } else {
                (0..classes).fold(T::zero(), |a, i| a + dy[i] * two * (xs[u] - centers[i * units + u])) * inv_n
            };
        }
    }
    out
}
