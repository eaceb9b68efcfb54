// LeNet-1998's trainable subsampling (S2, S4): each 2x2 window's four inputs are summed,
// multiplied by one trainable coefficient per map, and a trainable bias per map is added
// With SQUASH the forward then applies the squashing function (1: the scaled tanh, 2: the
// sigmoid, as squash.wgsl computes them), saving that kernel's pass. Stride 2; an odd last
// row/column is dropped.
//
// subsample_forward: x (N,C,H,W), coef (C), bias (C) -> a (N,C,H/2,W/2)
//   a[n,c,i,j] = coef[c] * (x[2i,2j] + x[2i,2j+1] + x[2i+1,2j] + x[2i+1,2j+1]) + bias[c]
//   (then f(a) with SQUASH)
//   One invocation per output; workgroups = ceil(len(a) / WG).
// subsample_backward: x, coef, da (N,C,H/2,W/2) -> dx (N,C,H,W), terms (N,C,H/2,W/2)
//   dx = coef[c] * da[window] for the window's four inputs, 0 for a dropped row/column;
//   terms = da * window sum, whose sum over (n, i, j) is d coef[c] (sum_reduce; d bias[c]
//   is the same sum of da). With SQUARED (SDLM's Gauss-Newton pass, da holding second
//   derivatives): dx = coef^2 * da, terms = da * (window sum)^2. With INPUT_SQUASH (x is
//   the squashed output of the layer before: 1 the scaled tanh, 2 the sigmoid), dx is also
//   times f'(a), from x as squash_backward computes it (f'(a)^2 with SQUARED): that
//   layer's gradient w.r.t. its pre-activation, saving squash_backward's pass.
//   One invocation per window, writing its four dx entries; workgroups = ceil(len(a) / WG).

struct PoolShape { n: u32, c: u32, h: u32, w: u32 }

override SQUARED: bool = false;
override SQUASH: u32 = 0u;
override INPUT_SQUASH: u32 = 0u;

const A: f32 = 1.7159;
const S: f32 = 0.6666667;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> coef: array<f32>;
// Forward: bias; backward: da. Both read-only (N)/(C) arrays.
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read> da: array<f32>;
// Forward: a; backward: dx.
@group(0) @binding(3) var<storage, read_write> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> s_forward: PoolShape;
@group(0) @binding(4) var<storage, read_write> terms: array<f32>;
@group(0) @binding(5) var<uniform> s: PoolShape;

@compute @workgroup_size(WG)
fn subsample_forward(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let sh = s_forward;
    let i = linear_id(wid, nwg, lid);
    let oh_n = sh.h / 2u;
    let ow_n = sh.w / 2u;
    if (i >= sh.n * sh.c * oh_n * ow_n) { return; }
    let ow = i % ow_n;
    let oh = (i / ow_n) % oh_n;
    let plane = i / (ow_n * oh_n); // n * C + c
    let c = plane % sh.c;
    let tl = (plane * sh.h + 2u * oh) * sh.w + 2u * ow;
    let sum = x[tl] + x[tl + 1u] + x[tl + sh.w] + x[tl + sh.w + 1u];
    let v = coef[c] * sum + bias[c];
    if (SQUASH == 1u) {
        a[i] = 1.7159 * (1.0 - 2.0 / (exp(2.0 * 0.6666667 * v) + 1.0));
    } else if (SQUASH == 2u) {
        a[i] = 1.0 / (1.0 + exp(-v));
    } else {
        a[i] = v;
    }
}

@compute @workgroup_size(WG)
fn subsample_backward(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    let oh_n = s.h / 2u;
    let ow_n = s.w / 2u;
    if (i >= s.n * s.c * oh_n * ow_n) { return; }
    let ow = i % ow_n;
    let oh = (i / ow_n) % oh_n;
    let plane = i / (ow_n * oh_n);
    let c = plane % s.c;
    let tl = (plane * s.h + 2u * oh) * s.w + 2u * ow;
    let window = vec4<f32>(x[tl], x[tl + 1u], x[tl + s.w], x[tl + s.w + 1u]);
    let sum = window.x + window.y + window.z + window.w;
    var g = coef[c] * da[i];
    var t = da[i] * sum;
    if (SQUARED) {
        g = coef[c] * g;
        t = t * sum;
    }
    terms[i] = t;
    var d = vec4<f32>(1.0);
    if (INPUT_SQUASH == 1u) {
        d = (S / A) * (A * A - window * window);
    } else if (INPUT_SQUASH == 2u) {
        d = window * (1.0 - window);
    }
    if (SQUARED) { d = d * d; }
    let gd = vec4<f32>(g) * d;
    dx[tl] = gd.x;
    dx[tl + 1u] = gd.y;
    dx[tl + s.w] = gd.z;
    dx[tl + s.w + 1u] = gd.w;
    let last_col = (s.w % 2u) == 1u && ow == ow_n - 1u;
    if (last_col) {
        dx[tl + 2u] = 0.0;
        dx[tl + s.w + 2u] = 0.0;
    }
    if ((s.h % 2u) == 1u && oh == oh_n - 1u) {
        let below = tl + 2u * s.w;
        dx[below] = 0.0;
        dx[below + 1u] = 0.0;
        if (last_col) { dx[below + 2u] = 0.0; }
    }
}
