// The squashing function of LeCun et al. 1998 (LeNet-1998's every layer up to F6).
//
// squash_forward:  src = a -> dst = y = f(a)
//   f(a) = A tanh(S a) with A = 1.7159, S = 2/3 (the paper's choice: f(1) = 1 and f(-1) = -1
//   are the RBF targets, where f's second derivative peaks), or with SIGMOID 1 / (1 + e^-a).
// squash_backward: src = y -> dst = g (in place): g <- g * f'(a), computed from y:
//   scaled tanh f'(a) = (S / A) (A^2 - y^2); sigmoid f'(a) = y (1 - y).
//   With SQUARED, g <- g * f'(a)^2: the Gauss-Newton second-derivative pass of SDLM.
// One invocation per element; workgroups = ceil(len / WG), spilling into y.

struct Len { len: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

const A: f32 = 1.7159;
const S: f32 = 0.6666667;
override SIGMOID: bool = false;
override SQUARED: bool = false;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> s: Len;

@compute @workgroup_size(WG)
fn squash_forward(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.len) { return; }
    let a = src[i];
    if (SIGMOID) {
        dst[i] = 1.0 / (1.0 + exp(-a));
    } else {
        // tanh(t) = 1 - 2 / (e^2t + 1): one exp, which lavapipe inlines as a vector
        // polynomial (its tanh cost ~4x more); exact limits ±1 at both infinities.
        dst[i] = A * (1.0 - 2.0 / (exp(2.0 * S * a) + 1.0));
    }
}

@compute @workgroup_size(WG)
fn squash_backward(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.len) { return; }
    let y = src[i];
    var d: f32;
    if (SIGMOID) {
        d = y * (1.0 - y);
    } else {
        d = (S / A) * (A * A - y * y);
    }
    if (SQUARED) { d = d * d; }
    dst[i] = dst[i] * d;
}
