//! The checkpoint loader (`checkpoint::parse_any_model`): safetensors header and data,
//! the architecture from the metadata, every tensor's name, shape and values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = lenet_gpu::checkpoint::parse_any_model(Path::new("model.safetensors"), data);
});
