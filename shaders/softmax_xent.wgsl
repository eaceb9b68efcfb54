// Softmax + categorical cross-entropy, forward fused with backward.
//
// softmax_xent_forward_backward:
//   logits (N, CLASSES), labels (N) u32 ->
//   probs   (N, CLASSES)  softmax(logits)
//   dlogits (N, CLASSES)  d(mean loss)/d logits = (probs - onehot(label)) / N
//   loss    (N)           -log probs[label] = logsumexp(logits) - logits[label]
//   One invocation per sample; workgroups = ceil(N / WG).

struct XentShape { n: u32, classes: u32, _pad0: u32, _pad1: u32 }

const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<uniform> s: XentShape;

@compute @workgroup_size(WG)
fn softmax_xent_forward_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= s.n) { return; }
    let base = i * s.classes;
    var m = logits[base];
    for (var j = 1u; j < s.classes; j++) { m = max(m, logits[base + j]); }
    var sum = 0.0;
    for (var j = 0u; j < s.classes; j++) { sum += exp(logits[base + j] - m); }
    let label = labels[i];
    let inv_n = 1.0 / f32(s.n);
    for (var j = 0u; j < s.classes; j++) {
        let p = exp(logits[base + j] - m) / sum;
        probs[base + j] = p;
        dlogits[base + j] = (p - select(0.0, 1.0, j == label)) * inv_n;
    }
    loss[i] = log(sum) + m - logits[base + label];
}
