//! Datasets in MNIST's IDX format: reading and checking the files, the bundled MNIST copy,
//! and the GPU-resident training set.

pub mod gpu;
pub mod idx;
pub mod mnist;
pub mod picture;

pub use gpu::GpuDataset;
pub use idx::{read_idx_images, read_idx_labels};
pub use mnist::{Dataset, Split, SIDE};
