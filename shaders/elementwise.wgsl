// Element-wise kernels.
//
// relu_backward: g (in place) <- g * (y > 0), with y the ReLU's output.
//   The forward ReLU is fused into the GEMM epilogue; this masks the incoming gradient
//   with that output. One invocation per element; workgroups = ceil(len / WG).
// relu_backward_vec4: the same for len a multiple of 4, one invocation per 4 elements:
//   lavapipe splits every load and store into one per lane, whatever its width, so this
//   does a quarter of the memory operations. workgroups = ceil(len / 4 / WG).
// square: y -> g = y * y (SDLM's Gauss-Newton pass runs the backward kernels on squared
//   activations and weights). One invocation per element.

struct Len { len: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<uniform> s: Len;
// The same buffers as vec4s, for relu_backward_vec4 (bindings are per entry point).
@group(0) @binding(0) var<storage, read> y4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> g4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn relu_backward(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= s.len) { return; }
    g[i] = select(0.0, g[i], y[i] > 0.0);
}

@compute @workgroup_size(WG)
fn relu_backward_vec4(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= s.len / 4u) { return; }
    g4[i] = select(vec4<f32>(0.0), g4[i], y4[i] > vec4<f32>(0.0));
}

@compute @workgroup_size(WG)
fn square(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= s.len) { return; }
    g[i] = y[i] * y[i];
}
