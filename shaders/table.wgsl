// A gather through an index table, for LeNet-1998's C3 connection table: its 1,500 stored
// weights are spread into a dense (16, 6, 5, 5) kernel whose unconnected entries are zero
// (so C3 runs as an ordinary convolution), and the dense kernel's gradient is gathered
// back into the stored weights (so unconnected weights are never stored or updated).
//
// gather_indexed: src, index (u32) -> dst;  dst[i] = src[index[i]], or 0 where
//   index[i] == NONE (0xFFFFFFFF). One invocation per dst element; workgroups = ceil(len / WG).

struct Len { len: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

const NONE: u32 = 0xFFFFFFFFu;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> s: Len;

@compute @workgroup_size(WG)
fn gather_indexed(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= s.len) { return; }
    let k = index[i];
    dst[i] = select(src[min(k, arrayLength(&src) - 1u)], 0.0, k == NONE);
}
