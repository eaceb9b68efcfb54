// Optimizer steps over the whole flat parameter buffer: one dispatch updates every tensor.
//
// sgd_step: params (L) rw, grads (L), velocity (L) rw; PyTorch's SGD convention:
//   g' = g + weight_decay * w;  v = momentum * v + g';  w -= lr * v
//   (with momentum 0 this is plain w -= lr * g'). One invocation per element;
//   workgroups = ceil(L / WG).

struct SgdParams { len: u32, lr: f32, momentum: f32, weight_decay: f32 }

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<uniform> sgd: SgdParams;

@compute @workgroup_size(WG)
fn sgd_step(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= sgd.len) { return; }
    let g = grads[i] + sgd.weight_decay * params[i];
    let v = sgd.momentum * velocity[i] + g;
    velocity[i] = v;
    params[i] -= sgd.lr * v;
}
