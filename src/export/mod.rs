//! What leaves lenet-gpu: models as ONNX files (`onnx`), arrays as NumPy files (`npy`).

pub mod npy;
pub mod onnx;

/// The ONNX IR's types, generated from assets/onnx/onnx.proto by build.rs.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}
