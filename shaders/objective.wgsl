// Objectives for gradient ascent on the input, and their gradients: where backward starts.
//
// class_objective_backward: logits (N, CLASSES), probs (N, CLASSES), targets (N) u32 ->
//   MODE 0 (logit):   objective[n] = logits[n, t];   dlogits[n, j] = (j == t)
//   MODE 1 (softmax): objective[n] = probs[n, t];    dlogits[n, j] = p_t ((j == t) - p_j)
//   with t = targets[n]. One invocation per sample; workgroups = ceil(N / 64).
//
// channel_objective_backward: y (N, C, HW) (a ReLU layer's output), targets (N) u32 ->
//   objective[n] = mean_hw y[n, t, hw];  dy[n, c, hw] = (c == t) / HW
//   (the ReLU mask is applied by the backward pass that follows). One invocation per
//   (n, c), writing its HW gradient entries; workgroups = ceil(N*C / 64).

struct XentShape { n: u32, classes: u32, _pad0: u32, _pad1: u32 }
struct ChannelShape { n: u32, c: u32, hw: u32, _pad: u32 }

override MODE: u32 = 0u;
const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> objective: array<f32>;
@group(0) @binding(5) var<uniform> xs: XentShape;

@compute @workgroup_size(WG)
fn class_objective_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= xs.n) { return; }
    let base = n * xs.classes;
    let t = targets[n];
    let pt = probs[base + t];
    for (var j = 0u; j < xs.classes; j++) {
        let onehot = select(0.0, 1.0, j == t);
        if (MODE == 0u) {
            dlogits[base + j] = onehot;
        } else {
            dlogits[base + j] = pt * (onehot - probs[base + j]);
        }
    }
    objective[n] = select(pt, logits[base + t], MODE == 0u);
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> channel_targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> channel_objective: array<f32>;
@group(0) @binding(4) var<uniform> cs: ChannelShape;

@compute @workgroup_size(WG)
fn channel_objective_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x; // n * C + c
    if (i >= cs.n * cs.c) { return; }
    let n = i / cs.c;
    let c = i % cs.c;
    let hit = c == channel_targets[n];
    let g = select(0.0, 1.0 / f32(cs.hw), hit);
    var sum = 0.0;
    for (var k = 0u; k < cs.hw; k++) {
        dy[i * cs.hw + k] = g;
        sum += y[i * cs.hw + k];
    }
    if (hit) { channel_objective[n] = sum / f32(cs.hw); }
}
