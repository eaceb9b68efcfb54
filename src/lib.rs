//! lenet-gpu: LeNet-5 trained on MNIST entirely in WGSL compute shaders through wgpu.
//!
//! - `gpu`: adapter choice, device, buffers, pipeline cache, prepared dispatches.
//! - `shapes`: the shape structs, the one place sizes are computed (also the uniforms).
//! - `kernels`: the host side of each shader family, the WGSL generators, and the choice
//!   of kernel for a convolution or dense layer.
//! - `reference`: the plain-Rust twin of every kernel and of both networks.
//! - `model`: the layers, the two networks as lists of them, plans, parameter layouts.
//! - `feeder`: a plan's input stage from a GPU-resident dataset; `augment`: the random
//!   transforms it may draw for training images.
//! - `optimizer`: SGD, Adam and SDLM as one object.
//! - `train`: recipes and the training loop; `run`: a resumable run with checkpoints.
//! - `eval`: evaluation over a dataset; `predict`: classifying pictures; `bench`:
//!   throughput and per-kernel times.
//! - `data`: MNIST-format datasets, bundled or from files, their GPU copies, and users'
//!   pictures prepared as MNIST's digits were.
//! - `checkpoint`: safetensors in PyTorch's layout; `report`: metrics CSV and curves.
//! - `explain`: attributions of a class's score: saliency, Integrated Gradients,
//!   Grad-CAM, occlusion.
//! - `viz`: the diagram, feature maps, kernels, gradient ascent and explanations as
//!   pictures.
//! - `error`: the library's one error type.

pub mod augment;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod explain;
pub mod export;
pub mod feeder;
pub mod gpu;
pub mod kernels;
pub mod model;
pub mod optimizer;
pub mod predict;
pub mod reference;
pub mod report;
pub mod run;
#[cfg(not(target_arch = "wasm32"))]
pub mod serve;
pub mod shapes;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
