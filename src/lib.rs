//! lenet-gpu: LeNet-5 trained on MNIST entirely in WGSL compute shaders through wgpu.
//!
//! Layout: `gpu` (device, pipelines, dispatches), `kernels` (host side of each shader),
//! `reference` (their CPU twins), `shapes` (the one place sizes are computed), `model`.

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod feeder;
pub mod gpu;
pub mod kernels;
pub mod model;
pub mod optimizer;
pub mod reference;
pub mod report;
pub mod run;
pub mod shapes;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
