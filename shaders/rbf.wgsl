// LeNet-1998's output: Euclidean RBF units and the paper's loss (eq. 9), forward fused with
// backward.
//
// rbf_loss_forward_backward:
//   x (N, UNITS) F6's outputs, centers (CLASSES, UNITS) fixed, labels (N) ->
//   dist  (N, CLASSES)  y_i = sum_j (x_j - centers[i, j])^2; the prediction is argmin y
//   probs (N, CLASSES)  softmin of y, exp(-y_i) / sum_k exp(-y_k): argmax = argmin y, so
//                       accuracy and the confusion matrix read it like softmax outputs
//   loss  (N)           E = y_label + log(exp(-J) + sum_i exp(-y_i))   (eq. 9, J > 0)
//   dx    (N, UNITS)    d(mean E)/dx_j = sum_i dE/dy_i * 2 (x_j - c_ij) / N with
//                       dE/dy_i = [i == label] - exp(-y_i) / (exp(-J) + sum_k exp(-y_k))
//   With CURVATURE (SDLM's Gauss-Newton pass): dx = d^2(y_label / N)/dx_j^2 = 2 / N instead;
//   without GRADIENT (evaluation) dx is not written (half the kernel's loads).
//   One invocation per sample; workgroups = ceil(N / WG).

struct RbfShape { n: u32, classes: u32, units: u32, _pad0: u32, j: f32, _pad1: u32, _pad2: u32, _pad3: u32 }

const WG: u32 = 64u;
const MAX_CLASSES: u32 = 16u;
override CURVATURE: bool = false;
override GRADIENT: bool = true;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> centers: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dist: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<uniform> s: RbfShape;

@compute @workgroup_size(WG)
fn rbf_loss_forward_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= s.n) { return; }
    let xb = n * s.units;
    let yb = n * s.classes;
    var y_min = 3.4e38;
    for (var i = 0u; i < s.classes; i++) {
        var d = 0.0;
        for (var j = 0u; j < s.units; j++) {
            let diff = x[xb + j] - centers[i * s.units + j];
            d += diff * diff;
        }
        dist[yb + i] = d;
        y_min = min(y_min, d);
    }
    // Shifted by m = min(J, min y) so that no exponent overflows.
    let m = min(s.j, y_min);
    var z = exp(m - s.j);
    var soft = 0.0;
    for (var i = 0u; i < s.classes; i++) {
        z += exp(m - dist[yb + i]);
        soft += exp(y_min - dist[yb + i]);
    }
    let label = labels[n];
    loss[n] = dist[yb + label] - m + log(z);
    var dy: array<f32, MAX_CLASSES>;
    for (var i = 0u; i < s.classes; i++) {
        probs[yb + i] = exp(y_min - dist[yb + i]) / soft;
        dy[i] = select(0.0, 1.0, i == label) - exp(m - dist[yb + i]) / z;
    }
    if (!GRADIENT) { return; }
    let inv_n = 1.0 / f32(s.n);
    for (var j = 0u; j < s.units; j++) {
        if (CURVATURE) {
            dx[xb + j] = 2.0 * inv_n;
            continue;
        }
        var g = 0.0;
        for (var i = 0u; i < s.classes; i++) {
            g += dy[i] * 2.0 * (x[xb + j] - centers[i * s.units + j]);
        }
        dx[xb + j] = g * inv_n;
    }
}
