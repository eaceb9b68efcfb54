//! LeNet-5: the parameter layout, the GPU plan (forward/backward as prepared dispatches)
//! and its CPU twin lives in `crate::reference::lenet5`.

pub mod lenet5;
pub mod params;
pub mod summary;

pub use lenet5::{BackwardFrom, Lenet5Shapes, Mode, Plan};
pub use params::{ParamLayout, TensorSpec};
