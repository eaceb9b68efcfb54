// 4 pixels from a dataset word's 4 bytes (pixel = byte / 255), the one conversion every
// kernel that reads the dataset uses, so gather_batch, the input padding (src/gpu/shader.rs
// puts it in front of both) and the generated convolutions (which print it) read the same bits.
fn pixels(word: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu)) / 255.0;
}

