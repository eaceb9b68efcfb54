//! Host side of `shaders/data.wgsl`: batches gathered on the GPU from the resident dataset.

use super::prepare;
use crate::error::{Error, Result};
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::GatherParams;

pub const GATHER_BATCH: &str = "gather_batch";

/// The views `gather_batch` reads and writes.
#[derive(Clone, Copy)]
pub struct GatherViews<'a> {
    /// Pixels as bytes packed 4 per u32 (see [`pack_bytes`]).
    pub images: View<'a>,
    pub all_labels: View<'a>,
    pub order: View<'a>,
    pub x: View<'a>,
    pub labels: View<'a>,
}

pub struct Gather {
    gather: wgpu::ComputePipeline,
}

/// Bytes packed little-endian into u32 words, zero-padded to a whole word.
pub fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

impl Gather {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Gather { gather: gpu.pipeline(Shader::Data, GATHER_BATCH, &[])? })
    }

    /// x (B, image_len) = images[order[offset..offset+B]] / 255 and their labels, for
    /// `image_len` a multiple of 16 (MNIST's 784 is); with `image_len` 0, the labels alone.
    /// Rewrite the dispatch's uniform to move `offset` between steps.
    pub fn gather_batch(&self, gpu: &Gpu, p: GatherParams, v: GatherViews) -> Result<Dispatch> {
        if !p.image_len.is_multiple_of(16) {
            let what = format!("image length {} is not a multiple of 16", p.image_len);
            return Err(Error::ShapeMismatch { op: GATHER_BATCH, what });
        }
        let elements = p.batch as u64 * p.image_len as u64;
        v.x.require(GATHER_BATCH, "x", elements)?;
        v.labels.require(GATHER_BATCH, "labels", p.batch as u64)?;
        v.order.require(GATHER_BATCH, "order", (p.offset + p.batch) as u64)?;
        let views = [v.images, v.all_labels, v.order, v.x, v.labels];
        Ok(prepare(gpu, &self.gather, GATHER_BATCH, &views, &p, grid_1d((elements / 16).max(p.batch as u64))))
    }
}
