//! Compiles the ONNX IR's protobuf definition (assets/onnx/onnx.proto) into Rust types for
//! `lenet-gpu export`, with protox (pure Rust: no `protoc` binary needed) and prost-build.

fn main() {
    println!("cargo:rerun-if-changed=assets/onnx/onnx.proto");
    let files = protox::compile(["assets/onnx/onnx.proto"], ["assets/onnx"]).expect("assets/onnx/onnx.proto compiles");
    prost_build::Config::new().compile_fds(files).expect("prost-build writes the ONNX types");
}
