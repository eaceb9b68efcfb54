//! Host side of `shaders/augment.wgsl`: a training batch gathered from the resident
//! dataset through a random transform per image.

use super::data::GatherViews;
use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Shader};
use crate::shapes::AugmentParams;

pub const AUGMENT_BATCH: &str = "augment_batch";

pub struct Augment {
    augment: wgpu::ComputePipeline,
}

impl Augment {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Augment { augment: gpu.pipeline(Shader::Augment, AUGMENT_BATCH, &[])? })
    }

    /// x (B, side²) = the images order[offset..offset+B], each through its own draw, and
    /// their labels; one workgroup per image. Rewrite the uniform (offset, epoch) between
    /// steps.
    pub fn augment_batch(&self, gpu: &Gpu, p: AugmentParams, v: GatherViews) -> Result<Dispatch> {
        if p.pixels() > AugmentParams::MAX_PIXELS || p.side == 0 {
            let what = format!("{0}x{0} images: at most {1} pixels", p.side, AugmentParams::MAX_PIXELS);
            return Err(Error::ShapeMismatch { op: AUGMENT_BATCH, what });
        }
        if p.batch == 0 || p.batch > crate::gpu::MAX_GROUPS_PER_DIM {
            let what = format!("batch {} is not in 1..={}", p.batch, crate::gpu::MAX_GROUPS_PER_DIM);
            return Err(Error::ShapeMismatch { op: AUGMENT_BATCH, what });
        }
        v.x.require(AUGMENT_BATCH, "x", p.x_len())?;
        v.labels.require(AUGMENT_BATCH, "labels", p.batch as u64)?;
        v.order.require(AUGMENT_BATCH, "order", (p.offset + p.batch) as u64)?;
        let views = [v.images, v.all_labels, v.order, v.x, v.labels];
        Ok(prepare(gpu, &self.augment, AUGMENT_BATCH, &views, &p, [p.batch, 1, 1]))
    }
}
