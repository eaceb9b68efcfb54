//! The library's one error type. Variants carry what a reader needs to act on them.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no GPU adapter found for --adapter {requested}. wgpu saw: {seen}. \
         On Debian/Ubuntu a software Vulkan driver (lavapipe) is one command away: \
         apt-get install mesa-vulkan-drivers"
    )]
    /// `requested` is the `--adapter` value (`AdapterChoice`'s name).
    NoAdapter { requested: String, seen: String },

    #[error("could not open a device on adapter {adapter}: {message}")]
    RequestDevice { adapter: String, message: String },

    #[error("shader {file}, entry point {entry}: {message}")]
    Shader { file: &'static str, entry: &'static str, message: String },

    #[error("{op}: shape mismatch: {what}")]
    ShapeMismatch { op: &'static str, what: String },

    #[error("GPU validation error: {0}")]
    Validation(String),

    #[error("the GPU ran out of memory: {0}")]
    OutOfMemory(String),

    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),

    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },

    #[error("{path}: not a usable checkpoint: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    #[error(
        "training diverged: the loss became {loss} in epoch {epoch}, by step {step} \
         (learning rate {lr}); try a smaller --lr"
    )]
    Diverged { epoch: u32, step: u32, lr: f32, loss: f32 },

    #[error(
        "training diverged: {count} of the values of {tensor} are not finite after epoch {epoch} \
         (the loss can stay finite while weights are NaN); try a smaller --lr"
    )]
    DivergedWeights { epoch: u32, tensor: String, count: usize },

    #[error(
        "{path}: another `lenet-gpu train`{holder} is writing this run directory; wait for it to \
         finish or choose another --out"
    )]
    RunInUse { path: PathBuf, holder: String },

    #[error("{0}")]
    Config(String),

    #[error(transparent)]
    Io(#[from] std::io::Error),
}
