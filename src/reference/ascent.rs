//! CPU twin of `shaders/ascent.wgsl`.

use crate::shapes::{AscentParams, ImageShape, TvParams};

/// x += lr · g / (rms(g) + 1e-8) per image; x *= 1 - l2; clamp to [lo, hi].
pub fn ascent_step(p: AscentParams, x: &mut [f32], g: &[f32]) {
    let len = p.len as usize;
    for n in 0..p.n as usize {
        let gi = &g[n * len..(n + 1) * len];
        let rms = (gi.iter().map(|v| (v * v) as f64).sum::<f64>() / len as f64).sqrt() as f32;
        let scale = p.lr / (rms + 1e-8);
        for (xv, gv) in x[n * len..(n + 1) * len].iter_mut().zip(gi) {
            *xv = ((*xv + scale * gv) * (1.0 - p.l2)).clamp(p.lo, p.hi);
        }
    }
}

/// 3x3 Gaussian ([1 2 1]/4 both ways), edges clamped.
pub fn blur3x3(s: ImageShape, src: &[f32], dst: &mut [f32]) {
    let (h, w) = (s.h as i64, s.w as i64);
    let k = [0.25f32, 0.5, 0.25];
    for n in 0..s.n as i64 {
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for dy in -1..=1i64 {
                    for dx in -1..=1i64 {
                        let yy = (y + dy).clamp(0, h - 1);
                        let xx = (x + dx).clamp(0, w - 1);
                        acc += k[(dy + 1) as usize] * k[(dx + 1) as usize] * src[((n * h + yy) * w + xx) as usize];
                    }
                }
                dst[((n * h + y) * w + x) as usize] = acc;
            }
        }
    }
}

/// dst[n, (y + shift_y) mod H, (x + shift_x) mod W] = src[n, y, x].
pub fn roll2d(s: ImageShape, src: &[f32], dst: &mut [f32]) {
    let (h, w) = (s.h as i64, s.w as i64);
    for n in 0..s.n as i64 {
        for y in 0..h {
            for x in 0..w {
                let ty = (y + s.shift_y as i64).rem_euclid(h);
                let tx = (x + s.shift_x as i64).rem_euclid(w);
                dst[((n * h + ty) * w + tx) as usize] = src[((n * h + y) * w + x) as usize];
            }
        }
    }
}

/// Total variation of each image: the sum of squared differences of neighbours.
pub fn total_variation(p: TvParams, x: &[f32]) -> Vec<f64> {
    let (h, w) = (p.h as usize, p.w as usize);
    x.chunks_exact(h * w)
        .map(|img| {
            let mut tv = 0.0f64;
            for y in 0..h {
                for c in 0..w {
                    let v = img[y * w + c] as f64;
                    if y + 1 < h {
                        tv += (img[(y + 1) * w + c] as f64 - v).powi(2);
                    }
                    if c + 1 < w {
                        tv += (img[y * w + c + 1] as f64 - v).powi(2);
                    }
                }
            }
            tv
        })
        .collect()
}

/// g += coef · d TV(x) / d x.
pub fn tv_gradient(p: TvParams, x: &[f32], g: &mut [f32]) {
    let (h, w) = (p.h as usize, p.w as usize);
    for (img, grad) in x.chunks_exact(h * w).zip(g.chunks_exact_mut(h * w)) {
        for y in 0..h {
            for c in 0..w {
                let i = y * w + c;
                let v = img[i];
                let mut d = 0.0;
                if y > 0 {
                    d += 2.0 * (v - img[i - w]);
                }
                if y + 1 < h {
                    d -= 2.0 * (img[i + w] - v);
                }
                if c > 0 {
                    d += 2.0 * (v - img[i - 1]);
                }
                if c + 1 < w {
                    d -= 2.0 * (img[i + 1] - v);
                }
                grad[i] += p.coef * d;
            }
        }
    }
}
