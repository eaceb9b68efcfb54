// im2col for a valid, stride-1 convolution, and its adjoint.
//
// im2col_forward:  x (N,C,H,W) -> col (N, C*KH*KW, OH*OW)
//   col[n, (c*KH + kh)*KW + kw, oh*OW + ow] = x[n, c, oh + kh, ow + kw]
//   so that conv(x, w)[n] = w (OC, C*KH*KW) · col[n], one GEMM per image.
//   One invocation per (n, c, output pixel), writing KH*KW col elements;
//   workgroups = ceil(N*C*OH*OW / WG), spilling into y.
//
// col2im_backward: dcol (N, C*KH*KW, OH*OW) -> dx (N,C,H,W)
//   dx[n,c,h,w] = sum over (kh,kw) with 0 <= h-kh < OH, 0 <= w-kw < OW of
//                 dcol[n, (c*KH + kh)*KW + kw, (h-kh)*OW + (w-kw)]
//   A gather, one invocation per dx element, so it overwrites dx and needs no atomics.
//   workgroups = ceil(len(dx) / WG).

struct ConvShape { n: u32, c: u32, h: u32, w: u32, oc: u32, kh: u32, kw: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> s: ConvShape;

@compute @workgroup_size(WG)
fn im2col_forward(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    // One invocation per (n, c, output pixel), writing that pixel's KH*KW column entries:
    // the index divisions (slow: scalarized per lane on lavapipe) are paid once per KH*KW
    // elements, not per element (23 ms -> see BENCHMARKS.md for conv1 at batch 100).
    let i = linear_id(wid, nwg, lid);
    let oh_n = s.h - s.kh + 1u;
    let ow_n = s.w - s.kw + 1u;
    let pixels = oh_n * ow_n;
    if (i >= s.n * s.c * pixels) { return; }
    let p = i % pixels;
    let nc = i / pixels; // n * C + c
    let c = nc % s.c;
    let n = nc / s.c;
    let oh = p / ow_n;
    let ow = p - oh * ow_n;
    let rows = s.c * s.kh * s.kw;
    var dst_index = (n * rows + c * s.kh * s.kw) * pixels + p;
    var src_row = (nc * s.h + oh) * s.w + ow;
    for (var kh = 0u; kh < s.kh; kh++) {
        for (var kw = 0u; kw < s.kw; kw++) {
            dst[dst_index] = src[src_row + kw];
            dst_index += pixels;
        }
        src_row += s.w;
    }
}

@compute @workgroup_size(WG)
fn col2im_backward(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.n * s.c * s.h * s.w) { return; }
    let w = i % s.w;
    let h = (i / s.w) % s.h;
    let c = (i / (s.w * s.h)) % s.c;
    let n = i / (s.w * s.h * s.c);
    let oh_n = s.h - s.kh + 1u;
    let ow_n = s.w - s.kw + 1u;
    let pixels = oh_n * ow_n;
    let rows = s.c * s.kh * s.kw;
    var acc = 0.0;
    for (var kh = 0u; kh < s.kh; kh++) {
        // h - kh in [0, OH) written without underflow: kh <= h and h < OH + kh.
        if (kh > h || h >= oh_n + kh) { continue; }
        let oh = h - kh;
        for (var kw = 0u; kw < s.kw; kw++) {
            if (kw > w || w >= ow_n + kw) { continue; }
            let ow = w - kw;
            let row = (c * s.kh + kh) * s.kw + kw;
            acc += src[(n * rows + row) * pixels + oh * ow_n + ow];
        }
    }
    dst[i] = acc;
}
