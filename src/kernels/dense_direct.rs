//! A dense layer's forward, y = x · Wᵀ + bias (then ReLU), as WGSL generated for one layer
//! shape, for 8-wide subgroups (lavapipe). Its CPU twin is the GEMM's
//! (`reference::gemm::gemm` with `Transpose::B` and `Epilogue::BiasCol`), and where it does
//! not apply the GEMM computes the same product ([`crate::kernels::Kernels::dense_forward`]).
//!
//! Why: the GEMM kernels hand each lane 4 columns, and every lane loads its own columns of
//! W (the weights) from a storage buffer, which lavapipe splits into bounds-checked scalar
//! loads per lane and component (~8 instructions each); fc1's forward spent two thirds of
//! its time loading. Here a lane is 4 rows of x (4 images), whose inputs it loads once into
//! a private array, and the loop over output units reads W from uniform bindings, one
//! weight per lane per 8 (a branch-free gather), handed to all lanes by
//! `subgroupBroadcast`: each weight then feeds a vec4 multiply-add. Two accumulators (even
//! and odd inputs) halve the chain of dependent adds that LLVM otherwise runs one after
//! another. Measured on lavapipe (probe, best of 15): fc1 forward 2.93 -> 1.96 ms at batch
//! 1000, 0.39 -> 0.29 at batch 100; fc2 1.61 -> 0.80 and 0.17 -> 0.15; fc3 0.39 -> 0.19 and
//! 0.095 -> 0.065. One accumulator: fc1 2.46 ms at batch 1000; four: 2.06; 2 or 3 rows a
//! lane: 2.10-2.20.
//!
//! A uniform binding holds at most 64 KiB on lavapipe (fc1's W is 120 KiB), so W is bound
//! as up to [`MAX_WINDOWS`] windows of whole rows, each its own loop.

use std::fmt::Write;

use super::prepare_with_uniform_at;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::shapes::GemmShape;

pub const DENSE_FORWARD_DIRECT: &str = "dense_forward_direct";

/// Rows of x (images) per invocation: the components of each accumulator.
const ROWS_PER_LANE: u32 = 4;

/// Rows of x per workgroup (one subgroup of 8).
const ROWS_PER_GROUP: u32 = 8 * ROWS_PER_LANE;

/// Most uniform windows of W: bindings, and loops in the source.
const MAX_WINDOWS: u32 = 4;

/// Most inputs: the loop over output units is unrolled over them (fc1's 256 compile in 4 s).
const MAX_INPUTS: u32 = 512;

/// How W is split into uniform windows for a layer of `inputs` inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Windows {
    /// Rows of W (output units) per window but the last.
    rows: u32,
    count: u32,
}

/// Host side: the pipelines come from the `Gpu` cache, one per layer shape.
pub struct DenseDirect {
    /// The device runs 8-wide subgroups.
    subgroup8: bool,
    /// Largest uniform binding, in floats.
    max_window: u32,
    /// Uniform bindings start at multiples of this many floats.
    window_align: u32,
}

impl DenseDirect {
    pub fn new(gpu: &Gpu) -> Self {
        DenseDirect {
            subgroup8: gpu.subgroup_size() == Some(8),
            max_window: gpu.limits.max_uniform_buffer_binding_size.min(u32::MAX as u64) as u32 / 4,
            window_align: (gpu.limits.min_uniform_buffer_offset_alignment / 4).max(1),
        }
    }

    /// The windows of W for `inputs` inputs and `outputs` units: the most whole rows that
    /// fit a uniform binding and end on its offset alignment; None if they are too many.
    fn windows(&self, inputs: u32, outputs: u32) -> Option<Windows> {
        let mut rows = (self.max_window / inputs).min(outputs);
        while rows > 0 && rows < outputs && !(rows * inputs).is_multiple_of(self.window_align) {
            rows -= 1;
        }
        let count = outputs.div_ceil(rows.max(1));
        (rows > 0 && count <= MAX_WINDOWS).then_some(Windows { rows, count })
    }

    /// Whether this device and shape can run the kernel: 8-wide subgroups, one product
    /// (not batched), inputs a multiple of 4 (x is read as vec4s) and at most
    /// [`MAX_INPUTS`], W in at most [`MAX_WINDOWS`] uniform windows.
    pub fn supports(&self, s: GemmShape) -> bool {
        self.subgroup8
            && s.batch == 1
            && s.k.is_multiple_of(4)
            && s.k <= MAX_INPUTS
            && s.m > 0
            && s.n > 0
            && self.windows(s.k, s.n).is_some()
    }

    /// y (M, N) = x (M, K) · Wᵀ + bias, then ReLU when `relu`, for `s` = (M, N, K); W is
    /// (N, K) as a dense layer stores it. x must start on a vec4 and W where a uniform
    /// binding may (parameter tensors start on 256 bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn dense_forward_direct(
        &self,
        gpu: &Gpu,
        s: GemmShape,
        relu: bool,
        x: View,
        w: View,
        bias: View,
        y: View,
    ) -> Result<Dispatch> {
        let op = DENSE_FORWARD_DIRECT;
        if !self.supports(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?} on this device") });
        }
        x.require(op, "x", s.a_len())?;
        w.require(op, "W", s.b_len())?;
        bias.require(op, "bias", s.n as u64)?;
        y.require(op, "y", s.c_len())?;
        if !x.offset.is_multiple_of(4) {
            return Err(Error::ShapeMismatch { op, what: format!("x starts at {}, not on a vec4", x.offset) });
        }
        if !w.offset.is_multiple_of(self.window_align as u64) {
            let what = format!("W starts at {}, not on a uniform binding's alignment", w.offset);
            return Err(Error::ShapeMismatch { op, what });
        }
        let windows = self.windows(s.k, s.n).expect("checked by supports");
        let mut views = vec![x, bias, y];
        let window_views: Vec<View> = (0..windows.count)
            .map(|i| {
                let first = i * windows.rows;
                let rows = windows.rows.min(s.n - first);
                View { buffer: w.buffer, offset: w.offset + (first * s.k) as u64, len: (rows * s.k) as u64 }
            })
            .collect();
        let label = format!("{op}[relu {relu}]");
        let pipeline = gpu.generated_pipeline(&label, source(s.n, s.k, relu, windows), op)?;
        // x, bias, y, the uniform (binding 3), then the windows of W.
        let uniform_at = views.len();
        views.extend(window_views);
        let grid = crate::gpu::grid(s.m.div_ceil(ROWS_PER_GROUP));
        Ok(prepare_with_uniform_at(gpu, &pipeline, &label, &views, uniform_at, &[s.m, 0, 0, 0], grid))
    }
}

/// The WGSL source for a layer of `k` inputs and `n` units (any number of rows).
fn source(n: u32, k: u32, relu: bool, windows: Windows) -> String {
    const COMPONENT: [&str; 4] = ["x", "y", "z", "w"];
    let k4 = k / 4;
    let loads = ROWS_PER_LANE * k4;
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "// Generated by src/kernels/dense_direct.rs: y (M,{n}) = x (M,{k}) · Wᵀ + bias, relu {relu};");
    let _ = writeln!(
        o,
        "// {ROWS_PER_LANE} rows per invocation, W in {} uniform window(s) of {} rows.",
        windows.count, windows.rows
    );
    let _ = writeln!(
        o,
        "struct Rows {{ m: u32, _pad0: u32, _pad1: u32, _pad2: u32 }}\n\
         @group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;\n\
         @group(0) @binding(1) var<storage, read> bias: array<f32>;\n\
         @group(0) @binding(2) var<storage, read_write> y: array<f32>;\n\
         @group(0) @binding(3) var<uniform> s: Rows;"
    );
    for i in 0..windows.count {
        let rows = windows.rows.min(n - i * windows.rows);
        let _ = writeln!(
            o,
            "@group(0) @binding({}) var<uniform> w{i}: array<vec4<f32>, {}>;\n\
             fn w{i}_at(i: u32) -> f32 {{ return w{i}[i / 4u][i % 4u]; }}",
            4 + i,
            rows * k / 4
        );
    }
    // Lane `lid` takes rows row0 .. row0 + 3; rows past M repeat the last and are not stored.
    let _ = write!(
        o,
        "\n@compute @workgroup_size(8)\n\
         fn {DENSE_FORWARD_DIRECT}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20   @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {{\n\
         \x20   let row0 = ((wid.x + wid.y * nwg.x) * 8u + lid) * {ROWS_PER_LANE}u;\n\
         \x20   // Loaded in a loop: unrolled, lavapipe's scalarized loads are kilobytes of code each.\n\
         \x20   var rows_in: array<vec4<f32>, {loads}>;\n\
         \x20   for (var j = 0u; j < {loads}u; j++) {{\n\
         \x20       rows_in[j] = x[min(row0 + j / {k4}u, s.m - 1u) * {k4}u + j % {k4}u];\n\
         \x20   }}\n"
    );
    // x_{i}: input i of the lane's 4 rows.
    for i in 0..k {
        let parts: Vec<String> = (0..ROWS_PER_LANE)
            .map(|r| format!("rows_in[{}u].{}", r * k4 + i / 4, COMPONENT[(i % 4) as usize]))
            .collect();
        let _ = writeln!(o, "    let x_{i} = vec4<f32>({});", parts.join(", "));
    }
    for wi in 0..windows.count {
        let first = wi * windows.rows;
        let rows = windows.rows.min(n - first);
        let _ = writeln!(o, "    for (var j = 0u; j < {rows}u; j++) {{");
        let _ = writeln!(o, "        let unit = {first}u + j;\n        let wo = j * {k}u;");
        for c in 0..k.div_ceil(8) {
            let _ = writeln!(o, "        let w_{c} = w{wi}_at(min(wo + {}u + lane, {}u));", 8 * c, rows * k - 1);
        }
        let _ = writeln!(o, "        var even = vec4<f32>(0.0);\n        var odd = vec4<f32>(0.0);");
        for i in 0..k {
            let acc = if i % 2 == 0 { "even" } else { "odd" };
            let _ = writeln!(
                o,
                "        {acc} = fma(vec4<f32>(subgroupBroadcast(w_{}, {}u)), x_{i}, {acc});",
                i / 8,
                i % 8
            );
        }
        let v = if relu { "max(sum, vec4<f32>(0.0))" } else { "sum" };
        let _ = writeln!(o, "        let sum = (even + odd) + vec4<f32>(bias[unit]);\n        let v = {v};");
        for r in 0..ROWS_PER_LANE {
            let _ = writeln!(
                o,
                "        if (row0 + {r}u < s.m) {{ y[(row0 + {r}u) * {n}u + unit] = v.{}; }}",
                COMPONENT[r as usize]
            );
        }
        o.push_str("    }\n");
    }
    o.push_str("}\n");
    out
}
