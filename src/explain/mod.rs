//! Why the network answers as it does: one class's score attributed to the input's pixels
//! (gradient saliency, gradient x input, SmoothGrad, Integrated Gradients), to a conv
//! layer's maps (Grad-CAM, Grad-CAM++) and to occluded patches. The GPU does every
//! forward and backward pass, all samples, steps or patches of one request as one batch.

pub mod gradcam;
pub mod objective;
pub mod occlusion;
pub mod saliency;
