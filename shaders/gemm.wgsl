// Batched GEMM with optional transposes and a fused epilogue: bias + ReLU, or a ReLU's mask.
//
// gemm: for b < batch:  C_b (M,N) = op(A_b) (M,K) · op(B_b) (K,N)  [+ bias] [ReLU] [· mask]
//   a    (read)  A stored (M,K), or (K,M) when TRANS_A; batch item b starts at b*stride_a
//   b    (read)  B stored (K,N), or (N,K) when TRANS_B; item b starts at b*stride_b
//   bias (read)  (M) when BIAS == 1 (per row: conv channels), (N) when BIAS == 2 (per
//                column: dense units); with MASK, a ReLU's output y laid out as C:
//                C = (A·B) · (y > 0), the ReLU's backward fused into the product that
//                yields its incoming gradient; else any 1-element buffer
//   c    (write) (M,N) row-major, item b at b*stride_c; overwritten, never accumulated
// One invocation computes an 8x8 block of C in registers (16 loads per 64 multiply-adds);
// a workgroup of 8x8 invocations covers 64x64. workgroups = (ceil(N/64), ceil(M/64), batch).
// Register blocking, not workgroup-memory tiling: lavapipe scalarizes loads per lane, and
// shared-memory tiling measured 3-10x slower there (Mesa 22.3). 8x8 instead of 4x4 blocks:
// conv2 forward 7.9 -> 6.7 ms, conv2 input gradient 9.8 -> 7.9 ms (Mesa 25, BENCHMARKS.md).

struct GemmShape { m: u32, n: u32, k: u32, batch: u32,
                   stride_a: u32, stride_b: u32, stride_c: u32, _pad: u32 }

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// 0: no bias, 1: bias[row], 2: bias[column].
override BIAS: u32 = 0u;
override RELU: bool = false;
// C *= (bias[C's index] > 0): the bias binding holds a ReLU's output (BIAS is then 0).
override MASK: bool = false;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> s: GemmShape;

fn a_at(base: u32, row: u32, kk: u32) -> f32 {
    if (TRANS_A) { return a[base + kk * s.m + row]; }
    return a[base + row * s.k + kk];
}

fn b_at(base: u32, kk: u32, col: u32) -> f32 {
    if (TRANS_B) { return b[base + col * s.k + kk]; }
    return b[base + kk * s.n + col];
}

// The epilogue of both kernels: bias, ReLU, and the store of the in-range part of a 4x4
// block. The bias binding is read unconditionally (index 0 of a dummy when BIAS == 0) so
// that every specialization has the same bind-group layout.
fn store_block(acc: array<vec4<f32>, 4>, row0: u32, col0: u32, c_base: u32) {
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + i;
        if (row >= s.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if (col >= s.n) { break; }
            store_one(acc[i][j], row, col, c_base);
        }
    }
}

fn store_one(sum: f32, row: u32, col: u32, c_base: u32) {
    let use_bias = f32(BIAS != 0u);
    var v = sum;
    let bias_index = select(select(0u, col, BIAS == 2u), row, BIAS == 1u);
    v += use_bias * bias[bias_index];
    if (RELU) { v = max(v, 0.0); }
    let at = c_base + row * s.n + col;
    if (MASK) { v = select(0.0, v, bias[at] > 0.0); }
    c[at] = v;
}

// gemm_simple: 4 outputs of one row per invocation in a plain loop over k: the quickest
// variant to compile (what a cold start runs while the others compile), not the fastest
// to run. workgroups = (ceil(N/32), ceil(M/8), batch).
@compute @workgroup_size(8, 8, 1)
fn gemm_simple(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col0 = gid.x * 4u;
    let item = gid.z;
    if (row >= s.m || col0 >= s.n || item >= s.batch) { return; }
    let a_base = item * s.stride_a;
    let b_base = item * s.stride_b;
    let q = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(s.n - 1u));
    var acc = vec4<f32>(0.0);
    for (var kk = 0u; kk < s.k; kk++) {
        let bk = vec4<f32>(b_at(b_base, kk, q.x), b_at(b_base, kk, q.y),
                           b_at(b_base, kk, q.z), b_at(b_base, kk, q.w));
        acc += a_at(a_base, row, kk) * bk;
    }
    let c_base = item * s.stride_c;
    for (var j = 0u; j < 4u; j++) {
        if (col0 + j < s.n) { store_one(acc[j], row, col0 + j, c_base); }
    }
}

@compute @workgroup_size(8, 8, 1)
fn gemm(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 8u;
    let col0 = gid.x * 8u;
    let item = gid.z;
    if (row0 >= s.m || col0 >= s.n || item >= s.batch) { return; }
    let a_base = item * s.stride_a;
    let b_base = item * s.stride_b;
    // Rows/columns past the edge are clamped to the last valid one so the inner loop has
    // no branches; their results are dropped at the store.
    let step = vec4<u32>(0u, 1u, 2u, 3u);
    let r_lo = min(vec4<u32>(row0) + step, vec4<u32>(s.m - 1u));
    let r_hi = min(vec4<u32>(row0 + 4u) + step, vec4<u32>(s.m - 1u));
    let q_lo = min(vec4<u32>(col0) + step, vec4<u32>(s.n - 1u));
    let q_hi = min(vec4<u32>(col0 + 4u) + step, vec4<u32>(s.n - 1u));
    // acc_r_h: row r of the block, columns 4h..4h+3.
    var acc0_0 = vec4<f32>(0.0); var acc0_1 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0); var acc1_1 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0); var acc2_1 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0); var acc3_1 = vec4<f32>(0.0);
    var acc4_0 = vec4<f32>(0.0); var acc4_1 = vec4<f32>(0.0);
    var acc5_0 = vec4<f32>(0.0); var acc5_1 = vec4<f32>(0.0);
    var acc6_0 = vec4<f32>(0.0); var acc6_1 = vec4<f32>(0.0);
    var acc7_0 = vec4<f32>(0.0); var acc7_1 = vec4<f32>(0.0);
    for (var kk = 0u; kk < s.k; kk++) {
        let b_lo = vec4<f32>(b_at(b_base, kk, q_lo.x), b_at(b_base, kk, q_lo.y),
                             b_at(b_base, kk, q_lo.z), b_at(b_base, kk, q_lo.w));
        let b_hi = vec4<f32>(b_at(b_base, kk, q_hi.x), b_at(b_base, kk, q_hi.y),
                             b_at(b_base, kk, q_hi.z), b_at(b_base, kk, q_hi.w));
        let a0 = a_at(a_base, r_lo.x, kk); acc0_0 += a0 * b_lo; acc0_1 += a0 * b_hi;
        let a1 = a_at(a_base, r_lo.y, kk); acc1_0 += a1 * b_lo; acc1_1 += a1 * b_hi;
        let a2 = a_at(a_base, r_lo.z, kk); acc2_0 += a2 * b_lo; acc2_1 += a2 * b_hi;
        let a3 = a_at(a_base, r_lo.w, kk); acc3_0 += a3 * b_lo; acc3_1 += a3 * b_hi;
        let a4 = a_at(a_base, r_hi.x, kk); acc4_0 += a4 * b_lo; acc4_1 += a4 * b_hi;
        let a5 = a_at(a_base, r_hi.y, kk); acc5_0 += a5 * b_lo; acc5_1 += a5 * b_hi;
        let a6 = a_at(a_base, r_hi.z, kk); acc6_0 += a6 * b_lo; acc6_1 += a6 * b_hi;
        let a7 = a_at(a_base, r_hi.w, kk); acc7_0 += a7 * b_lo; acc7_1 += a7 * b_hi;
    }
    let c_base = item * s.stride_c;
    store_block(array<vec4<f32>, 4>(acc0_0, acc1_0, acc2_0, acc3_0), row0, col0, c_base);
    store_block(array<vec4<f32>, 4>(acc0_1, acc1_1, acc2_1, acc3_1), row0, col0 + 4u, c_base);
    store_block(array<vec4<f32>, 4>(acc4_0, acc5_0, acc6_0, acc7_0), row0 + 4u, col0, c_base);
    store_block(array<vec4<f32>, 4>(acc4_1, acc5_1, acc6_1, acc7_1), row0 + 4u, col0 + 4u, c_base);
}

// gemm_vec4: the same product in 4x4 blocks with 128-bit loads, 4 k-steps per iteration:
// 8 vec4 loads per 64 multiply-adds; workgroups = (ceil(N/32), ceil(M/32), batch). Measured on lavapipe (Mesa 22.3.6, 2 cores,
// BENCHMARKS.md): no faster than `gemm` (fc1 forward 8.6 vs 8.1 ms, conv2 dW 37 vs 33 ms),
// so loads are not what limits these kernels there; kept for GPUs with real 128-bit loads.
// Requires K % 4 == 0, M % 4 == 0 when TRANS_A, N % 4 == 0 when not TRANS_B, batch strides
// and bound ranges multiples of 4 (the host checks, and uses `gemm` otherwise).
@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;

@compute @workgroup_size(8, 8, 1)
fn gemm_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    let item = gid.z;
    if (row0 >= s.m || col0 >= s.n || item >= s.batch) { return; }
    let a_base = item * s.stride_a;
    let b_base = item * s.stride_b;
    let r = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(s.m - 1u));
    let q = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(s.n - 1u));
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < s.k; k += 4u) {
        // a_j: A's values at k + j for rows r; b_j: B's values at k + j for columns q.
        var a_0: vec4<f32>; var a_1: vec4<f32>; var a_2: vec4<f32>; var a_3: vec4<f32>;
        if (TRANS_A) {
            a_0 = a4[(a_base + k * s.m + row0) / 4u];
            a_1 = a4[(a_base + (k + 1u) * s.m + row0) / 4u];
            a_2 = a4[(a_base + (k + 2u) * s.m + row0) / 4u];
            a_3 = a4[(a_base + (k + 3u) * s.m + row0) / 4u];
        } else {
            let x0 = a4[(a_base + r.x * s.k + k) / 4u];
            let x1 = a4[(a_base + r.y * s.k + k) / 4u];
            let x2 = a4[(a_base + r.z * s.k + k) / 4u];
            let x3 = a4[(a_base + r.w * s.k + k) / 4u];
            a_0 = vec4<f32>(x0.x, x1.x, x2.x, x3.x);
            a_1 = vec4<f32>(x0.y, x1.y, x2.y, x3.y);
            a_2 = vec4<f32>(x0.z, x1.z, x2.z, x3.z);
            a_3 = vec4<f32>(x0.w, x1.w, x2.w, x3.w);
        }
        var b_0: vec4<f32>; var b_1: vec4<f32>; var b_2: vec4<f32>; var b_3: vec4<f32>;
        if (TRANS_B) {
            let y0 = b4[(b_base + q.x * s.k + k) / 4u];
            let y1 = b4[(b_base + q.y * s.k + k) / 4u];
            let y2 = b4[(b_base + q.z * s.k + k) / 4u];
            let y3 = b4[(b_base + q.w * s.k + k) / 4u];
            b_0 = vec4<f32>(y0.x, y1.x, y2.x, y3.x);
            b_1 = vec4<f32>(y0.y, y1.y, y2.y, y3.y);
            b_2 = vec4<f32>(y0.z, y1.z, y2.z, y3.z);
            b_3 = vec4<f32>(y0.w, y1.w, y2.w, y3.w);
        } else {
            b_0 = b4[(b_base + k * s.n + col0) / 4u];
            b_1 = b4[(b_base + (k + 1u) * s.n + col0) / 4u];
            b_2 = b4[(b_base + (k + 2u) * s.n + col0) / 4u];
            b_3 = b4[(b_base + (k + 3u) * s.n + col0) / 4u];
        }
        acc0 += a_0.x * b_0 + a_1.x * b_1 + a_2.x * b_2 + a_3.x * b_3;
        acc1 += a_0.y * b_0 + a_1.y * b_1 + a_2.y * b_2 + a_3.y * b_3;
        acc2 += a_0.z * b_0 + a_1.z * b_1 + a_2.z * b_2 + a_3.z * b_3;
        acc3 += a_0.w * b_0 + a_1.w * b_1 + a_2.w * b_2 + a_3.w * b_3;
    }
    store_block(array<vec4<f32>, 4>(acc0, acc1, acc2, acc3), row0, col0, item * s.stride_c);
}
