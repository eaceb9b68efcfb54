// Batched GEMM with optional transposes and a fused bias + ReLU epilogue.
//
// gemm: for b < batch:  C_b (M,N) = op(A_b) (M,K) · op(B_b) (K,N)  [+ bias] [ReLU]
//   a    (read)  A stored (M,K), or (K,M) when TRANS_A; batch item b starts at b*stride_a
//   b    (read)  B stored (K,N), or (N,K) when TRANS_B; item b starts at b*stride_b
//   bias (read)  (M) when BIAS == 1 (per row: conv channels), (N) when BIAS == 2 (per
//                column: dense units); any 1-element buffer when BIAS == 0
//   c    (write) (M,N) row-major, item b at b*stride_c; overwritten, never accumulated
// One invocation computes a 4x4 block of C in registers; a workgroup of 8x8 invocations
// covers 32x32. workgroups = (ceil(N/32), ceil(M/32), batch).
// Register blocking, not workgroup-memory tiling: lavapipe scalarizes loads per lane, and
// shared-memory tiling measured 3-10x slower there (Mesa 22.3).

struct GemmShape { m: u32, n: u32, k: u32, batch: u32,
                   stride_a: u32, stride_b: u32, stride_c: u32, _pad: u32 }

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// 0: no bias, 1: bias[row], 2: bias[column].
override BIAS: u32 = 0u;
override RELU: bool = false;

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

@compute @workgroup_size(8, 8, 1)
fn gemm(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    let item = gid.z;
    if (row0 >= s.m || col0 >= s.n || item >= s.batch) { return; }
    let a_base = item * s.stride_a;
    let b_base = item * s.stride_b;
    // Rows/columns past the edge are clamped to the last valid one so the inner loop has
    // no branches; their results are dropped at the store.
    let r = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(s.m - 1u));
    let q = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(s.n - 1u));
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < s.k; kk++) {
        let bv = vec4<f32>(b_at(b_base, kk, q.x), b_at(b_base, kk, q.y),
                           b_at(b_base, kk, q.z), b_at(b_base, kk, q.w));
        acc0 += a_at(a_base, r.x, kk) * bv;
        acc1 += a_at(a_base, r.y, kk) * bv;
        acc2 += a_at(a_base, r.z, kk) * bv;
        acc3 += a_at(a_base, r.w, kk) * bv;
    }
    var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    let c_base = item * s.stride_c;
    // The bias binding is read unconditionally (index 0 of a dummy when BIAS == 0) so that
    // every specialization has the same bind-group layout.
    let use_bias = f32(BIAS != 0u);
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + i;
        if (row >= s.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if (col >= s.n) { break; }
            var v = acc[i][j];
            let bias_index = select(select(0u, col, BIAS == 2u), row, BIAS == 1u);
            v += use_bias * bias[bias_index];
            if (RELU) { v = max(v, 0.0); }
            c[c_base + row * s.n + col] = v;
        }
    }
}
