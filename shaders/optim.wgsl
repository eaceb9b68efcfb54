// Optimizer steps over the whole flat parameter buffer: one dispatch updates every tensor.
// Every kernel works on vec4s (L a multiple of 4: the buffer is padded to whole tensors of
// 64): lavapipe splits every load and store into one per lane, whatever its width, so a
// vec4 costs about what a float does (Adam over LeNet-5: 0.39 -> 0.21-0.24 ms).
//
// sgd_step: params (L) rw, grads (L), velocity (L) rw; PyTorch's SGD convention:
//   g' = g + weight_decay * w;  v = momentum * v + g';  w -= lr * v
//   (with momentum 0 this is plain w -= lr * g'). One invocation per 4 elements;
//   workgroups = ceil(L / 4 / WG).

struct SgdParams { len: u32, lr: f32, momentum: f32, weight_decay: f32 }

@group(0) @binding(0) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> velocity: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> sgd: SgdParams;

@compute @workgroup_size(WG)
fn sgd_step(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= sgd.len / 4u) { return; }
    let g = grads[i] + sgd.weight_decay * params[i];
    let v = sgd.momentum * velocity[i] + g;
    velocity[i] = v;
    params[i] -= sgd.lr * v;
}

// adam_step: params (L) rw, grads (L), m (L) rw, v (L) rw; PyTorch's Adam (L2 weight decay):
//   g' = g + weight_decay * w;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
//   w -= lr * (m / bias_correction1) / (sqrt(v / bias_correction2) + eps)
//   bias_correction_i = 1 - b_i^t is computed on the host for step t (f64 there).
//   One invocation per 4 elements; workgroups = ceil(L / 4 / WG).

struct AdamParams { len: u32, lr: f32, beta1: f32, beta2: f32,
                    eps: f32, weight_decay: f32, bias_correction1: f32, bias_correction2: f32 }

@group(0) @binding(2) var<storage, read_write> adam_m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> adam_v: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> adam: AdamParams;

@compute @workgroup_size(WG)
fn adam_step(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= adam.len / 4u) { return; }
    let g = grads[i] + adam.weight_decay * params[i];
    let m = adam.beta1 * adam_m[i] + (1.0 - adam.beta1) * g;
    let v = adam.beta2 * adam_v[i] + (1.0 - adam.beta2) * g * g;
    adam_m[i] = m;
    adam_v[i] = v;
    params[i] -= adam.lr * (m / adam.bias_correction1) / (sqrt(v / adam.bias_correction2) + vec4<f32>(adam.eps));
}

// sdlm_step: params (L) rw, grads (L), hessian (L): stochastic diagonal Levenberg-Marquardt
//   (LeCun et al. 1998, appendix C): w -= lr / (mu + h) * g, h the estimate of each
//   parameter's diagonal second derivative (Gauss-Newton), made before the epoch.
//   One invocation per 4 elements; workgroups = ceil(L / 4 / WG).
// scale_add: params (L) rw <- params + scale * grads: averages per-batch second-derivative
//   estimates into `hessian`.

struct SdlmParams { len: u32, lr: f32, mu: f32, scale: f32 }

@group(0) @binding(2) var<storage, read_write> hessian: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> sdlm: SdlmParams;
@group(0) @binding(2) var<uniform> axpy: SdlmParams;

@compute @workgroup_size(WG)
fn sdlm_step(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= sdlm.len / 4u) { return; }
    params[i] -= sdlm.lr / (vec4<f32>(sdlm.mu) + hessian[i]) * grads[i];
}

@compute @workgroup_size(WG)
fn scale_add(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= axpy.len / 4u) { return; }
    params[i] += axpy.scale * grads[i];
}
