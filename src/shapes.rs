//! Shape structs: the only place output sizes are computed. Each one is also the WGSL
//! uniform of its kernel (32-bit scalars only, padded to 16 bytes), the CPU reference's
//! argument, and what sizes the buffers.

use bytemuck::{Pod, Zeroable};

/// A valid (no padding), stride-1 convolution: x (N,C,H,W) * w (OC,C,KH,KW) -> y (N,OC,OH,OW).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub n: u32,
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub oc: u32,
    pub kh: u32,
    pub kw: u32,
    pub _pad: u32,
}

impl ConvShape {
    pub fn new(n: u32, c: u32, h: u32, w: u32, oc: u32, k: u32) -> Self {
        assert!(h >= k && w >= k, "kernel {k}x{k} larger than input {h}x{w}");
        ConvShape { n, c, h, w, oc, kh: k, kw: k, _pad: 0 }
    }
    pub fn out_h(&self) -> u32 {
        self.h - self.kh + 1
    }
    pub fn out_w(&self) -> u32 {
        self.w - self.kw + 1
    }
    /// Output pixels per image (OH*OW): the GEMM's N.
    pub fn out_pixels(&self) -> u32 {
        self.out_h() * self.out_w()
    }
    /// Rows of the im2col matrix (C*KH*KW): the GEMM's K.
    pub fn patch_len(&self) -> u32 {
        self.c * self.kh * self.kw
    }
    pub fn x_len(&self) -> u64 {
        self.n as u64 * self.c as u64 * self.h as u64 * self.w as u64
    }
    /// im2col matrix: (N, C*KH*KW, OH*OW).
    pub fn col_len(&self) -> u64 {
        self.n as u64 * self.patch_len() as u64 * self.out_pixels() as u64
    }
    pub fn y_len(&self) -> u64 {
        self.n as u64 * self.oc as u64 * self.out_pixels() as u64
    }
    pub fn w_len(&self) -> u64 {
        self.oc as u64 * self.patch_len() as u64
    }

    /// The conv as one GEMM per image: y (OC, OH·OW) = W (OC, C·KH·KW) · col (C·KH·KW, OH·OW),
    /// W shared by every image.
    pub fn forward_gemm(&self) -> GemmShape {
        let (m, n, k) = (self.oc, self.out_pixels(), self.patch_len());
        GemmShape::batched(m, n, k, self.n, 0, k * n)
    }

    /// Per-image weight gradient: dW_n (OC, C·KH·KW) = dy_n (OC, OH·OW) · col_nᵀ (`Transpose::B`).
    pub fn weight_grad_gemm(&self) -> GemmShape {
        let (m, n, k) = (self.oc, self.patch_len(), self.out_pixels());
        GemmShape::batched(m, n, k, self.n, m * k, n * k)
    }

    /// Input gradient before col2im: dcol_n (C·KH·KW, OH·OW) = Wᵀ · dy_n (`Transpose::A`).
    pub fn input_grad_gemm(&self) -> GemmShape {
        let (m, n, k) = (self.patch_len(), self.out_pixels(), self.oc);
        GemmShape::batched(m, n, k, self.n, 0, k * n)
    }
}

/// The uniform of the generated kernels: the batch size, and for kernels that read a
/// dataset's bytes, where the batch starts in the sample order.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchParams {
    pub n: u32,
    pub first: u32,
    pub _pad: [u32; 2],
}

impl BatchParams {
    pub fn new(n: u32, first: u32) -> Self {
        BatchParams { n, first, _pad: [0; 2] }
    }
}

/// A dense layer y (N, OUT) = x (N, IN) · Wᵀ + b, W stored (OUT, IN) as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseShape {
    pub inputs: u32,
    pub outputs: u32,
}

/// 2x2 max-pooling, stride 2, floor: x (N,C,H,W) -> y (N,C,H/2,W/2).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    pub n: u32,
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl PoolShape {
    pub fn new(n: u32, c: u32, h: u32, w: u32) -> Self {
        PoolShape { n, c, h, w }
    }
    pub fn out_h(&self) -> u32 {
        self.h / 2
    }
    pub fn out_w(&self) -> u32 {
        self.w / 2
    }
    pub fn x_len(&self) -> u64 {
        self.n as u64 * self.c as u64 * self.h as u64 * self.w as u64
    }
    pub fn y_len(&self) -> u64 {
        self.n as u64 * self.c as u64 * self.out_h() as u64 * self.out_w() as u64
    }
}

/// Batched GEMM: for each b < batch, C_b (M,N) = op(A_b) (M,K) · op(B_b) (K,N), row-major.
/// `op(A)` is A stored (M,K), or Aᵀ with A stored (K,M); same for B ((K,N) or (N,K)).
/// Strides are in elements between consecutive batch items (0 broadcasts one matrix).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub batch: u32,
    pub stride_a: u32,
    pub stride_b: u32,
    pub stride_c: u32,
    pub _pad: u32,
}

impl GemmShape {
    /// One (unbatched) product.
    pub fn new(m: u32, n: u32, k: u32) -> Self {
        GemmShape { m, n, k, batch: 1, stride_a: 0, stride_b: 0, stride_c: 0, _pad: 0 }
    }
    /// `batch` products; a stride of 0 shares that operand between all of them.
    pub fn batched(m: u32, n: u32, k: u32, batch: u32, stride_a: u32, stride_b: u32) -> Self {
        GemmShape { m, n, k, batch, stride_a, stride_b, stride_c: m * n, _pad: 0 }
    }
    /// Elements the A operand spans.
    pub fn a_len(&self) -> u64 {
        (self.batch as u64 - 1) * self.stride_a as u64 + self.m as u64 * self.k as u64
    }
    pub fn b_len(&self) -> u64 {
        (self.batch as u64 - 1) * self.stride_b as u64 + self.k as u64 * self.n as u64
    }
    pub fn c_len(&self) -> u64 {
        (self.batch as u64 - 1) * self.stride_c as u64 + self.m as u64 * self.n as u64
    }
}

/// Sum over the outer and inner axes of x (OUTER, C, INNER) -> y (C).
/// Two channel sums over the same outer count (`sum_reduce_pair`): x_a (OUTER, A) and
/// x_b (OUTER, B), a convolution's weight- and bias-gradient partials.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReducePairShape {
    pub outer: u32,
    pub channels_a: u32,
    pub channels_b: u32,
    pub _pad: u32,
}

impl ReducePairShape {
    pub fn new(outer: u32, channels_a: u32, channels_b: u32) -> Self {
        ReducePairShape { outer, channels_a, channels_b, _pad: 0 }
    }
}

/// Bias gradients (conv: (N, OC, OH*OW); dense: (N, OUT, 1)) and per-sample partials.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceShape {
    pub outer: u32,
    pub channels: u32,
    pub inner: u32,
    pub _pad: u32,
}

impl ReduceShape {
    pub fn new(outer: u32, channels: u32, inner: u32) -> Self {
        ReduceShape { outer, channels, inner, _pad: 0 }
    }
    pub fn x_len(&self) -> u64 {
        self.outer as u64 * self.channels as u64 * self.inner as u64
    }
}

/// Softmax + cross-entropy over logits (N, CLASSES) with integer labels (N).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct XentShape {
    pub n: u32,
    pub classes: u32,
    pub _pad: [u32; 2],
}

impl XentShape {
    pub fn new(n: u32, classes: u32) -> Self {
        XentShape { n, classes, _pad: [0; 2] }
    }
    pub fn logits_len(&self) -> u64 {
        self.n as u64 * self.classes as u64
    }
}

/// Element count of a flat 1-D kernel (ReLU backward).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Len {
    pub len: u32,
    pub _pad: [u32; 3],
}

impl Len {
    pub fn new(len: u32) -> Self {
        Len { len, _pad: [0; 3] }
    }
}

/// SGD hyper-parameters, PyTorch's convention:
/// g' = g + weight_decay·w;  v = momentum·v + g';  w -= lr·v.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct SgdParams {
    pub len: u32,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

/// Adam hyper-parameters for one step t (PyTorch's Adam, L2 weight decay);
/// bias_correction_i = 1 - beta_i^t, computed on the host.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    pub len: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub bias_correction1: f32,
    pub bias_correction2: f32,
}

/// Which samples `gather_batch` copies: order[offset .. offset + batch].
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatherParams {
    pub offset: u32,
    pub batch: u32,
    pub image_len: u32,
    pub _pad: u32,
}

/// `augment_batch`'s uniform: which samples (order[offset .. offset + batch]) of images
/// side x side, and the draws (seed, epoch; angles in radians).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct AugmentParams {
    pub offset: u32,
    pub batch: u32,
    pub side: u32,
    pub seed: u32,
    pub epoch: u32,
    pub kind: u32,
    /// The elastic Gaussian's half-width, pixels.
    pub radius: u32,
    pub _pad0: u32,
    pub shift: f32,
    pub rotate: f32,
    pub zoom: f32,
    pub shear: f32,
    pub alpha: f32,
    pub sigma: f32,
    /// Pixel = byte / divisor: 255 for [0, 1], 1 for raw 0-255.
    pub divisor: f32,
    pub _pad1: f32,
}

impl AugmentParams {
    /// The most pixels an image may have: the elastic field lives in workgroup memory.
    pub const MAX_PIXELS: u32 = 784;

    /// Batches of `batch` images of `side` x `side` drawn by `a` from `seed`.
    pub fn new(a: &crate::augment::Augmentation, batch: u32, side: u32, seed: u64, divisor: f32) -> Self {
        AugmentParams {
            offset: 0,
            batch,
            side,
            // Both halves of the seed count.
            seed: (seed as u32) ^ ((seed >> 32) as u32),
            epoch: 0,
            kind: a.kind.code(),
            radius: a.radius(side),
            _pad0: 0,
            shift: a.shift,
            rotate: a.rotate.to_radians(),
            zoom: a.zoom,
            shear: a.shear.to_radians(),
            alpha: a.elastic_alpha,
            sigma: a.elastic_sigma,
            divisor,
            _pad1: 0.0,
        }
    }

    pub fn pixels(&self) -> u32 {
        self.side * self.side
    }

    pub fn x_len(&self) -> u64 {
        self.batch as u64 * self.pixels() as u64
    }
}

/// A per-image channel objective over y (N, C, HW).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelShape {
    pub n: u32,
    pub c: u32,
    pub hw: u32,
    pub _pad: u32,
}

/// One gradient-ascent step on N images of `len` pixels: normalized step, L2 decay, clamp.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct AscentParams {
    pub n: u32,
    pub len: u32,
    pub lr: f32,
    pub l2: f32,
    pub lo: f32,
    pub hi: f32,
    pub _pad: [u32; 2],
}

/// `tv_gradient`'s uniform: N images of H x W and the gradient's coefficient.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct TvParams {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub coef: f32,
}

impl TvParams {
    pub fn len(&self) -> u64 {
        self.n as u64 * self.h as u64 * self.w as u64
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// N single-channel images of H x W, and a (dy, dx) shift for `roll2d`.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub shift_y: i32,
    pub shift_x: i32,
    pub _pad: [u32; 3],
}

impl ImageShape {
    pub fn new(n: u32, h: u32, w: u32) -> Self {
        ImageShape { n, h, w, shift_y: 0, shift_x: 0, _pad: [0; 3] }
    }
    pub fn len(&self) -> u64 {
        self.n as u64 * self.h as u64 * self.w as u64
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// LeNet-1998's input: N images of H x W in [0, 1] -> (N, 1, H+2·pad, W+2·pad), with
/// background (0) mapped to `lo`, full ink (1) to `hi`, and the border at `lo`.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct PadShape {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub pad: u32,
    pub lo: f32,
    pub hi: f32,
    pub _pad: [u32; 2],
}

impl PadShape {
    pub fn new(n: u32, h: u32, w: u32, pad: u32, lo: f32, hi: f32) -> Self {
        PadShape { n, h, w, pad, lo, hi, _pad: [0; 2] }
    }
    pub fn x_len(&self) -> u64 {
        self.n as u64 * self.h as u64 * self.w as u64
    }
    pub fn out_h(&self) -> u32 {
        self.h + 2 * self.pad
    }
    pub fn out_w(&self) -> u32 {
        self.w + 2 * self.pad
    }
    pub fn y_len(&self) -> u64 {
        self.n as u64 * self.out_h() as u64 * self.out_w() as u64
    }
    /// Rows of x and of y (the kernels take a row per invocation).
    pub fn x_rows(&self) -> u64 {
        self.n as u64 * self.h as u64
    }
    pub fn y_rows(&self) -> u64 {
        self.n as u64 * self.out_h() as u64
    }
}

/// Zero-padding of P planes (batch x channels) from H x W to OH x OW on the right and
/// bottom; its backward crops back.
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroPadShape {
    pub planes: u32,
    pub h: u32,
    pub w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub _pad: [u32; 3],
}

impl ZeroPadShape {
    /// `planes` planes of `h` x `w` padded to `out_h` x `out_w` (each at least as large).
    pub fn new(planes: u32, (h, w): (u32, u32), (out_h, out_w): (u32, u32)) -> Self {
        debug_assert!(out_h >= h && out_w >= w, "zero-padding cannot shrink {h}x{w} to {out_h}x{out_w}");
        ZeroPadShape { planes, h, w, out_h, out_w, _pad: [0; 3] }
    }
    pub fn x_len(&self) -> u64 {
        self.planes as u64 * self.h as u64 * self.w as u64
    }
    pub fn y_len(&self) -> u64 {
        self.planes as u64 * self.out_h as u64 * self.out_w as u64
    }
    /// Rows of x and of y (the kernels take a row per invocation).
    pub fn x_rows(&self) -> u64 {
        self.planes as u64 * self.h as u64
    }
    pub fn y_rows(&self) -> u64 {
        self.planes as u64 * self.out_h as u64
    }
}

/// Euclidean RBF output units over x (N, UNITS) with fixed centers (CLASSES, UNITS), and the
/// constant `j` of the paper's loss (eq. 9).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct RbfShape {
    pub n: u32,
    pub classes: u32,
    pub units: u32,
    pub _pad0: u32,
    pub j: f32,
    pub _pad: [u32; 3],
}

impl RbfShape {
    pub fn new(n: u32, classes: u32, units: u32, j: f32) -> Self {
        RbfShape { n, classes, units, _pad0: 0, j, _pad: [0; 3] }
    }
    pub fn x_len(&self) -> u64 {
        self.n as u64 * self.units as u64
    }
    pub fn y_len(&self) -> u64 {
        self.n as u64 * self.classes as u64
    }
    pub fn centers_len(&self) -> u64 {
        self.classes as u64 * self.units as u64
    }
}

/// SDLM step: w -= lr / (mu + h) · g; `scale` is used by `scale_add` (acc += scale · x).
#[repr(C)]
#[derive(Pod, Zeroable, Clone, Copy, Debug, PartialEq)]
pub struct SdlmParams {
    pub len: u32,
    pub lr: f32,
    pub mu: f32,
    pub scale: f32,
}
