//! Plain-Rust twins of the WGSL kernels, written for clarity, not speed: same file and
//! function names as `crate::kernels`, same layouts, same overwrite semantics. Generic over
//! the float type so the finite-difference checks can run them in f64.

pub mod ascent;
pub mod augment;
pub mod conv_direct;
pub mod elementwise;
pub mod gemm;
pub mod im2col;
pub mod lenet1998;
pub mod lenet5;
pub mod metrics;
pub mod objective;
pub mod optim;
pub mod pad;
pub mod pool;
pub mod rbf;
pub mod reduce;
pub mod softmax_xent;
pub mod squash;
pub mod subsample;
pub mod table;
pub mod zero_pad;

pub use num_traits::Float;
