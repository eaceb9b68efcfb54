// Gradient ascent on input images, and the image regularizers.
//
// ascent_step: x (N, L) rw, g (N, L) ->  x += lr * g / (rms(g) + 1e-8), then
//   x *= (1 - l2), then clamp to [lo, hi]. rms over each image's L values. One workgroup of
//   WG invocations per image (tree reduction in workgroup memory); workgroups = N.
// blur3x3: src (N, H, W) -> dst: separable [1 2 1]/4 Gaussian, edges clamped.
//   One invocation per pixel; workgroups = ceil(N*H*W / WG).
// roll2d: src (N, H, W) -> dst[n, (h + dy) mod H, (w + dx) mod W] = src[n, h, w] (jitter).
//   One invocation per pixel; workgroups = ceil(N*H*W / WG).
// tv_gradient: src (N, H, W), dst (N, H, W) rw -> dst += coef * d TV(src) / d src, with
//   TV = sum over neighbour pairs inside the image of (difference)^2 (Mahendran & Vedaldi's
//   beta = 2 total variation). One invocation per pixel; workgroups = ceil(N*H*W / WG).

struct AscentParams { n: u32, len: u32, lr: f32, l2: f32, lo: f32, hi: f32, _pad0: u32, _pad1: u32 }
struct TvParams { n: u32, h: u32, w: u32, coef: f32 }
struct ImageShape { n: u32, h: u32, w: u32, shift_y: i32, shift_x: i32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<uniform> a: AscentParams;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn ascent_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let image = wid.x;
    if (image >= a.n) { return; } // uniform per workgroup: safe before the barriers
    let base = image * a.len;
    var sq = 0.0;
    for (var i = lid; i < a.len; i += WG) { sq += g[base + i] * g[base + i]; }
    partial[lid] = sq;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) { partial[lid] += partial[lid + stride]; }
        workgroupBarrier();
    }
    let scale = a.lr / (sqrt(partial[0] / f32(a.len)) + 1e-8);
    for (var i = lid; i < a.len; i += WG) {
        let v = (x[base + i] + scale * g[base + i]) * (1.0 - a.l2);
        x[base + i] = clamp(v, a.lo, a.hi);
    }
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> im: ImageShape;

fn pixel(n: u32, h: i32, w: i32) -> f32 {
    let hh = u32(clamp(h, 0, i32(im.h) - 1));
    let ww = u32(clamp(w, 0, i32(im.w) - 1));
    return src[(n * im.h + hh) * im.w + ww];
}

@compute @workgroup_size(WG)
fn blur3x3(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= im.n * im.h * im.w) { return; }
    let w = i32(i % im.w);
    let h = i32((i / im.w) % im.h);
    let n = i / (im.w * im.h);
    var acc = 0.0;
    let k = array<f32, 3>(0.25, 0.5, 0.25);
    for (var dh = -1; dh <= 1; dh++) {
        for (var dw = -1; dw <= 1; dw++) {
            acc += k[dh + 1] * k[dw + 1] * pixel(n, h + dh, w + dw);
        }
    }
    dst[i] = acc;
}

@compute @workgroup_size(WG)
fn roll2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= im.n * im.h * im.w) { return; }
    let w = i % im.w;
    let h = (i / im.w) % im.h;
    let n = i / (im.w * im.h);
    // ((v + shift) mod size) with a possibly negative shift, in i32.
    let th = u32(((i32(h) + im.shift_y) % i32(im.h) + i32(im.h)) % i32(im.h));
    let tw = u32(((i32(w) + im.shift_x) % i32(im.w) + i32(im.w)) % i32(im.w));
    dst[(n * im.h + th) * im.w + tw] = src[i];
}

@group(0) @binding(2) var<uniform> tv: TvParams;

@compute @workgroup_size(WG)
fn tv_gradient(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= tv.n * tv.h * tv.w) { return; }
    let w = i % tv.w;
    let h = (i / tv.w) % tv.h;
    let v = src[i];
    // d/dv of (v - up)^2 + (down - v)^2 + (v - left)^2 + (right - v)^2, where they exist.
    var d = 0.0;
    if (h > 0u) { d += 2.0 * (v - src[i - tv.w]); }
    if (h + 1u < tv.h) { d -= 2.0 * (src[i + tv.w] - v); }
    if (w > 0u) { d += 2.0 * (v - src[i - 1u]); }
    if (w + 1u < tv.w) { d -= 2.0 * (src[i + 1u] - v); }
    dst[i] += tv.coef * d;
}
