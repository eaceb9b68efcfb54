//! A convolution's kernels, chosen in one place: the generated direct kernels
//! (`conv_direct`) where the shape, the device and the tier allow them, else im2col + GEMM (+ col2im
//! for the input gradient). A layer states what it needs ([`ConvUse`]), gets a
//! [`ConvChoice`] that says which buffers to allocate, and asks `Kernels::conv_*` for the
//! dispatches.

use super::conv_direct::{
    self, ConvActivation, ConvInput, DyViews, ForwardOutputs, PoolViews, SubsampleOutput, WeightGradViews,
};
use super::gemm::{Epilogue, GemmViews, Transpose};
use super::{Kernels, Tier};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::shapes::{ConvShape, PoolShape, ReducePairShape, ReduceShape, ZeroPadShape};

/// What a layer needs of its convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvUse {
    /// The activation after the bias.
    pub activation: ConvActivation,
    /// A 2x2 max-pool follows (fused into the forward where the kernel can).
    pub pool: bool,
    /// LeNet-1998's 2x2 subsampling follows (fused into the forward where the kernel can;
    /// else the layer runs it).
    pub subsample: bool,
    /// The convolution's own output (before any pool) is read afterwards: feature maps,
    /// gradient ascent on a channel.
    pub keep_y: bool,
    /// The backward is built.
    pub train: bool,
    /// d loss / d x is wanted.
    pub input_grad: bool,
}

/// How the forward runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardPath {
    /// Generated, with the pool fused in when `pool`.
    Direct {
        pool: bool,
    },
    Gemm,
}

/// How the weight gradient runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightGradPath {
    Direct,
    /// Generated, with dy read through the ReLU and pool: no kernel writes dy.
    ThroughPool,
    /// im2col (again, where the forward was direct) + a GEMM per image.
    Gemm,
}

/// How the input gradient runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputGradPath {
    Direct,
    /// GEMM into the im2col layout, then col2im.
    Gemm,
}

/// The kernels of one convolution and what they need allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvChoice {
    /// The shape the kernels compute: the layer's, or on its input widened with zeros
    /// ([`ConvChoice::widening`]).
    pub shape: ConvShape,
    /// The layer's input width (its output, what y is stored at, is [`ConvChoice::y_width`]).
    pub input_w: u32,
    /// The activation the forward applies: the one asked for, except that the GEMM applies
    /// none but a ReLU (the layer then runs it).
    pub activation: ConvActivation,
    pub pool: bool,
    /// The forward also subsamples its output (LeNet-1998's S2, S4).
    pub subsample: bool,
    pub forward: ForwardPath,
    /// None without a backward.
    pub weight_grad: Option<WeightGradPath>,
    /// None unless the input gradient is wanted.
    pub input_grad: Option<InputGradPath>,
    /// The output before the pool is stored.
    pub store_y: bool,
    /// Partial weight gradients the weight-gradient kernel writes (summed afterwards).
    pub partials: u32,
    /// The weight-gradient kernel also writes the bias gradient's partials.
    pub bias_partials: bool,
}

impl ConvChoice {
    /// The layer's output width: what y is stored at (the kernels may compute more).
    pub fn y_width(&self) -> u32 {
        self.input_w - self.shape.kw + 1
    }

    /// Where the kernels run on a wider input than the layer's: the zero-padding of x (and
    /// of dy for the backward, whose own crop gives dx), and the crop of the kernels' output
    /// width to the layer's (which the forward does as it stores y).
    pub fn widening(&self) -> Option<(ZeroPadShape, ZeroPadShape)> {
        let s = self.shape;
        (self.input_w < s.w).then(|| {
            let x = ZeroPadShape::new(s.n * s.c, (s.h, self.input_w), (s.h, s.w));
            let y = ZeroPadShape::new(s.n * s.oc, (s.out_h(), self.y_width()), (s.out_h(), s.out_w()));
            (x, y)
        })
    }

    /// The 2x2 pool of the output.
    pub fn pool_shape(&self) -> PoolShape {
        let s = self.shape;
        PoolShape::new(s.n, s.oc, s.out_h(), s.out_w())
    }

    /// The im2col matrix is written (by the forward, or by the weight gradient).
    pub fn needs_col(&self) -> bool {
        self.forward == ForwardPath::Gemm || self.weight_grad == Some(WeightGradPath::Gemm)
    }

    /// The gradient w.r.t. the convolution's output (after its ReLU's mask) is written by
    /// someone and read by the weight gradient.
    pub fn needs_dy(&self) -> bool {
        matches!(self.weight_grad, Some(p) if p != WeightGradPath::ThroughPool)
    }

    /// The input gradient goes through the im2col layout.
    pub fn needs_dcol(&self) -> bool {
        self.input_grad == Some(InputGradPath::Gemm)
    }

    /// The pool runs as its own kernel after the forward.
    pub fn separate_pool(&self) -> bool {
        self.pool && self.forward != (ForwardPath::Direct { pool: true })
    }
}

/// The views of a convolution's forward.
#[derive(Clone, Copy)]
pub struct ConvForwardViews<'a> {
    pub x: ConvInput<'a>,
    /// The im2col matrix, where [`ConvChoice::needs_col`].
    pub col: Option<View<'a>>,
    pub w: View<'a>,
    pub bias: View<'a>,
    /// The output before the pool: where [`ConvChoice::store_y`].
    pub y: Option<View<'a>>,
    pub pool: Option<PoolViews<'a>>,
    /// Where [`ConvChoice::subsample`].
    pub subsample: Option<SubsampleOutput<'a>>,
}

/// The views of a convolution's weight and bias gradients.
#[derive(Clone, Copy)]
pub struct ConvWeightGradViews<'a> {
    pub x: ConvInput<'a>,
    /// The im2col matrix (written here again where the forward was direct).
    pub col: Option<View<'a>>,
    /// Where [`ConvChoice::needs_dy`]: the gradient w.r.t. the output, masked by its ReLU.
    pub dy: Option<View<'a>>,
    /// With [`WeightGradPath::ThroughPool`]: the pool's output gradient and the pool.
    pub pool: Option<(View<'a>, PoolViews<'a>)>,
    /// Scratch for the per-image (or per-run) partial sums: OC·C·K·K and OC per partial.
    pub dw_partials: View<'a>,
    pub db_partials: Option<View<'a>>,
    /// The summed gradients, overwritten.
    pub dw: View<'a>,
    pub db: View<'a>,
}

/// The views of a convolution's input gradient.
#[derive(Clone, Copy)]
pub struct ConvInputGradViews<'a> {
    pub dy: View<'a>,
    pub w: View<'a>,
    /// Where [`ConvChoice::needs_dcol`].
    pub dcol: Option<View<'a>>,
    pub dx: View<'a>,
}

impl Kernels {
    /// Which kernels compute the convolution `s` for `u` on this device.
    pub fn conv_choice(&self, layer: ConvShape, u: ConvUse) -> ConvChoice {
        let s = if u.pool { None } else { self.conv_widened(layer) }.unwrap_or(layer);
        // The quick tier runs no generated convolution: each compiles in 1-8 s on lavapipe.
        let direct = self.tier == Tier::Fast;
        let forward = if direct && conv_direct::supports(s) {
            ForwardPath::Direct { pool: u.pool && conv_direct::supports_pool(s) }
        } else {
            ForwardPath::Gemm
        };
        let weight_grad = u.train.then(|| {
            if direct && u.pool && !u.input_grad && self.conv_direct.reads_dy_through_pool(s) {
                WeightGradPath::ThroughPool
            } else if direct && conv_direct::supports_weight_grad(s) {
                WeightGradPath::Direct
            } else {
                WeightGradPath::Gemm
            }
        });
        let input_grad = (u.train && u.input_grad).then(|| {
            if direct && self.direct_input_grad && conv_direct::supports_input_grad(s) {
                InputGradPath::Direct
            } else {
                InputGradPath::Gemm
            }
        });
        let generated = matches!(weight_grad, Some(WeightGradPath::Direct | WeightGradPath::ThroughPool));
        let subsample = u.subsample
            && forward != ForwardPath::Gemm
            && conv_direct::supports_subsample(s, layer.out_w(), layer.out_w() / 2);
        ConvChoice {
            shape: s,
            input_w: layer.w,
            activation: match forward {
                ForwardPath::Direct { .. } => u.activation,
                ForwardPath::Gemm => ConvActivation::relu(u.activation == ConvActivation::Relu),
            },
            pool: u.pool,
            subsample,
            forward,
            weight_grad,
            input_grad,
            // A fused pool's backward reads the pool; a subsampling's reads y.
            store_y: u.keep_y || !(forward == (ForwardPath::Direct { pool: true }) || subsample && !u.train),
            partials: if generated { self.conv_direct.weight_grad_partials(s) } else { s.n },
            bias_partials: generated && self.conv_direct.writes_bias_grad(s),
        }
    }

    /// The shape to run `s` as, on its input zero-padded on the right, where its rows are not
    /// whole vec4s but a wider input's are (LeNet-1998's C3: 14 -> 16 wide, 10 -> 12 out):
    /// the direct kernels then apply, and the extra output columns, which only the padding
    /// reaches, are cropped away. None where `s` runs as it is (or no width helps).
    pub fn conv_widened(&self, s: ConvShape) -> Option<ConvShape> {
        if self.tier == Tier::Quick || conv_direct::supports(s) {
            return None;
        }
        let w = (s.w..s.w + 4).find(|w| w.is_multiple_of(4) && (w - s.kw + 1).is_multiple_of(4))?;
        let wide = ConvShape { w, ..s };
        conv_direct::supports(wide).then_some(wide)
    }

    /// The forward (and the pool) as `c` says.
    pub fn conv_forward(&self, gpu: &Gpu, c: &ConvChoice, v: ConvForwardViews) -> Result<Vec<Dispatch>> {
        let s = c.shape;
        let mut out = Vec::new();
        match c.forward {
            ForwardPath::Direct { pool } => {
                let y_width = Some(c.y_width());
                let outputs = ForwardOutputs {
                    y: v.y.filter(|_| c.store_y),
                    pool: v.pool.filter(|_| pool),
                    y_width,
                    subsample: v.subsample.filter(|_| c.subsample),
                };
                out.push(self.conv_direct.conv_forward_direct(gpu, s, c.activation, v.x, [v.w, v.bias], outputs)?);
            }
            ForwardPath::Gemm => {
                let (x, col, y) = (f32_input(v.x)?, required(v.col, "col")?, required(v.y, "y")?);
                out.push(self.im2col.im2col_forward(gpu, s, x, col)?);
                let product = GemmViews { a: v.w, b: col, operand: Some(v.bias), c: y };
                let epilogue = Epilogue::BiasRow { relu: c.activation == ConvActivation::Relu };
                out.push(self.gemm.gemm(gpu, Transpose::None, epilogue, s.forward_gemm(), product)?);
            }
        }
        if c.separate_pool() {
            let PoolViews { pooled, argmax } = required(v.pool, "pool")?;
            out.push(self.pool.maxpool2x2_forward(gpu, c.pool_shape(), required(v.y, "y")?, pooled, argmax)?);
        }
        Ok(out)
    }

    /// The weight gradient (summed over the batch) and the bias gradient, as `c` says.
    pub fn conv_weight_grad(&self, gpu: &Gpu, c: &ConvChoice, v: ConvWeightGradViews) -> Result<Vec<Dispatch>> {
        let s = c.shape;
        let path = c.weight_grad.ok_or_else(|| no_path("a convolution planned without a backward"))?;
        let mut out = Vec::new();
        let db_partials = v.db_partials.filter(|_| c.bias_partials);
        match path {
            WeightGradPath::ThroughPool => {
                let (dpool, PoolViews { pooled, argmax }) = required(v.pool, "pool")?;
                let dy = DyViews::Pool { dpool, argmax, pooled };
                let views = WeightGradViews { x: v.x, dy, dw: v.dw_partials, db: db_partials };
                out.push(self.conv_direct.conv_weight_grad_direct(gpu, s, views)?);
            }
            WeightGradPath::Direct => {
                let dy = DyViews::Dy(required(v.dy, "dy")?);
                let views = WeightGradViews { x: v.x, dy, dw: v.dw_partials, db: db_partials };
                out.push(self.conv_direct.conv_weight_grad_direct(gpu, s, views)?);
            }
            WeightGradPath::Gemm => {
                let col = required(v.col, "col")?;
                if c.forward != ForwardPath::Gemm {
                    // The direct forward wrote no im2col matrix.
                    out.push(self.im2col.im2col_forward(gpu, s, f32_input(v.x)?, col)?);
                }
                let product = GemmViews::plain(required(v.dy, "dy")?, col, v.dw_partials);
                out.push(self.gemm.gemm(gpu, Transpose::B, Epilogue::None, s.weight_grad_gemm(), product)?);
            }
        }
        let per_image = s.oc * s.patch_len();
        match db_partials {
            // Both partials summed in one dispatch.
            Some(db) => {
                let pair = ReducePairShape::new(c.partials, per_image, s.oc);
                out.push(self.reduce.sum_reduce_pair(gpu, pair, [v.dw_partials, v.dw], [db, v.db])?);
            }
            None => {
                out.push(self.reduce.sum_reduce(
                    gpu,
                    ReduceShape::new(c.partials, per_image, 1),
                    v.dw_partials,
                    v.dw,
                )?);
                let bias = ReduceShape::new(s.n, s.oc, s.out_pixels());
                out.extend(self.reduce.sum_reduce_staged(gpu, bias, required(v.dy, "dy")?, v.db)?);
            }
        }
        Ok(out)
    }

    /// The input gradient dx, as `c` says.
    pub fn conv_input_grad(&self, gpu: &Gpu, c: &ConvChoice, v: ConvInputGradViews) -> Result<Vec<Dispatch>> {
        let s = c.shape;
        match c.input_grad.ok_or_else(|| no_path("a convolution planned without its input gradient"))? {
            InputGradPath::Direct => Ok(vec![self.conv_direct.conv_input_grad_direct(gpu, s, v.dy, v.w, v.dx)?]),
            InputGradPath::Gemm => {
                let dcol = required(v.dcol, "dcol")?;
                let product = GemmViews::plain(v.w, v.dy, dcol);
                Ok(vec![
                    self.gemm.gemm(gpu, Transpose::A, Epilogue::None, s.input_grad_gemm(), product)?,
                    self.im2col.col2im_backward(gpu, s, dcol, v.dx)?,
                ])
            }
        }
    }
}

const OP: &str = "conv";

fn no_path(what: &str) -> Error {
    Error::ShapeMismatch { op: OP, what: what.to_string() }
}

/// The view a chosen path needs; an error naming it where the caller gave none.
fn required<T>(v: Option<T>, what: &str) -> Result<T> {
    v.ok_or_else(|| no_path(&format!("the chosen kernels need {what}")))
}

/// x as f32 (im2col cannot read bytes).
fn f32_input<'a>(x: ConvInput<'a>) -> Result<View<'a>> {
    match x {
        ConvInput::F32(v) => Ok(v),
        ConvInput::Bytes { .. } => Err(no_path("im2col cannot read the dataset's bytes")),
    }
}
