// Batch assembly from the GPU-resident dataset: no per-step upload of images.
//
// gather_batch: images (N*IMAGE_LEN bytes, 4 per u32, little-endian), all_labels (N) u32,
//   order (epoch order of sample indices) u32 ->
//   x (B, IMAGE_LEN) f32 = byte / 255, labels (B) u32, for samples order[offset .. offset+B].
//   One invocation per x element; workgroups = ceil(B*IMAGE_LEN / WG), spilling into y.
// Keeping pixels as packed u8 holds MNIST's 47 MB under lavapipe's 128 MiB binding cap
// (as f32 it would be 188 MB).

struct GatherParams { offset: u32, batch: u32, image_len: u32, _pad: u32 }

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> all_labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<uniform> p: GatherParams;

@compute @workgroup_size(WG)
fn gather_batch(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.batch * p.image_len) { return; }
    let n = i / p.image_len;
    let pixel = i % p.image_len;
    let sample = order[p.offset + n];
    let byte_index = sample * p.image_len + pixel;
    let byte = (images[byte_index / 4u] >> (8u * (byte_index % 4u))) & 0xffu;
    x[i] = f32(byte) / 255.0;
    if (pixel == 0u) { labels[n] = all_labels[sample]; }
}
