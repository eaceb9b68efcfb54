//! The picture loader of `visualize --image` (`viz::features::decode_image`): any format
//! the build decodes, then grey, resize and inversion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = lenet_gpu::viz::features::decode_image(Path::new("digit.png"), data);
});
