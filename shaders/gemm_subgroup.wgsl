// Batched GEMM for subgroups of LANES invocations (lavapipe: 4, 8 or 16 with 128-, 256- or
// 512-bit vectors): the same product and epilogue as `gemm` in gemm.wgsl, with operands
// shared through subgroup broadcasts instead of loads. The host prints LANES and the
// functions over lanes in front of this file (`gemm_subgroup_prelude`, src/gpu/shader.rs).
//
// Why: lavapipe runs a subgroup as one SIMD group and splits every storage load whose
// offset is not a compile-time constant into one scalar load per lane, each with a bounds
// check and a branch; arithmetic is nearly free. `gemm` makes every invocation load its
// own copy of A and B. Here one workgroup is one subgroup that computes a tile of
// (4 * ROW_QUADS) rows x (LANES * 4 * COL_QUADS) columns: per LANES steps of K, lane l
// loads A(row, k0 + l) once for every row of the tile and the others get it by
// `subgroupBroadcast` (a register shuffle); each lane loads B for its own columns as
// vec4s (one bounds-checked loop per vec4, not four).
//
// `gemm_sg_a4` is the same product with A read as vec4s too, which quarters its loads:
// along K when A is (M, K) (lane l loads 4 values of K for every row), along M when A is
// stored (K, M) (lane l loads 4 rows at one k). A loop over lanes i then hands lane i's
// quads to all lanes by `subgroupShuffle`. Its tiles are at most 16 rows (ROW_QUADS <= 4)
// so that every loop over rows is unrolled: lavapipe keeps a private array indexed by a
// loop variable in scratch memory, read and written one lane at a time, and at 32 rows it
// ran 3x slower. Measured on lavapipe (8 lanes), batch 100: fc1's forward 1.07 -> 0.78 ms,
// weight gradient 0.89 -> 0.59, input gradient 0.98 -> 0.68. It needs K % 4 == 0
// (M % 4 == 0 when TRANS_A) and A's offsets and bound range multiples of 4.
//
// Requires: subgroups of exactly LANES (a multiple of 4; the host checks the adapter), and
// B readable as aligned vec4s: N % 4 == 0 (not TRANS_B) or K % 4 == 0 (TRANS_B), with the
// batch stride and the bound range multiples of 4.
// workgroups = (ceil(N / (LANES * 4 * COL_QUADS)), ceil(M / (4 * ROW_QUADS)), batch).

// No `enable subgroups;`: naga 30 rejects the directive and checks the device's SUBGROUP
// feature instead.

struct GemmShape { m: u32, n: u32, k: u32, batch: u32,
                   stride_a: u32, stride_b: u32, stride_c: u32, _pad: u32 }

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// 0: no bias, 1: bias[row], 2: bias[column].
override BIAS: u32 = 0u;
override RELU: bool = false;
// C *= (bias[C's index] > 0): the bias binding holds a ReLU's output (BIAS is then 0).
override MASK: bool = false;
// Tile rows / 4 (1..=8) and columns per lane / 4 (1..=2).
override ROW_QUADS: u32 = 4u;
override COL_QUADS: u32 = 1u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
// The same binding read as vec4s, by `gemm_sg_a4` only.
@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> s: GemmShape;

// acc[r][cq]: tile row r, this lane's column quad cq (module scope so that both entry
// points share `store_tile`).
var<private> acc: array<array<vec4<f32>, 2>, 32>;

fn a_at(base: u32, row: u32, kk: u32) -> f32 {
    if (TRANS_A) { return a[base + kk * s.m + row]; }
    return a[base + row * s.k + kk];
}

// B(k0 .. k0 + LANES - 1, col .. col + 3) for one column quad of this lane: out[kk] is row
// k0 + kk. Rows past K read as 0 (and their A is 0), so a partial last chunk needs no branch.
fn b_chunk(base: u32, k0: u32, col: u32) -> array<vec4<f32>, LANES> {
    var out: array<vec4<f32>, LANES>;
    let zero = vec4<f32>(0.0);
    if (TRANS_B) {
        // B stored (N, K): each column's LANES values are LANES / 4 vec4s along K.
        for (var j = 0u; j < 4u; j++) {
            let q = min(col + j, s.n - 1u);
            let at = (base + q * s.k + k0) / 4u;
            for (var h = 0u; h < LANES / 4u; h++) {
                let ok = k0 + 4u * h < s.k;
                let v = select(zero, b4[at + select(0u, h, ok)], ok);
                out[4u * h][j] = v.x; out[4u * h + 1u][j] = v.y; out[4u * h + 2u][j] = v.z; out[4u * h + 3u][j] = v.w;
            }
        }
    } else {
        // B stored (K, N): row k0 + kk of this quad is one vec4.
        let q = min(col, s.n - 4u);
        for (var kk = 0u; kk < LANES; kk++) {
            let k = k0 + kk;
            out[kk] = select(zero, b4[(base + min(k, s.k - 1u) * s.n + q) / 4u], k < s.k);
        }
    }
    return out;
}

@compute @workgroup_size(LANES, 1, 1)
fn gemm_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let row0 = wg.y * 4u * ROW_QUADS;
    let col0 = (wg.x * LANES + lane) * 4u * COL_QUADS;
    let item = wg.z;
    let a_base = item * s.stride_a;
    let b_base = item * s.stride_b;
    // No early return: every lane takes part in the broadcasts; out-of-range rows/columns
    // are clamped and not stored.
    acc = array<array<vec4<f32>, 2>, 32>();
    for (var k0 = 0u; k0 < s.k; k0 += LANES) {
        let ka = k0 + lane;
        let ka_ok = ka < s.k;
        let ka_clamped = min(ka, s.k - 1u);
        var bq: array<array<vec4<f32>, LANES>, 2>;
        for (var cq = 0u; cq < COL_QUADS; cq++) {
            bq[cq] = b_chunk(b_base, k0, col0 + 4u * cq);
        }
        for (var rq = 0u; rq < ROW_QUADS; rq++) {
            // This lane's A for rows 4rq..4rq+3 at k0 + lane.
            var mine = vec4<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let row = min(row0 + 4u * rq + j, s.m - 1u);
                mine[j] = select(0.0, a_at(a_base, row, ka_clamped), ka_ok);
            }
            // x[i]: A(rows, k0 + i), from lane i.
            let x = broadcast_lanes(mine);
            for (var j = 0u; j < 4u; j++) {
                let r = 4u * rq + j;
                for (var cq = 0u; cq < COL_QUADS; cq++) {
                    acc[r][cq] += lanes_dot(x, j, bq[cq]);
                }
            }
        }
    }
    store_tile(item, row0, col0);
}

// C = acc [+ bias] [ReLU] [· mask] for this lane's part of the tile.
fn store_tile(item: u32, row0: u32, col0: u32) {
    let c_base = item * s.stride_c;
    let use_bias = f32(BIAS != 0u);
    for (var r = 0u; r < 4u * ROW_QUADS; r++) {
        let row = row0 + r;
        for (var cq = 0u; cq < COL_QUADS; cq++) {
            for (var j = 0u; j < 4u; j++) {
                let col = col0 + 4u * cq + j;
                if (row < s.m && col < s.n) {
                    var v = acc[r][cq][j];
                    let bias_index = select(select(0u, col, BIAS == 2u), row, BIAS == 1u);
                    v += use_bias * bias[bias_index];
                    if (RELU) { v = max(v, 0.0); }
                    let at = c_base + row * s.n + col;
                    if (MASK) { v = select(0.0, v, bias[at] > 0.0); }
                    c[at] = v;
                }
            }
        }
    }
}

// B(k0 .. k0 + 3) for one column quad of this lane: out[t] is row k0 + t (K % 4 == 0, so a
// quad of K is wholly in range or wholly out).
fn b_quad(base: u32, k0: u32, col: u32) -> array<vec4<f32>, 4> {
    var out: array<vec4<f32>, 4>;
    let zero = vec4<f32>(0.0);
    let ok = k0 < s.k;
    let k = min(k0, s.k - 4u);
    if (TRANS_B) {
        var col_k: array<vec4<f32>, 4>;
        for (var j = 0u; j < 4u; j++) {
            col_k[j] = select(zero, b4[(base + min(col + j, s.n - 1u) * s.k + k) / 4u], ok);
        }
        for (var t = 0u; t < 4u; t++) {
            out[t] = vec4<f32>(col_k[0][t], col_k[1][t], col_k[2][t], col_k[3][t]);
        }
    } else {
        let q = min(col, s.n - 4u);
        for (var t = 0u; t < 4u; t++) {
            out[t] = select(zero, b4[(base + (k + t) * s.n + q) / 4u], ok);
        }
    }
    return out;
}

@compute @workgroup_size(LANES, 1, 1)
fn gemm_sg_a4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let row0 = wg.y * 4u * ROW_QUADS;
    let col0 = (wg.x * LANES + lane) * 4u * COL_QUADS;
    let item = wg.z;
    let a_base4 = item * s.stride_a / 4u;
    let b_base = item * s.stride_b;
    acc = array<array<vec4<f32>, 2>, 32>();
    if (TRANS_A) {
        // A stored (K, M): per LANES values of K, lane l loads rows 4rq..4rq+3 at k0 + l as one
        // vec4; step i hands lane i's quads to all lanes.
        let m4 = s.m / 4u;
        for (var k0 = 0u; k0 < s.k; k0 += LANES) {
            let ka = min(k0 + lane, s.k - 1u);
            let ka_ok = k0 + lane < s.k;
            var mine: array<vec4<f32>, 4>;
            for (var rq = 0u; rq < ROW_QUADS; rq++) {
                let quad = min(wg.y * ROW_QUADS + rq, m4 - 1u);
                mine[rq] = select(vec4<f32>(0.0), a4[a_base4 + ka * m4 + quad], ka_ok);
            }
            for (var i = 0u; i < LANES; i++) {
                let k = k0 + i;
                if (k >= s.k) { break; }
                for (var cq = 0u; cq < COL_QUADS; cq++) {
                    // B is not transposed when A is: row k, this lane's 4 columns.
                    let b = b4[(b_base + k * s.n + min(col0 + 4u * cq, s.n - 4u)) / 4u];
                    for (var rq = 0u; rq < ROW_QUADS; rq++) {
                        let x = subgroupShuffle(mine[rq], i);
                        let r = 4u * rq;
                        acc[r][cq] += x.x * b;
                        acc[r + 1u][cq] += x.y * b;
                        acc[r + 2u][cq] += x.z * b;
                        acc[r + 3u][cq] += x.w * b;
                    }
                }
            }
        }
    } else {
        // A stored (M, K): per 4 * LANES values of K, lane l loads quad q0 + l of every row; step
        // i hands lane i's quads to all lanes.
        let k4 = s.k / 4u;
        for (var q0 = 0u; q0 < k4; q0 += LANES) {
            let qa = min(q0 + lane, k4 - 1u);
            let qa_ok = q0 + lane < k4;
            var mine: array<vec4<f32>, 16>;
            for (var r = 0u; r < 4u * ROW_QUADS; r++) {
                let row = min(row0 + r, s.m - 1u);
                mine[r] = select(vec4<f32>(0.0), a4[a_base4 + row * k4 + qa], qa_ok);
            }
            for (var i = 0u; i < LANES; i++) {
                if (q0 + i >= k4) { break; }
                for (var cq = 0u; cq < COL_QUADS; cq++) {
                    let bt = b_quad(b_base, 4u * (q0 + i), col0 + 4u * cq);
                    for (var r = 0u; r < 4u * ROW_QUADS; r++) {
                        let x = subgroupShuffle(mine[r], i);
                        acc[r][cq] += x.x * bt[0] + x.y * bt[1] + x.z * bt[2] + x.w * bt[3];
                    }
                }
            }
        }
    }
    store_tile(item, row0, col0);
}
