// Zero-padding on the right and bottom of each plane, and its gradient, the crop: what lets
// a convolution whose rows are not whole vec4s (LeNet-1998's C3: 14 wide in, 10 out) run
// the generated direct kernels, on a copy of its input widened to 16.
//
// zero_pad_forward:  x (P,H,W) -> y (P,OH,OW), OH >= H, OW >= W: x in the top-left corner,
//   zeros elsewhere. One invocation per y row; workgroups = ceil(P * OH / WG).
// zero_pad_backward: dy (P,OH,OW) -> dx (P,H,W) = dy's top-left corner (the crop).
//   One invocation per dx row (a row each, not an element: see shaders/pad.wgsl).
// P is the number of planes (batch x channels).

struct ZeroPadShape { planes: u32, h: u32, w: u32, out_h: u32, out_w: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> s: ZeroPadShape;

@compute @workgroup_size(WG)
fn zero_pad_forward(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if (r >= s.planes * s.out_h) { return; }
    let row = r % s.out_h;
    let src_row = (r / s.out_h * s.h + row) * s.w;
    for (var col = 0u; col < s.out_w; col++) {
        var v = 0.0;
        if (row < s.h && col < s.w) {
            v = src[src_row + col];
        }
        dst[r * s.out_w + col] = v;
    }
}

@compute @workgroup_size(WG)
fn zero_pad_backward(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if (r >= s.planes * s.h) { return; }
    let src_row = (r / s.h * s.out_h + r % s.h) * s.out_w;
    for (var col = 0u; col < s.w; col++) {
        dst[r * s.w + col] = src[src_row + col];
    }
}
