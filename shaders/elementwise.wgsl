// Element-wise kernels. (A ReLU's backward has no kernel of its own: it is fused into the
// product that yields its incoming gradient, `MASK` in gemm.wgsl, or into the max-pool's
// backward, maxpool2x2_relu_backward in pool.wgsl.)
//
// square: y -> g = y * y (SDLM's Gauss-Newton pass runs the backward kernels on squared
//   activations and weights). One invocation per element.

struct Len { len: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<uniform> s: Len;

@compute @workgroup_size(WG)
fn square(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.len) { return; }
    g[i] = y[i] * y[i];
}
