// 2x2 max-pooling, stride 2 (floor: an odd last row/column is dropped, as Keras/PyTorch do).
//
// maxpool2x2_forward: src = x (N,C,H,W) -> dst = y (N,C,H/2,W/2), argmax (N,C,H/2,W/2)
//   argmax holds the flat index into x of the maximum; ties go to the first in
//   (0,0),(0,1),(1,0),(1,1) order. One invocation per y element.
//   workgroups = ceil(len(y) / WG), spilling into y.
// maxpool2x2_backward: src = dy (N,C,H/2,W/2), argmax -> dst = dx (N,C,H,W)
//   dx[i] = dy[window of i] if argmax[window] == i else 0. One invocation per window
//   writes its four dx entries (and a dropped odd row/column next to it), so dx is
//   overwritten whole without atomics; per window rather than per dx element because the
//   index arithmetic (scalarized per lane on lavapipe) then happens once for four outputs.
//   workgroups = ceil(len(dy) / WG). H, W >= 2.
// maxpool2x2_backward_pairs: the same for H even and W a multiple of 4 (LeNet's pools), one
//   invocation per two windows side by side: their dy and argmax as one vec2 load each,
//   their 2x4 dx block as two vec4 stores. lavapipe splits every load and store into one
//   per lane, whatever its width, so this does 4 memory operations where the one above
//   does 12. workgroups = ceil(len(dy) / 2 / WG).

struct PoolShape { n: u32, c: u32, h: u32, w: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
// read_write in both entry points so that one buffer layout serves both.
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<uniform> s: PoolShape;

// The same buffers, two windows at a time, for the *_pairs entry points (bindings are per
// entry point).
@group(0) @binding(0) var<storage, read> src2: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> argmax2: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn maxpool2x2_forward(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    let oh_n = s.h / 2u;
    let ow_n = s.w / 2u;
    if (i >= s.n * s.c * oh_n * ow_n) { return; }
    let ow = i % ow_n;
    let oh = (i / ow_n) % oh_n;
    let plane = i / (ow_n * oh_n); // n * C + c
    let top_left = (plane * s.h + 2u * oh) * s.w + 2u * ow;
    var best = top_left;
    var best_v = src[top_left];
    let others = array<u32, 3>(top_left + 1u, top_left + s.w, top_left + s.w + 1u);
    for (var t = 0u; t < 3u; t++) {
        let v = src[others[t]];
        if (v > best_v) { best_v = v; best = others[t]; }
    }
    dst[i] = best_v;
    argmax[i] = best;
}

// Writes window i's four dx entries (g at the argmax, 0 elsewhere) and the dropped odd
// row/column next to it.
fn route_window(i: u32, g: f32) {
    let oh_n = s.h / 2u;
    let ow_n = s.w / 2u;
    let ow = i % ow_n;
    let oh = (i / ow_n) % oh_n;
    let plane = i / (ow_n * oh_n);
    let top_left = (plane * s.h + 2u * oh) * s.w + 2u * ow;
    let best = argmax[i];
    dst[top_left] = select(0.0, g, best == top_left);
    dst[top_left + 1u] = select(0.0, g, best == top_left + 1u);
    dst[top_left + s.w] = select(0.0, g, best == top_left + s.w);
    dst[top_left + s.w + 1u] = select(0.0, g, best == top_left + s.w + 1u);
    // The row/column that an odd H/W drops gets no gradient; the last window writes it.
    let last_col = (s.w % 2u) == 1u && ow == ow_n - 1u;
    if (last_col) {
        dst[top_left + 2u] = 0.0;
        dst[top_left + s.w + 2u] = 0.0;
    }
    if ((s.h % 2u) == 1u && oh == oh_n - 1u) {
        let below = top_left + 2u * s.w;
        dst[below] = 0.0;
        dst[below + 1u] = 0.0;
        if (last_col) { dst[below + 2u] = 0.0; }
    }
}

@compute @workgroup_size(WG)
fn maxpool2x2_backward(@builtin(workgroup_id) wid: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.n * s.c * (s.h / 2u) * (s.w / 2u)) { return; }
    route_window(i, src[i]);
}

// maxpool2x2_relu_backward: as maxpool2x2_backward, then the mask of the ReLU before the
// pool (dx *= x > 0), without a pass over dx: x at the argmax is the pooled output, so
// the window's gradient is dy if pooled > 0, else 0. Saves relu_backward's read and write of
// all of dx (conv1: 2.8 ms of a lavapipe training step).
@group(0) @binding(4) var<storage, read> pooled: array<f32>;

@compute @workgroup_size(WG)
fn maxpool2x2_relu_backward(@builtin(workgroup_id) wid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.n * s.c * (s.h / 2u) * (s.w / 2u)) { return; }
    route_window(i, select(0.0, src[i], pooled[i] > 0.0));
}

// maxpool2x2_relu_backward_pairs: maxpool2x2_relu_backward, two windows at a time as
// maxpool2x2_backward_pairs.
@group(0) @binding(4) var<storage, read> pooled2: array<vec2<f32>>;

// Writes the 2x4 dx block of windows 2j and 2j + 1 (g at each argmax, 0 elsewhere). W/2 is
// even, so both windows lie in one row of windows, and the block's top-left is a multiple
// of 4.
fn route_pair(j: u32, g: vec2<f32>) {
    let ow_n = s.w / 2u;
    let i = 2u * j;
    let ow = i % ow_n;
    let oh = (i / ow_n) % (s.h / 2u);
    let plane = i / (ow_n * (s.h / 2u));
    let top_left = (plane * s.h + 2u * oh) * s.w + 2u * ow;
    let best = argmax2[j];
    let at = vec4<u32>(best.x, best.x, best.y, best.y);
    let gv = vec4<f32>(g.x, g.x, g.y, g.y);
    let top = vec4<u32>(top_left) + vec4<u32>(0u, 1u, 2u, 3u);
    dst4[top_left / 4u] = select(vec4<f32>(0.0), gv, at == top);
    dst4[(top_left + s.w) / 4u] = select(vec4<f32>(0.0), gv, at == top + vec4<u32>(s.w));
}

@compute @workgroup_size(WG)
fn maxpool2x2_backward_pairs(@builtin(workgroup_id) wid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(local_invocation_index) lid: u32) {
    let j = linear_id(wid, nwg, lid);
    if (j >= s.n * s.c * (s.h / 2u) * (s.w / 4u)) { return; }
    route_pair(j, src2[j]);
}

@compute @workgroup_size(WG)
fn maxpool2x2_relu_backward_pairs(@builtin(workgroup_id) wid: vec3<u32>,
                                  @builtin(num_workgroups) nwg: vec3<u32>,
                                  @builtin(local_invocation_index) lid: u32) {
    let j = linear_id(wid, nwg, lid);
    if (j >= s.n * s.c * (s.h / 2u) * (s.w / 4u)) { return; }
    route_pair(j, select(vec2<f32>(0.0), src2[j], pooled2[j] > vec2<f32>(0.0)));
}
