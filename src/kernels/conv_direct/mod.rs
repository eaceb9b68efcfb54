//! Direct convolutions, as WGSL written out for one convolution shape: the forward with its
//! max-pool ([`forward`]), the input gradient ([`input_grad`]), the weight gradient
//! ([`weight_grad`]). What each shape and device can run is decided here (`supports*`,
//! [`LoadSharing`], [`ConvDirect`]); `Kernels::conv_*` choose between these and im2col +
//! GEMM.
//!
//! Why generated: lavapipe runs 8 invocations as one SIMD group and splits every load
//! whose offset is not a compile-time constant into 8 bounds-checked scalar loads, while
//! arithmetic is nearly free; im2col + GEMM moves every input value through memory 25
//! times. Here an invocation loads the input rows under a block of 4-pixel-wide output rows
//! once, as vec4s, forms every tap's window in registers and multiplies it with the
//! weights (a uniform buffer; on subgroups one load per subgroup width of weights, shared
//! by `subgroupBroadcast`). Channel counts, image sizes and tap offsets are literals; only the
//! batch size is a uniform, so one source serves every batch size. Code size is the limit
//! (LLVM's compile time grows much faster than the source): one channel loop and large
//! input loads stay loops. Every measurement behind these choices is in BENCHMARKS.md
//! ("Generated kernels").

pub mod forward;
pub mod input_grad;
pub mod weight_grad;

pub use forward::{
    forward_source, supports_subsample, ConvActivation, ForwardOutputs, ForwardVariant, SubsampleOutput,
    SubsampleVariant,
};
pub use input_grad::{input_grad_source, supports_input_grad};
pub use weight_grad::{
    supports_weight_grad, supports_weight_grad_through_pool, weight_grad_source, weight_grad_through_pool_source,
    DyFrom, DyViews, WeightGradViews,
};

use super::wgsl::{Access, Wgsl, COMPONENT};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, View};
use crate::shapes::ConvShape;

pub const CONV_FORWARD_DIRECT: &str = "conv_forward_direct";
pub const CONV_INPUT_GRAD_DIRECT: &str = "conv_input_grad_direct";
pub const CONV_WEIGHT_GRAD_DIRECT: &str = "conv_weight_grad_direct";

/// Largest weight count (OC·C·KH·KW) written out; beyond it compile times grow too long and
/// im2col + GEMM is used.
const MAX_TAPS: u64 = 4096;

/// Where a kernel reads x, the convolution's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// x (N, C, H, W) as f32.
    F32,
    /// A GPU-resident dataset's images as bytes packed 4 to a u32 (pixel = byte / 255, as
    /// `gather_batch` computes it), batch image n being image `order[first + n]`: a plan
    /// reads its batch where it lies instead of having it gathered first.
    Bytes,
}

/// x as a kernel binds it: f32 values, or a dataset's packed bytes with the sample order
/// and the uniform that says where the batch starts in it ([`crate::shapes::BatchParams`],
/// shared by every kernel of a plan that reads the dataset, so that one write moves them
/// all).
#[derive(Clone, Copy)]
pub enum ConvInput<'a> {
    F32(View<'a>),
    Bytes { images: View<'a>, order: View<'a>, cursor: View<'a> },
}

impl ConvInput<'_> {
    pub fn format(&self) -> InputFormat {
        match self {
            ConvInput::F32(_) => InputFormat::F32,
            ConvInput::Bytes { .. } => InputFormat::Bytes,
        }
    }

    /// Checks the input against `s` and returns its views by binding name.
    fn views(&self, op: &'static str, s: ConvShape) -> Result<Vec<(&'static str, View<'_>)>> {
        match *self {
            ConvInput::F32(x) => {
                x.require(op, "x", s.x_len())?;
                Ok(vec![("x", x)])
            }
            ConvInput::Bytes { images, order, cursor } => {
                require_whole_words(op, s)?;
                order.require(op, "order", s.n as u64)?;
                Ok(vec![("x", images), ("order", order), ("s", cursor)])
            }
        }
    }
}

/// The 2x2 max-pool of a convolution's output and where each maximum came from, as
/// `maxpool2x2_forward` writes them: (N, OC, OH/2, OW/2) each.
#[derive(Clone, Copy)]
pub struct PoolViews<'a> {
    pub pooled: View<'a>,
    pub argmax: View<'a>,
}

/// Whether the invocations of a subgroup share what they load. lavapipe turns a load
/// whose offset is not a compile-time constant into one scalar load per lane, so a value
/// that every lane needs costs a load per lane unless one lane loads it and the others
/// receive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSharing {
    /// Every invocation loads what it uses (what a GPU without subgroups of one fixed
    /// width runs).
    PerInvocation,
    /// On subgroups of `lanes` ([`crate::kernels::SUBGROUP_WIDTHS`]), `subgroupBroadcast`
    /// with a literal lane hands loaded values to all lanes: each lane loads one of `lanes`
    /// consecutive weights (forward, input gradient), or a share of the input rows (weight
    /// gradient). Every invocation of a subgroup must take the same branches, which the
    /// forward (no branches), the input gradient (`BlockOrder::ImageGroups` of exactly
    /// `lanes` images) and the weight gradient (the same image for all lanes) guarantee
    /// for a subgroup of `lanes` consecutive invocations (as lavapipe forms them).
    Subgroup { lanes: u32 },
}

impl LoadSharing {
    /// What this device can run: `Subgroup` where [`crate::kernels::subgroup_lanes`] gives
    /// a width.
    pub fn for_device(gpu: &Gpu) -> Self {
        match crate::kernels::subgroup_lanes(gpu) {
            Some(lanes) => LoadSharing::Subgroup { lanes },
            None => LoadSharing::PerInvocation,
        }
    }

    /// The subgroup width, if loads are shared.
    pub fn lanes(self) -> Option<u32> {
        match self {
            LoadSharing::PerInvocation => None,
            LoadSharing::Subgroup { lanes } => Some(lanes),
        }
    }

    /// Short name for kernel names.
    fn tag(self) -> String {
        match self {
            LoadSharing::PerInvocation => "portable".to_string(),
            LoadSharing::Subgroup { lanes } => format!("sg{lanes}"),
        }
    }

    /// Images per group in [`BlockOrder::ImageGroups`]: a subgroup's, so that a branch on
    /// the block is uniform in it; 8 (lavapipe's SIMD width on AVX2) without subgroups.
    fn image_group(self) -> u32 {
        self.lanes().unwrap_or(8)
    }

    /// Helper functions for the module.
    fn functions(self, g: &mut Wgsl) {
        if self.lanes().is_some() {
            g.line("fn weight_at(i: u32) -> f32 { return w[i / 4u][i % 4u]; }");
            g.blank();
        }
    }

    /// Statements at the top of the loop body, once `wo` (the first weight of this
    /// iteration) is known: each lane's share of the `count` weights from `wo` on; `len`
    /// is the length of `w`, which no load may pass.
    fn chunk_loads(self, g: &mut Wgsl, count: u32, len: u64) {
        if let Some(lanes) = self.lanes() {
            for chunk in 0..count.div_ceil(lanes) {
                g.line(format!("let w_{chunk} = weight_at(min(wo + {}u + lane, {}u));", chunk * lanes, len - 1));
            }
        }
    }

    /// The WGSL expression for weight `wo + at`, as a vec4 of four copies.
    fn weight(self, at: u32) -> String {
        match self {
            LoadSharing::PerInvocation => format!("vec4<f32>(w[(wo + {at}u) / 4u][(wo + {at}u) % 4u])"),
            LoadSharing::Subgroup { lanes } => {
                format!("vec4<f32>(subgroupBroadcast(w_{}, {}u))", at / lanes, at % lanes)
            }
        }
    }
}

/// Host side of the generated kernels; pipelines are cached by the `Gpu` per source.
pub struct ConvDirect {
    pub sharing: LoadSharing,
}

impl ConvDirect {
    /// The kernels as this device runs them best.
    pub fn new(gpu: &Gpu) -> Self {
        ConvDirect { sharing: LoadSharing::for_device(gpu) }
    }
}

/// A shape in kernel names: `c1x28x28-oc6k5` (the batch is not part of a kernel).
fn shape_name(s: ConvShape) -> String {
    format!("c{}x{}x{}-oc{}k{}", s.c, s.h, s.w, s.oc, s.kh)
}

/// Whether a generated kernel can compute this convolution: a square kernel, input and
/// output rows of whole vec4s, and not too many weights.
pub fn supports(s: ConvShape) -> bool {
    s.kh == s.kw && s.w.is_multiple_of(4) && s.out_w().is_multiple_of(4) && s.w_len() <= MAX_TAPS
}

/// Whether the forward can also max-pool its output (2x2, stride 2): an even output height
/// (the width is a multiple of 4 already), so every window lies inside one block.
pub fn supports_pool(s: ConvShape) -> bool {
    supports(s) && s.out_h().is_multiple_of(2)
}

/// WGSL for the 4 values at columns kx..kx+3 of a row loaded as vec4s `{row}_0`, `{row}_1`, …:
/// one tap's window under 4 adjacent output pixels.
fn window(row: &str, kx: u32) -> String {
    let parts: Vec<String> = (kx..kx + 4).map(|e| format!("{row}_{}.{}", e / 4, COMPONENT[(e % 4) as usize])).collect();
    format!("vec4<f32>({})", parts.join(", "))
}

/// Blocks of `rows` x 4 pixels per image of `height` x `width` (width a multiple of 4).
fn blocks_per_image(height: u32, width: u32, rows: u32) -> u32 {
    height.div_ceil(rows) * (width / 4)
}

/// vec4s of an input row under one 4-pixel block: its windows span 4 + K - 1 columns.
fn vec4s_per_window_row(k: u32) -> u32 {
    (4 + k - 1).div_ceil(4)
}

/// Length in floats of the weights' uniform binding: whole vec4s (see [`weights_view`]).
fn uniform_weights_len(s: ConvShape) -> u64 {
    s.w_len().next_multiple_of(4)
}

/// The weights as the kernels' uniform binding reads them: whole vec4s, so the view is
/// extended to a multiple of 4 elements (the parameters' 64-element tensor alignment leaves
/// room; the extra values are never used). At most `MAX_TAPS` floats: 16 KiB, inside
/// WebGPU's guaranteed 64 KiB uniform binding. Uniform bindings start on 256 bytes, as
/// every parameter tensor does.
fn weights_view<'a>(op: &'static str, s: ConvShape, w: View<'a>) -> Result<View<'a>> {
    w.require(op, "w", s.w_len())?;
    let len = uniform_weights_len(s);
    if w.offset + len > w.buffer.size() / 4 {
        let what = format!("weights must be readable up to {len} elements (whole vec4s) from offset {}", w.offset);
        return Err(Error::ShapeMismatch { op, what });
    }
    Ok(View { buffer: w.buffer, offset: w.offset, len })
}

/// Declares the weights' uniform binding `w`.
fn weights_binding(g: &mut Wgsl, s: ConvShape) {
    g.uniform("w", &format!("array<vec4<f32>, {}>", uniform_weights_len(s) / 4));
}

/// Errors unless an image of `s` is whole u32 words of packed bytes (what the
/// [`InputFormat::Bytes`] kernels index).
fn require_whole_words(op: &'static str, s: ConvShape) -> Result<()> {
    if !(s.c * s.h * s.w).is_multiple_of(4) {
        let what = format!("images of {} bytes are not whole u32 words", s.c * s.h * s.w);
        return Err(Error::ShapeMismatch { op, what });
    }
    Ok(())
}

/// Declares x: f32 vec4s, or a dataset's packed bytes, the sample order and `pixels` to
/// unpack a word (the same formula as `gather_batch` in shaders/data.wgsl; a test checks
/// both give bit-identical pixels).
fn input_bindings(g: &mut Wgsl, input: InputFormat) {
    match input {
        InputFormat::F32 => g.storage("x", Access::Read, "array<vec4<f32>>"),
        InputFormat::Bytes => {
            g.storage("x", Access::Read, "array<u32>");
            g.storage("order", Access::Read, "array<u32>");
        }
    }
}

/// The module-scope function an [`InputFormat::Bytes`] kernel unpacks words with.
fn input_functions(g: &mut Wgsl, input: InputFormat) {
    if input == InputFormat::Bytes {
        g.line(crate::gpu::PIXELS);
    }
}

/// The WGSL expression for where batch image `image` starts in x, in vec4s (words for bytes).
fn input_image(input: InputFormat) -> &'static str {
    match input {
        InputFormat::F32 => "image",
        InputFormat::Bytes => "order[s.first + image]",
    }
}

/// The WGSL function that turns a loaded element of x into 4 pixels ("" for f32).
fn input_unpack(input: InputFormat) -> &'static str {
    match input {
        InputFormat::F32 => "",
        InputFormat::Bytes => "pixels",
    }
}

/// How [`block_entry`] assigns blocks to invocations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockOrder {
    /// An image's blocks are consecutive: neighbouring invocations read neighbouring
    /// pixels (best for the forward).
    ByImage,
    /// Consecutive invocations take the same block of [`LoadSharing::image_group`] consecutive images,
    /// so a SIMD group shares a block position and a branch on it is uniform: lavapipe
    /// then skips the untaken side instead of running it masked. The input gradient
    /// branches so to skip its zero padding.
    ImageGroups,
}

/// Invocations that [`block_entry`] decodes for `n` images of `blocks` blocks each.
fn invocations(order: BlockOrder, sharing: LoadSharing, n: u32, blocks: u32) -> u64 {
    let images = if order == BlockOrder::ImageGroups { n.next_multiple_of(sharing.image_group()) } else { n };
    images as u64 * blocks as u64
}

/// Invocations per workgroup of the forward and input gradient (one per block): lavapipe
/// hands whole workgroups to its threads, so a few large ones can leave a thread idle.
const BLOCK_WG: u32 = 64;

/// Workgroups for `invocations` blocks.
fn block_grid(invocations: u64) -> [u32; 3] {
    crate::gpu::grid(invocations.div_ceil(BLOCK_WG as u64) as u32)
}

/// The entry point and the decoding of its invocation into a block: `image`, `block_row`
/// and `block_col` (in blocks), and `valid` (false past the last block, whose work is then
/// repeated and not stored: no early return).
fn block_entry(g: &mut Wgsl, entry: &str, order: BlockOrder, sharing: LoadSharing, blocks: u32, blocks_x: u32) {
    g.entry_point(entry, BLOCK_WG, sharing.lanes().is_some());
    g.line(format!("let id = group * {BLOCK_WG}u + lid;"));
    match order {
        BlockOrder::ByImage => {
            g.line(format!("let total = s.n * {blocks}u;"));
            g.line("let valid = id < total;");
            g.line("let b = min(id, total - 1u);");
            g.line(format!("let image = b / {blocks}u;"));
            g.line(format!("let slot = b % {blocks}u;"));
        }
        BlockOrder::ImageGroups => {
            let images = sharing.image_group();
            g.line(format!("let group8 = id / {images}u;"));
            g.line(format!("let first = (group8 / {blocks}u) * {images}u;"));
            g.line(format!("let valid = first + id % {images}u < s.n;"));
            g.line(format!("let image = min(first + id % {images}u, s.n - 1u);"));
            g.line(format!("let slot = group8 % {blocks}u;"));
        }
    }
    g.line(format!("let block_row = slot / {blocks_x}u;"));
    g.line(format!("let block_col = slot % {blocks_x}u;"));
}
