//! A dataset resident on the GPU: pixels as packed bytes, labels as u32.

use super::mnist::{Dataset, SIDE};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::data::pack_bytes;

pub struct GpuDataset {
    /// N*784 pixel bytes packed 4 per u32.
    pub images: wgpu::Buffer,
    /// N labels as u32.
    pub labels: wgpu::Buffer,
    pub len: u32,
}

impl GpuDataset {
    pub fn upload(gpu: &Gpu, ds: &Dataset, label: &str) -> Result<GpuDataset> {
        let bytes = ds.images.len() as u64;
        let cap = gpu.limits.max_storage_buffer_binding_size;
        if bytes > cap {
            return Err(Error::Config(format!(
                "{}: {} images ({bytes} bytes) exceed this adapter's {cap}-byte storage binding limit",
                ds.source,
                ds.len()
            )));
        }
        debug_assert_eq!(ds.images.len(), ds.len() * SIDE * SIDE);
        let labels: Vec<u32> = ds.labels.iter().map(|&l| l as u32).collect();
        Ok(GpuDataset {
            images: gpu.storage_from(&format!("{label}.images"), &pack_bytes(&ds.images)),
            labels: gpu.storage_from(&format!("{label}.labels"), &labels),
            len: ds.len() as u32,
        })
    }
}
