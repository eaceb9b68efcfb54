// Channel sums: the bias gradients and the batch reduction of per-image weight gradients.
//
// sum_reduce: src = x (OUTER, C, INNER) -> dst = y (C),  y[c] = sum_{o,i} x[o, c, i]
//   One workgroup of RWG invocations per channel: each lane sums a strided slice, then a
//   fixed-order tree in workgroup memory, so the result is deterministic run to run.
//   workgroups = C (spilling into y past 65,535). For few channels with many terms each
//   (conv bias gradients: 6 channels x 57,600 terms).
// sum_reduce_serial: the same sum, one invocation per channel adding its terms in order
//   (o, i). For many channels (weight gradients summed over images: 2,400 x 100): no
//   barriers, whose cost on lavapipe made the tree take 5.1 ms there against 0.5 ms.
//   workgroups = ceil(C / RWG), spilling into y.
// sum_reduce_rows4: INNER = 1 and C a multiple of 4 (bias gradients summed over a batch,
//   weight gradients over images): as sum_reduce_serial, one invocation per 4 channels
//   with vec4 loads. lavapipe splits every load into one per lane, whatever its width, so
//   this does a quarter of the loads (conv2's 2,400 x 25 partials: 0.15-0.17 -> 0.11 ms).
//   workgroups = ceil(C / 4 / RWG), spilling into y.
// sum_reduce_pair: two such sums over the same OUTER in one dispatch (a convolution's
//   weight- and bias-gradient partials): invocations 0 .. A sum src (OUTER, A) into dst,
//   the next B sum src_b (OUTER, B) into dst_b, each adding its terms in order o = 0, 1, ...
//   as sum_reduce_serial does, so the bits are the two dispatches' it replaces.
//   workgroups = ceil((A + B) / RWG), spilling into y.
// sum_reduce_pair_rows4: the same with A and B multiples of 4, one invocation per 4
//   channels with vec4 loads (sum_reduce_rows4's). workgroups = ceil((A + B) / 4 / RWG).

struct ReduceShape { outer: u32, channels: u32, inner: u32, _pad: u32 }

const RWG: u32 = 64u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> s: ReduceShape;

// The same buffers as vec4s, for sum_reduce_rows4 (bindings are per entry point).
@group(0) @binding(0) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;

// The second sum's buffers and the pair's shape, for sum_reduce_pair*; bindings 2..4 are
// others' in the single sums, and no entry point uses both.
struct PairShape { outer: u32, channels_a: u32, channels_b: u32, _pad: u32 }
@group(0) @binding(2) var<storage, read> src_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst_b: array<f32>;
@group(0) @binding(2) var<storage, read> src4_b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dst4_b: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> ps: PairShape;

var<workgroup> partial: array<f32, RWG>;

@compute @workgroup_size(RWG)
fn sum_reduce(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let ch = wid.x + wid.y * nwg.x;
    if (ch >= s.channels) { return; } // uniform per workgroup: safe before the barriers
    var acc = 0.0;
    let total = s.outer * s.inner;
    for (var t = lid; t < total; t += RWG) {
        let o = t / s.inner;
        let i = t % s.inner;
        acc += src[(o * s.channels + ch) * s.inner + i];
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var stride = RWG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) { partial[lid] += partial[lid + stride]; }
        workgroupBarrier();
    }
    if (lid == 0u) { dst[ch] = partial[0]; }
}

@compute @workgroup_size(RWG)
fn sum_reduce_serial(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let ch = (wid.x + wid.y * nwg.x) * RWG + lid;
    if (ch >= s.channels) { return; }
    var acc = 0.0;
    for (var o = 0u; o < s.outer; o++) {
        let base = (o * s.channels + ch) * s.inner;
        for (var i = 0u; i < s.inner; i++) {
            acc += src[base + i];
        }
    }
    dst[ch] = acc;
}

@compute @workgroup_size(RWG)
fn sum_reduce_rows4(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let quad = (wid.x + wid.y * nwg.x) * RWG + lid;
    let quads = s.channels / 4u;
    if (quad >= quads) { return; }
    var acc = vec4<f32>(0.0);
    for (var o = 0u; o < s.outer; o++) {
        acc += src4[o * quads + quad];
    }
    dst4[quad] = acc;
}

@compute @workgroup_size(RWG)
fn sum_reduce_pair(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let ch = (wid.x + wid.y * nwg.x) * RWG + lid;
    var acc = 0.0;
    if (ch < ps.channels_a) {
        for (var o = 0u; o < ps.outer; o++) {
            acc += src[o * ps.channels_a + ch];
        }
        dst[ch] = acc;
    } else if (ch < ps.channels_a + ps.channels_b) {
        let c = ch - ps.channels_a;
        for (var o = 0u; o < ps.outer; o++) {
            acc += src_b[o * ps.channels_b + c];
        }
        dst_b[c] = acc;
    }
}

@compute @workgroup_size(RWG)
fn sum_reduce_pair_rows4(@builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let quad = (wid.x + wid.y * nwg.x) * RWG + lid;
    let quads_a = ps.channels_a / 4u;
    let quads_b = ps.channels_b / 4u;
    var acc = vec4<f32>(0.0);
    if (quad < quads_a) {
        for (var o = 0u; o < ps.outer; o++) {
            acc += src4[o * quads_a + quad];
        }
        dst4[quad] = acc;
    } else if (quad < quads_a + quads_b) {
        let q = quad - quads_a;
        for (var o = 0u; o < ps.outer; o++) {
            acc += src4_b[o * quads_b + q];
        }
        dst4_b[q] = acc;
    }
}
