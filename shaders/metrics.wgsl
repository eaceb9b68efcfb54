// Running loss and accuracy, kept on the GPU so training never waits for a readback.
//
// metrics_accumulate: probs (N, CLASSES), labels (N), loss (N) ->
//   metrics[0] += sum(loss) (f32 bits), metrics[1] += #(argmax probs == label),
//   metrics[2] += N.  Argmax ties go to the lowest class.
//   One workgroup of WG invocations with a fixed-order tree, so sums are deterministic.
//   workgroups = 1.

struct XentShape { n: u32, classes: u32, _pad0: u32, _pad1: u32 }

const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> metrics: array<u32>;
@group(0) @binding(4) var<uniform> s: XentShape;

var<workgroup> loss_part: array<f32, WG>;
var<workgroup> correct_part: array<u32, WG>;

@compute @workgroup_size(WG)
fn metrics_accumulate(@builtin(local_invocation_index) lid: u32) {
    var l = 0.0;
    var correct = 0u;
    for (var i = lid; i < s.n; i += WG) {
        l += loss[i];
        let base = i * s.classes;
        var best = 0u;
        for (var j = 1u; j < s.classes; j++) {
            if (probs[base + j] > probs[base + best]) { best = j; }
        }
        correct += select(0u, 1u, best == labels[i]);
    }
    loss_part[lid] = l;
    correct_part[lid] = correct;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            loss_part[lid] += loss_part[lid + stride];
            correct_part[lid] += correct_part[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        metrics[0] = bitcast<u32>(bitcast<f32>(metrics[0]) + loss_part[0]);
        metrics[1] += correct_part[0];
        metrics[2] += s.n;
    }
}
