//! Host side of `shaders/table.wgsl`: gathers through an index table (C3's connections).

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid_1d, Dispatch, Gpu, Shader, View};
use crate::shapes::Len;

pub const GATHER_INDEXED: &str = "gather_indexed";
/// An index-table entry that selects nothing: its output is 0.
pub const NONE: u32 = u32::MAX;

pub struct Table {
    gather: wgpu::ComputePipeline,
}

impl Table {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Table { gather: gpu.pipeline(Shader::Table, GATHER_INDEXED, &[])? })
    }

    /// dst[i] = src[index[i]] (0 where index[i] == NONE) for i < index.len; dst overwritten.
    /// Every index must be NONE or < src.len (the table's builder checks).
    pub fn gather_indexed(&self, gpu: &Gpu, src: View, index: View, dst: View) -> Result<Dispatch> {
        let len = index.len;
        dst.require(GATHER_INDEXED, "dst", len)?;
        let s = Len::new(len as u32);
        Ok(prepare(gpu, &self.gather, GATHER_INDEXED, &[src, index, dst], &s, grid_1d(len)))
    }
}
