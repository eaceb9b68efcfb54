// LeNet-1998's input: the 28x28 digit, scaled so that background (0) becomes LO and full
// ink (1) becomes HI (the paper's -0.1 and 1.175: mean ~0, variance ~1 over MNIST), in the
// middle of a PAD-wide border of LO (32x32 for PAD = 2).
//
// pad_normalize_forward: x (N,1,H,W) in [0,1] -> y (N,1,H+2P,W+2P)
//   One invocation per y row; workgroups = ceil(N * (H + 2P) / WG).
// pad_normalize_backward: dy (N,1,H+2P,W+2P) -> dx (N,1,H,W) = (HI - LO) * dy[inside]
//   (gradient ascent on the input). One invocation per dx row.
// pad_normalize_forward_bytes: as the forward, x read in place from a dataset's packed
//   bytes (4 per u32, W a multiple of 4), batch image n being image order[cursor.first + n]:
//   the pixels by the same pixels() as gather_batch, so the same bits, without
//   gather_batch's pass and its f32 copy of the batch.
// A row per invocation, not an element: lavapipe spent ~8 ns an element on the index
// arithmetic (a division by a uniform is 8 scalar divisions per SIMD group), 8 ms of an
// inference batch of 1000.

struct PadShape { n: u32, h: u32, w: u32, pad: u32, lo: f32, hi: f32, _pad0: u32, _pad1: u32 }
struct Cursor { n: u32, first: u32, _pad0: u32, _pad1: u32 }

// The f32 input's bits, or the packed bytes: one binding type for all entry points.
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> s: PadShape;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<uniform> cursor: Cursor;

@compute @workgroup_size(WG)
fn pad_normalize_forward(@builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    let ph = s.h + 2u * s.pad;
    let pw = s.w + 2u * s.pad;
    if (r >= s.n * ph) { return; }
    let row = r % ph;
    let inside = row >= s.pad && row < s.pad + s.h;
    // Only read when inside (row - pad wraps otherwise).
    let src_row = (r / ph * s.h + row - s.pad) * s.w;
    for (var col = 0u; col < pw; col++) {
        var v = s.lo;
        if (inside && col >= s.pad && col < s.pad + s.w) {
            v = s.lo + (s.hi - s.lo) * bitcast<f32>(src[src_row + col - s.pad]);
        }
        dst[r * pw + col] = v;
    }
}

@compute @workgroup_size(WG)
fn pad_normalize_backward(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if (r >= s.n * s.h) { return; }
    let pw = s.w + 2u * s.pad;
    let ph = s.h + 2u * s.pad;
    let src_row = ((r / s.h) * ph + r % s.h + s.pad) * pw + s.pad;
    for (var col = 0u; col < s.w; col++) {
        dst[r * s.w + col] = (s.hi - s.lo) * bitcast<f32>(src[src_row + col]);
    }
}

@compute @workgroup_size(WG)
fn pad_normalize_forward_bytes(@builtin(workgroup_id) wid: vec3<u32>,
                               @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    let ph = s.h + 2u * s.pad;
    let pw = s.w + 2u * s.pad;
    if (r >= s.n * ph) { return; }
    let row = r % ph;
    let inside = row >= s.pad && row < s.pad + s.h;
    for (var col = 0u; col < pw; col++) {
        if (!inside || col < s.pad || col >= s.pad + s.w) { dst[r * pw + col] = s.lo; }
    }
    if (!inside) { return; }
    let words = s.w / 4u;
    let first_word = (order[cursor.first + r / ph] * s.h + row - s.pad) * words;
    for (var j = 0u; j < words; j++) {
        let v = s.lo + (s.hi - s.lo) * pixels(src[first_word + j]);
        let at = r * pw + s.pad + 4u * j;
        dst[at] = v.x;
        dst[at + 1u] = v.y;
        dst[at + 2u] = v.z;
        dst[at + 3u] = v.w;
    }
}
