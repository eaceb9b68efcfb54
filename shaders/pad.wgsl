// LeNet-1998's input: the 28x28 digit, scaled so that background (0) becomes LO and full
// ink (1) becomes HI (the paper's -0.1 and 1.175: mean ~0, variance ~1 over MNIST), in the
// middle of a PAD-wide border of LO (32x32 for PAD = 2).
//
// pad_normalize_forward: x (N,1,H,W) in [0,1] -> y (N,1,H+2P,W+2P)
//   One invocation per y element; workgroups = ceil(len(y) / WG).
// pad_normalize_backward: dy (N,1,H+2P,W+2P) -> dx (N,1,H,W) = (HI - LO) * dy[inside]
//   (gradient ascent on the input). One invocation per dx element.

struct PadShape { n: u32, h: u32, w: u32, pad: u32, lo: f32, hi: f32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> s: PadShape;

@compute @workgroup_size(WG)
fn pad_normalize_forward(@builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    let ph = s.h + 2u * s.pad;
    let pw = s.w + 2u * s.pad;
    if (i >= s.n * ph * pw) { return; }
    let col = i % pw;
    let row = (i / pw) % ph;
    let n = i / (pw * ph);
    var v = s.lo;
    if (row >= s.pad && row < s.pad + s.h && col >= s.pad && col < s.pad + s.w) {
        v = s.lo + (s.hi - s.lo) * src[(n * s.h + row - s.pad) * s.w + col - s.pad];
    }
    dst[i] = v;
}

@compute @workgroup_size(WG)
fn pad_normalize_backward(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.n * s.h * s.w) { return; }
    let col = i % s.w;
    let row = (i / s.w) % s.h;
    let n = i / (s.w * s.h);
    let pw = s.w + 2u * s.pad;
    let ph = s.h + 2u * s.pad;
    dst[i] = (s.hi - s.lo) * src[(n * ph + row + s.pad) * pw + col + s.pad];
}
