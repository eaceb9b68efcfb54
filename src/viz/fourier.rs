//! The decorrelated image parameterization of Lucid (Olah et al. 2017, "Feature
//! Visualization"): the image is a sum of cosine patterns whose amplitudes are divided by
//! their frequency, so that a normalized gradient step moves low frequencies as much as
//! high ones. Natural images have 1/f spectra; pixels do not, which is why ascent in
//! pixel space finds high-frequency patterns first.
//!
//! Here on a 1-channel image with the orthonormal 2-D DCT-II (real, so one GEMM makes the
//! image and one the coefficients' gradient): image = 0.5 + M c, with
//! M[p, k] = dct[p, k] · s_k and s_k = 1 / max(f_k, 1 / side), normalized to RMS 1.

/// M, row-major (pixel, frequency), for `side` x `side` images.
pub fn decorrelated_basis(side: u32) -> Vec<f32> {
    let n = side as usize;
    let dct = |i: usize, u: usize| {
        let a = if u == 0 { (1.0 / n as f64).sqrt() } else { (2.0 / n as f64).sqrt() };
        a * (std::f64::consts::PI * (2 * i + 1) as f64 * u as f64 / (2 * n) as f64).cos()
    };
    // Cycles per pixel of DCT index u: u / (2 n).
    let scale: Vec<f64> = (0..n * n)
        .map(|k| {
            let (u, v) = ((k / n) as f64, (k % n) as f64);
            let f = (u * u + v * v).sqrt() / (2 * n) as f64;
            1.0 / f.max(1.0 / n as f64)
        })
        .collect();
    let rms = (scale.iter().map(|s| s * s).sum::<f64>() / scale.len() as f64).sqrt();
    let mut m = vec![0.0f32; n * n * n * n];
    for p in 0..n * n {
        let (y, x) = (p / n, p % n);
        for k in 0..n * n {
            let (u, v) = (k / n, k % n);
            m[p * n * n + k] = (dct(y, u) * dct(x, v) * scale[k] / rms) as f32;
        }
    }
    m
}
