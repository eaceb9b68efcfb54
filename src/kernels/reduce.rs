//! Host side of `shaders/reduce.wgsl`.

use super::prepare;
use crate::error::Result;
use crate::gpu::{grid, Dispatch, Gpu, Shader, View};
use crate::shapes::{ReducePairShape, ReduceShape};

pub const SUM_REDUCE: &str = "sum_reduce";
pub const SUM_REDUCE_SERIAL: &str = "sum_reduce_serial";
pub const SUM_REDUCE_ROWS4: &str = "sum_reduce_rows4";
pub const SUM_REDUCE_PAIR: &str = "sum_reduce_pair";
pub const SUM_REDUCE_PAIR_ROWS4: &str = "sum_reduce_pair_rows4";

/// From this many channels on, one invocation per channel (`sum_reduce_serial`) fills the
/// machine; below it, one workgroup per channel (`sum_reduce`) splits each channel's terms.
pub const SERIAL_FROM_CHANNELS: u32 = 64;

/// Up to this many terms per channel, one invocation per channel (`sum_reduce_serial`)
/// also beats a workgroup's tree, whose barriers are costly on lavapipe.
pub const SERIAL_UP_TO_TERMS: u32 = 256;

/// Invocations per workgroup (RWG in the shader).
const REDUCE_WORKGROUP: u32 = 64;

pub struct Reduce {
    sum: wgpu::ComputePipeline,
    serial: wgpu::ComputePipeline,
    rows4: wgpu::ComputePipeline,
    pair: wgpu::ComputePipeline,
    pair_rows4: wgpu::ComputePipeline,
}

impl Reduce {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Reduce {
            sum: gpu.pipeline(Shader::Reduce, SUM_REDUCE, &[])?,
            serial: gpu.pipeline(Shader::Reduce, SUM_REDUCE_SERIAL, &[])?,
            rows4: gpu.pipeline(Shader::Reduce, SUM_REDUCE_ROWS4, &[])?,
            pair: gpu.pipeline(Shader::Reduce, SUM_REDUCE_PAIR, &[])?,
            pair_rows4: gpu.pipeline(Shader::Reduce, SUM_REDUCE_PAIR_ROWS4, &[])?,
        })
    }

    /// x (OUTER, C, INNER) -> y (C), y[c] = sum over outer and inner; y overwritten.
    pub fn sum_reduce(&self, gpu: &Gpu, s: ReduceShape, x: View, y: View) -> Result<Dispatch> {
        x.require(SUM_REDUCE, "x", s.x_len())?;
        y.require(SUM_REDUCE, "y", s.channels as u64)?;
        if s.inner == 1 && s.channels.is_multiple_of(4) {
            let groups = grid((s.channels / 4).div_ceil(REDUCE_WORKGROUP));
            Ok(prepare(gpu, &self.rows4, SUM_REDUCE_ROWS4, &[x, y], &s, groups))
        } else if s.channels >= SERIAL_FROM_CHANNELS || s.outer * s.inner <= SERIAL_UP_TO_TERMS {
            let groups = grid(s.channels.div_ceil(REDUCE_WORKGROUP));
            Ok(prepare(gpu, &self.serial, SUM_REDUCE_SERIAL, &[x, y], &s, groups))
        } else {
            Ok(prepare(gpu, &self.sum, SUM_REDUCE, &[x, y], &s, grid(s.channels)))
        }
    }

    /// Two sums over the same outer count in one dispatch: x_a (OUTER, A) -> y_a (A) and
    /// x_b (OUTER, B) -> y_b (B), overwritten; the bits of [`Reduce::sum_reduce`] on each
    /// where it sums one channel per invocation (any A and B that are multiples of 4, or
    /// up to 256 terms per channel: a convolution's weight- and bias-gradient partials).
    pub fn sum_reduce_pair(&self, gpu: &Gpu, s: ReducePairShape, a: [View; 2], b: [View; 2]) -> Result<Dispatch> {
        let op = SUM_REDUCE_PAIR;
        a[0].require(op, "x_a", s.outer as u64 * s.channels_a as u64)?;
        a[1].require(op, "y_a", s.channels_a as u64)?;
        b[0].require(op, "x_b", s.outer as u64 * s.channels_b as u64)?;
        b[1].require(op, "y_b", s.channels_b as u64)?;
        let views = [a[0], a[1], b[0], b[1]];
        let channels = s.channels_a + s.channels_b;
        if s.channels_a.is_multiple_of(4) && s.channels_b.is_multiple_of(4) {
            let groups = grid((channels / 4).div_ceil(REDUCE_WORKGROUP));
            Ok(prepare(gpu, &self.pair_rows4, SUM_REDUCE_PAIR_ROWS4, &views, &s, groups))
        } else {
            let groups = grid(channels.div_ceil(REDUCE_WORKGROUP));
            Ok(prepare(gpu, &self.pair, SUM_REDUCE_PAIR, &views, &s, groups))
        }
    }

    /// The same sum in two passes through a scratch buffer of OUTER·C partial sums: first
    /// over INNER for every (outer, c), then over OUTER. For few channels with many terms
    /// (conv bias gradients, 6 x 100 images x 576 pixels): the first pass has OUTER·C
    /// independent sums instead of C long ones (lavapipe: conv1's bias 1.7 -> 0.5 ms).
    pub fn sum_reduce_staged(&self, gpu: &Gpu, s: ReduceShape, x: View, y: View) -> Result<[Dispatch; 2]> {
        let partials = gpu.storage("sum_reduce.partials", (s.outer as usize * s.channels as usize).max(1));
        let p = View::whole(&partials);
        Ok([
            self.sum_reduce(gpu, ReduceShape::new(1, s.outer * s.channels, s.inner), x, p)?,
            self.sum_reduce(gpu, ReduceShape::new(s.outer, s.channels, 1), p, y)?,
        ])
    }
}
