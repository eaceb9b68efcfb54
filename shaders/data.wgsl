// Batch assembly from the GPU-resident dataset: no per-step upload of images.
//
// gather_batch: images (N*IMAGE_LEN bytes, 4 per u32, little-endian), all_labels (N) u32,
//   order (epoch order of sample indices) u32 ->
//   x (B, IMAGE_LEN) f32 = byte / 255, labels (B) u32, for samples order[offset .. offset+B].
//   IMAGE_LEN a multiple of 16: one invocation per 16 pixels, one vec4<u32> load and four
//   vec4 stores (lavapipe splits every load and store into one per lane, whatever its
//   width: per pixel, this took 0.65 ms of a 9 ms training step).
//   workgroups = ceil(max(B*IMAGE_LEN / 16, B) / WG), spilling into y. With IMAGE_LEN 0 only
//   the labels are gathered: for a plan whose first layer reads the images itself.
// Keeping pixels as packed u8 holds MNIST's 47 MB under lavapipe's 128 MiB binding cap
// (as f32 it would be 188 MB).

struct GatherParams { offset: u32, batch: u32, image_len: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> images: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> all_labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<uniform> p: GatherParams;

@compute @workgroup_size(WG)
fn gather_batch(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i < p.batch) { labels[i] = all_labels[order[p.offset + i]]; }
    let chunks = p.image_len / 16u;
    if (i >= p.batch * chunks) { return; }
    let n = i / chunks;
    let chunk = i % chunks;
    let sample = order[p.offset + n];
    let words = images[sample * chunks + chunk];
    for (var j = 0u; j < 4u; j++) {
        x[4u * i + j] = pixels(words[j]);
    }
}
