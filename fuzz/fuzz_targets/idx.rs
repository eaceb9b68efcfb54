//! The IDX reader (`Dataset::from_bytes`): an image file and a label file from one input
//! (a 4-byte little-endian length of the image file first), so that both readers and their
//! agreement are fuzzed, raw or gzip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (len, rest) = data.split_at(4);
    let split = u32::from_le_bytes(len.try_into().unwrap()) as usize % (rest.len() + 1);
    let (images, labels) = rest.split_at(split);
    let _ = lenet_gpu::data::Dataset::from_bytes(Path::new("images"), images, Path::new("labels"), labels);
});
