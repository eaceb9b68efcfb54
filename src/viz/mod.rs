//! What the network learned, as pictures: the model diagram, feature maps, the learned
//! kernels, and images synthesized by gradient ascent on the input.

pub mod ascent;
pub mod augment;
pub mod diagram;
pub mod explain;
pub mod features;
pub mod fourier;
pub mod render;
pub mod weights;
