// Training-set augmentation in the input stage: a batch gathered from the GPU-resident
// dataset (as gather_batch in data.wgsl does) through a random transform per image.
//
// augment_batch: images (N*SIDE*SIDE bytes, 4 per u32), all_labels (N) u32, order u32 ->
//   x (B, SIDE*SIDE) f32 = warped bytes / p.divisor, labels (B) u32, for samples
//   order[offset .. offset+B]. One workgroup per image (grid (B, 1, 1)).
//
// Output pixel o (x right, y down) reads the source at s(o), bilinearly, zero outside:
//   kind 0 (none):    s = o
//   kind 1 (shift):   s = o - t, t integer in [-shift, shift]^2
//   kind 2 (affine):  s = c + S^-1 K^-1 R(-θ) (o - c - t), c the centre, t real in
//                     [-shift, shift]^2, θ in ±rotate, size in 1 ± zoom, shear in ±shear
//   kind 3 (elastic): the affine s, plus alpha · (Gaussian(sigma)-smoothed uniform noise in
//                     [-1, 1]) per pixel and axis (Simard et al. 2003), zero beyond the border.
// Every draw is a hash of (seed, epoch, position in the epoch's order): deterministic,
// the same on a resumed run, and different every epoch. src/reference/augment.rs is the
// twin, with the same hash and formulas.

struct AugmentParams {
    offset: u32, batch: u32, side: u32, seed: u32,
    epoch: u32, kind: u32, radius: u32, _pad0: u32,
    shift: f32, rotate: f32, zoom: f32, shear: f32,
    alpha: f32, sigma: f32, divisor: f32, _pad1: f32,
}

const WG_AUGMENT: u32 = 256u;

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> all_labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<uniform> p: AugmentParams;

// The displacement field of an image, two axes of SIDE*SIDE <= 784 pixels (MNIST's 28x28):
// both arrays take 12.5 KiB of workgroup memory (WebGPU's default limit is 16 KiB).
var<workgroup> noise: array<f32, 1568>;
var<workgroup> rows: array<f32, 1568>;
// The 1-D Gaussian's 2·radius + 1 <= 55 weights (radius <= 27), computed once per image.
var<workgroup> taps: array<f32, 64>;

// PCG hash (Jarzynski and Olano 2020, "Hash Functions for GPU Rendering").
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Uniform in [0, 1): the hash's top 24 bits.
fn unit(h: u32) -> f32 {
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

// Uniform in [-1, 1): draw k of a sample.
fn signed_draw(key: u32, k: u32) -> f32 {
    return 2.0 * unit(pcg(key + k)) - 1.0;
}

// A source pixel as 0..255, zero outside the image.
fn source_pixel(sample: u32, px: i32, py: i32) -> f32 {
    let side = i32(p.side);
    if (px < 0 || py < 0 || px >= side || py >= side) { return 0.0; }
    let i = sample * p.side * p.side + u32(py) * p.side + u32(px);
    return f32((images[i / 4u] >> (8u * (i % 4u))) & 0xffu);
}

fn bilinear(sample: u32, s: vec2<f32>) -> f32 {
    let f = floor(s);
    let w = s - f;
    let i = vec2<i32>(f);
    let top = source_pixel(sample, i.x, i.y) * (1.0 - w.x) + source_pixel(sample, i.x + 1, i.y) * w.x;
    let bottom = source_pixel(sample, i.x, i.y + 1) * (1.0 - w.x) + source_pixel(sample, i.x + 1, i.y + 1) * w.x;
    return top * (1.0 - w.y) + bottom * w.y;
}

// The normalized 1-D Gaussian's weight at offset j of [-radius, radius].
fn gaussian(j: i32, norm: f32) -> f32 {
    let d = f32(j);
    return exp(-d * d / (2.0 * p.sigma * p.sigma)) / norm;
}

@compute @workgroup_size(WG_AUGMENT)
fn augment_batch(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = wid.x;
    let position = p.offset + n;
    let sample = order[position];
    if (lid == 0u) { labels[n] = all_labels[sample]; }
    let key = pcg(p.seed ^ pcg(p.epoch ^ pcg(position)));
    let pixels = p.side * p.side;
    let side = i32(p.side);
    let r = i32(p.radius);
    var norm = 0.0;
    for (var j = -r; j <= r; j++) { norm += gaussian(j, 1.0); }
    if (p.kind == 3u) {
        for (var i = lid; i < 2u * pixels; i += WG_AUGMENT) { noise[i] = signed_draw(key, 16u + i); }
        if (i32(lid) <= 2 * r) { taps[lid] = gaussian(i32(lid) - r, norm); }
        workgroupBarrier();
        // Along x, zero beyond the border.
        for (var i = lid; i < 2u * pixels; i += WG_AUGMENT) {
            let px = i32(i % pixels) % side;
            var sum = 0.0;
            for (var j = max(-r, -px); j <= min(r, side - 1 - px); j++) {
                sum += taps[j + r] * noise[i32(i) + j];
            }
            rows[i] = sum;
        }
        workgroupBarrier();
    }
    // The sample's transform.
    let c = 0.5 * f32(p.side - 1u);
    var t = p.shift * vec2<f32>(signed_draw(key, 0u), signed_draw(key, 1u));
    if (p.kind == 1u) {
        let span = floor(p.shift);
        t = vec2<f32>(floor(unit(pcg(key)) * (2.0 * span + 1.0)) - span,
                      floor(unit(pcg(key + 1u)) * (2.0 * span + 1.0)) - span);
    }
    let theta = p.rotate * signed_draw(key, 2u);
    let ct = cos(theta);
    let st = sin(theta);
    let zoom = 1.0 + p.zoom * signed_draw(key, 3u);
    let k = tan(p.shear * signed_draw(key, 4u));
    for (var q = lid; q < pixels; q += WG_AUGMENT) {
        let o = vec2<f32>(f32(q % p.side), f32(q / p.side));
        var s = o;
        if (p.kind == 1u) { s = o - t; }
        if (p.kind >= 2u) {
            let d = o - c - t;
            let rx = ct * d.x + st * d.y;
            let ry = -st * d.x + ct * d.y;
            s = vec2<f32>((rx - k * ry) / zoom + c, ry / zoom + c);
        }
        if (p.kind == 3u) {
            // Along y over the x-smoothed rows: the 2-D Gaussian, for both axes.
            let px = i32(q % p.side);
            let py = i32(q / p.side);
            var field = vec2<f32>(0.0);
            for (var j = max(-r, -py); j <= min(r, side - 1 - py); j++) {
                let at = u32((py + j) * side + px);
                field += taps[j + r] * vec2<f32>(rows[at], rows[pixels + at]);
            }
            s += p.alpha * field;
        }
        x[n * pixels + q] = bilinear(sample, s) / p.divisor;
    }
}
