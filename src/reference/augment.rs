//! CPU twin of `shaders/augment.wgsl`: the same hash, draws and formulas, in f32.

use crate::shapes::AugmentParams;

/// PCG hash (Jarzynski and Olano 2020), as the kernel's `pcg`.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16777216.0)
}

fn signed_draw(key: u32, k: u32) -> f32 {
    2.0 * unit(pcg(key.wrapping_add(k))) - 1.0
}

/// What one image of the batch draws: translation (x, y), rotation (radians), zoom and
/// shear factor tan(angle).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub key: u32,
    pub t: [f32; 2],
    pub theta: f32,
    pub zoom: f32,
    pub shear: f32,
}

/// The draw of the image at `position` of the epoch's order.
pub fn draw(p: &AugmentParams, position: u32) -> Draw {
    let key = pcg(p.seed ^ pcg(p.epoch ^ pcg(position)));
    let mut t = [p.shift * signed_draw(key, 0), p.shift * signed_draw(key, 1)];
    if p.kind == 1 {
        let span = p.shift.floor();
        let whole = |k: u32| (unit(pcg(key.wrapping_add(k))) * (2.0 * span + 1.0)).floor() - span;
        t = [whole(0), whole(1)];
    }
    Draw {
        key,
        t,
        theta: p.rotate * signed_draw(key, 2),
        zoom: 1.0 + p.zoom * signed_draw(key, 3),
        shear: (p.shear * signed_draw(key, 4)).tan(),
    }
}

/// The elastic displacement of every pixel of one image, (2, side, side): the key's
/// uniform noise smoothed by the normalized Gaussian along x, then along y, zero beyond
/// the border, times alpha.
pub fn elastic_field(p: &AugmentParams, key: u32) -> Vec<f32> {
    let (side, pixels) = (p.side as i32, p.pixels() as usize);
    let r = p.radius as i32;
    let gaussian = |j: i32, norm: f32| (-(j as f32) * (j as f32) / (2.0 * p.sigma * p.sigma)).exp() / norm;
    let norm: f32 = (-r..=r).map(|j| gaussian(j, 1.0)).sum();
    let noise: Vec<f32> = (0..2 * pixels as u32).map(|i| signed_draw(key, 16 + i)).collect();
    let mut rows = vec![0f32; 2 * pixels];
    for (i, row) in rows.iter_mut().enumerate() {
        let px = (i % pixels) as i32 % side;
        *row = (-r.min(px)..=r.min(side - 1 - px)).map(|j| gaussian(j, norm) * noise[(i as i32 + j) as usize]).sum();
    }
    let mut field = vec![0f32; 2 * pixels];
    for q in 0..pixels {
        let (px, py) = (q as i32 % side, q as i32 / side);
        let (mut fx, mut fy) = (0f32, 0f32);
        for j in -r.min(py)..=r.min(side - 1 - py) {
            let at = ((py + j) * side + px) as usize;
            fx += gaussian(j, norm) * rows[at];
            fy += gaussian(j, norm) * rows[pixels + at];
        }
        field[q] = p.alpha * fx;
        field[pixels + q] = p.alpha * fy;
    }
    field
}

/// Where output pixel (ox, oy) reads the source image, before any elastic displacement.
pub fn source_point(p: &AugmentParams, d: &Draw, ox: f32, oy: f32) -> [f32; 2] {
    match p.kind {
        0 => [ox, oy],
        1 => [ox - d.t[0], oy - d.t[1]],
        _ => {
            let c = 0.5 * (p.side - 1) as f32;
            let (dx, dy) = (ox - c - d.t[0], oy - c - d.t[1]);
            let rx = d.theta.cos() * dx + d.theta.sin() * dy;
            let ry = -d.theta.sin() * dx + d.theta.cos() * dy;
            [(rx - d.shear * ry) / d.zoom + c, ry / d.zoom + c]
        }
    }
}

/// An image's pixels (0..255) sampled bilinearly at `s`, zero outside.
pub fn bilinear(image: &[u8], side: u32, s: [f32; 2]) -> f32 {
    let at = |x: i32, y: i32| {
        let inside = x >= 0 && y >= 0 && x < side as i32 && y < side as i32;
        if inside {
            image[(y as u32 * side + x as u32) as usize] as f32
        } else {
            0.0
        }
    };
    let (fx, fy) = (s[0].floor(), s[1].floor());
    let (wx, wy) = (s[0] - fx, s[1] - fy);
    let (ix, iy) = (fx as i32, fy as i32);
    let top = at(ix, iy) * (1.0 - wx) + at(ix + 1, iy) * wx;
    let bottom = at(ix, iy + 1) * (1.0 - wx) + at(ix + 1, iy + 1) * wx;
    top * (1.0 - wy) + bottom * wy
}

/// images (N, side·side) bytes, all_labels (N), order -> x (B, side·side) warped pixels /
/// divisor and labels (B), for samples order[offset .. offset + batch].
pub fn augment_batch(
    images: &[u8],
    all_labels: &[u32],
    order: &[u32],
    p: AugmentParams,
    x: &mut [f32],
    labels: &mut [u32],
) {
    let pixels = p.pixels() as usize;
    for n in 0..p.batch as usize {
        let position = p.offset + n as u32;
        let sample = order[position as usize] as usize;
        labels[n] = all_labels[sample];
        let d = draw(&p, position);
        let field = (p.kind == 3).then(|| elastic_field(&p, d.key));
        let image = &images[sample * pixels..(sample + 1) * pixels];
        for q in 0..pixels {
            let (ox, oy) = ((q as u32 % p.side) as f32, (q as u32 / p.side) as f32);
            let mut s = source_point(&p, &d, ox, oy);
            if let Some(f) = &field {
                s = [s[0] + f[q], s[1] + f[pixels + q]];
            }
            x[n * pixels + q] = bilinear(image, p.side, s) / p.divisor;
        }
    }
}
