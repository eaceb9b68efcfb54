// Element-wise kernels.
//
// relu_backward: g (in place) <- g * (y > 0), with y the ReLU's output.
//   The forward ReLU is fused into the GEMM epilogue; this masks the incoming gradient
//   with that output. One invocation per element; workgroups = ceil(len / WG).
// square: y -> g = y * y (SDLM's Gauss-Newton pass runs the backward kernels on squared
//   activations and weights). One invocation per element.

struct Len { len: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<uniform> s: Len;

@compute @workgroup_size(WG)
fn relu_backward(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= s.len) { return; }
    g[i] = select(0.0, g[i], y[i] > 0.0);
}

@compute @workgroup_size(WG)
fn square(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= s.len) { return; }
    g[i] = y[i] * y[i];
}
