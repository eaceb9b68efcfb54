//! The picture loader of `predict` and `visualize --image`
//! (`data::picture::decode_picture`): any format the build decodes, then MNIST's
//! preparation (alpha or grey, inversion, crop, scale, centre of mass) and the plain one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    use lenet_gpu::data::picture::{decode_picture, Preprocess};
    let _ = decode_picture(Path::new("digit.png"), data, Preprocess::Mnist);
    let _ = decode_picture(Path::new("digit.png"), data, Preprocess::AsIs);
});
