//! The layers both networks are made of. A layer is declared without a GPU ([`Layer`]: its
//! output size, parameters and summary row follow from its input size) and built for one
//! batch size into a [`Built`]: the buffers it owns and its forward and backward
//! dispatches, side by side. A network is a list of layers (`lenet5::network`,
//! `lenet1998::network`); the plan runs the forwards in order and the backwards in reverse
//! (llm.c's `gpt2_forward` / `gpt2_backward`).
//!
//! Gradients flow through [`Tensor::grad`]: a layer allocates its output's gradient and its
//! backward writes its input's (where the input has one), so "does the input need a
//! gradient" is "does `input.grad` exist". Every gradient is overwritten, never accumulated.

mod conv;
mod conv_pool;
mod dense;
mod loss;
mod pad;
mod squash;
mod subsample;
mod subsampled;

pub use conv::{Conv, TableConv};
pub use conv_pool::ConvPool;
pub use dense::{Dense, DenseStack};
pub use loss::{Rbf, SoftmaxXent};
pub use pad::PadNormalize;
pub use subsample::Subsample;
pub use subsampled::Subsampled;

use crate::error::Result;
use crate::export::onnx::{Attr, Graph};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::conv_direct::{ConvActivation, ConvInput};
use crate::kernels::squash::SquashFn;
use crate::kernels::Kernels;
use crate::model::params::{ParamLayout, ParamSpec};
use crate::model::summary::LayerInfo;
use crate::model::Mode;

/// One image's worth of a tensor: feature maps (C, H, W) or a vector of units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dims {
    Map { c: u32, h: u32, w: u32 },
    Units(u32),
}

impl Dims {
    /// Values per image.
    pub fn len(self) -> u32 {
        match self {
            Dims::Map { c, h, w } => c * h * w,
            Dims::Units(n) => n,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// (C, H, W); units as (N, 1, 1).
    pub fn chw(self) -> (u32, u32, u32) {
        match self {
            Dims::Map { c, h, w } => (c, h, w),
            Dims::Units(n) => (n, 1, 1),
        }
    }

    /// As the summary table prints it: [C, H, W] or [units].
    pub fn shape(self) -> Vec<u32> {
        match self {
            Dims::Map { c, h, w } => vec![c, h, w],
            Dims::Units(n) => vec![n],
        }
    }
}

/// An activation between two layers, (N, ...dims) f32, NCHW.
#[derive(Clone)]
pub struct Tensor {
    pub dims: Dims,
    pub value: wgpu::Buffer,
    /// d loss / d value, written by the backward of the layer that reads `value`; None
    /// where nothing needs it.
    pub grad: Option<wgpu::Buffer>,
    /// `value` is a ReLU's output: a reader's input gradient is masked by value > 0 (the
    /// dense kernels fuse the mask in).
    pub relu: bool,
    /// `value` is a GPU-resident dataset's packed bytes, read through a sample order
    /// (`InputSource::Dataset`); only a network's first layer sees this.
    pub dataset: Option<DatasetInput>,
    /// Where its rows are stored wider than `dims` says, zeros after: the width its reader
    /// asked for ([`Layer::input_row_width`]). `grad`, if any, is not widened.
    pub row_width: Option<u32>,
}

/// The batch where it lies: batch image n is image `order[first + n]` of `images`, `first`
/// being in `cursor` ([`crate::shapes::BatchParams`]), which every kernel of the plan that
/// reads the dataset shares.
#[derive(Clone)]
pub struct DatasetInput {
    pub order: wgpu::Buffer,
    pub cursor: wgpu::Buffer,
}

impl Tensor {
    /// A fresh activation of `dims` with a gradient when `grad`.
    pub fn new(b: &Build, label: &str, dims: Dims, grad: bool) -> Tensor {
        let len = b.batch as u64 * dims.len() as u64;
        Tensor {
            dims,
            value: b.buffer(&format!("act.{label}"), len),
            grad: grad.then(|| b.buffer(&format!("grad.{label}"), len)),
            relu: false,
            dataset: None,
            row_width: None,
        }
    }

    pub fn value(&self) -> View<'_> {
        View::whole(&self.value)
    }

    /// The value as a first layer's kernel reads it: f32, or the dataset's bytes.
    pub fn as_input(&self) -> ConvInput<'_> {
        match &self.dataset {
            Some(d) => {
                ConvInput::Bytes { images: self.value(), order: View::whole(&d.order), cursor: View::whole(&d.cursor) }
            }
            None => ConvInput::F32(self.value()),
        }
    }

    /// Its gradient's view (a tensor built with one).
    pub fn grad(&self) -> Option<View<'_>> {
        self.grad.as_ref().map(View::whole)
    }

    /// Elements in the batch.
    pub fn len(&self, batch: u32) -> u64 {
        batch as u64 * self.dims.len() as u64
    }
}

/// A named tensor a layer exposes: what feature maps show, and where gradient ascent
/// writes a gradient and starts the backward (at `backward[backward_from]` of its layer).
#[derive(Clone)]
pub struct Tap {
    pub name: String,
    pub tensor: Tensor,
    pub backward_from: usize,
    pub picture: Picture,
}

/// How feature maps draw a tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    /// One map per channel.
    Maps,
    /// A vector as a strip of cells.
    Strip,
    /// A vector as an h x w image.
    Bitmap { h: u32, w: u32 },
    /// Not drawn (logits, class scores: the output bars show them).
    Hidden,
}

impl Picture {
    /// Maps for (C, H, W) tensors, a strip for vectors.
    pub fn of(dims: Dims) -> Picture {
        match dims {
            Dims::Map { .. } => Picture::Maps,
            Dims::Units(_) => Picture::Strip,
        }
    }
}

/// What a loss layer leaves: the class scores whose argmax is the prediction (softmax, or
/// softmin of the RBF distances), the per-sample loss, and the metrics it adds them into.
pub struct Head {
    pub kind: HeadKind,
    pub probs: wgpu::Buffer,
    pub loss: wgpu::Buffer,
    pub metrics: Dispatch,
}

/// Which loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// Softmax and cross-entropy over logits (the gradient of the loss is written into
    /// the logits' `grad` by the forward pass).
    Softmax,
    /// The paper's RBF outputs and loss (eq. 9).
    Rbf,
}

/// A layer built for one batch size.
pub struct Built {
    pub forward: Vec<Dispatch>,
    /// From its output's gradient to its parameters' and its input's.
    pub backward: Vec<Dispatch>,
    /// SDLM's Gauss-Newton pass: the backward on squared weights and activations into
    /// the curvature buffer (its own squares first).
    pub second_order: Vec<Dispatch>,
    pub output: Tensor,
    pub taps: Vec<Tap>,
    pub head: Option<Head>,
}

impl Built {
    /// A layer with one tap, its output (whose gradient the whole backward reads).
    pub fn new(name: &str, output: Tensor) -> Built {
        let picture = Picture::of(output.dims);
        let taps = vec![Tap { name: name.to_string(), tensor: output.clone(), backward_from: 0, picture }];
        Built { forward: Vec::new(), backward: Vec::new(), second_order: Vec::new(), output, taps, head: None }
    }

    /// This layer and `next` (built on this one's output) as one: the forwards in order,
    /// the backwards in reverse, both's taps (this one's backward starting after next's).
    pub fn then(self, next: Built) -> Built {
        let offset = next.backward.len();
        let mut taps: Vec<Tap> =
            self.taps.into_iter().map(|t| Tap { backward_from: t.backward_from + offset, ..t }).collect();
        taps.extend(next.taps);
        let [mut forward, mut backward, mut second_order] = [self.forward, next.backward, next.second_order];
        forward.extend(next.forward);
        backward.extend(self.backward);
        second_order.extend(self.second_order);
        Built { forward, backward, second_order, output: next.output, taps, head: next.head }
    }
}

/// One layer as declared: everything about it but the GPU.
pub trait Layer {
    /// The output's dims for an input of `input`.
    fn output(&self, input: Dims) -> Dims;
    /// Its parameter tensors, in the order the flat parameter buffer holds them.
    fn params(&self, _input: Dims) -> Vec<ParamSpec> {
        Vec::new()
    }
    /// Its rows in the summary table (Keras' `model.summary()`); none for a step the
    /// table leaves out.
    fn rows(&self, input: Dims) -> Vec<LayerInfo>;
    /// Whether, as a network's first layer, it reads its input as a dataset's bytes
    /// ([`Tensor::dataset`]) in this mode.
    fn reads_dataset(&self, _k: &Kernels, _input: Dims, _batch: u32, _mode: Mode) -> bool {
        false
    }
    /// The width it reads its input's rows at in an evaluation, where wider than the
    /// input's (the extra columns zeros): the layer before may store its output so
    /// ([`Build::output_row_width`]), saving the padding pass.
    fn input_row_width(&self, _k: &Kernels, _input: Dims, _batch: u32) -> Option<u32> {
        None
    }
    /// Its buffers and dispatches at one batch size.
    fn build(&self, b: &Build, input: &Tensor) -> Result<Built>;
    /// Its ONNX nodes, reading `x` (per image `input`); returns the name of its output.
    fn export(&self, g: &mut Graph, x: &str, input: Dims) -> Result<String>;
    /// A convolution's name, as pictures of its kernels and channels call it.
    fn conv_name(&self) -> Option<&'static str> {
        None
    }
    /// A convolution's kernels, for pictures.
    fn conv_kernels(&self, _layout: &ParamLayout, _params: &[f32]) -> Option<ConvKernels> {
        None
    }
}

/// A convolution's weights as pictures show them.
pub struct ConvKernels {
    /// (OC, C, K, K).
    pub shape: [usize; 4],
    pub weights: Vec<f32>,
    /// connected[o·C + c]; None: every pair.
    pub connected: Option<Vec<bool>>,
}

/// What every layer of a plan is built with: the device, the kernels, the parameters and
/// their gradient (shared by every plan of a model), the batch size and the mode.
#[derive(Clone, Copy)]
pub struct Build<'a> {
    pub gpu: &'a Gpu,
    pub kernels: &'a Kernels,
    pub layout: &'a ParamLayout,
    pub params: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    pub batch: u32,
    pub mode: Mode,
    /// (N) u32 labels, read by the loss.
    pub labels: &'a wgpu::Buffer,
    /// Running [loss sum, correct, samples, _], see `kernels::metrics`.
    pub metrics: &'a wgpu::Buffer,
    /// SDLM: where the Gauss-Newton pass writes, and the squared parameters it reads.
    pub second_order: Option<SecondOrder<'a>>,
    /// The row width the next layer reads this one's output at, where it asked
    /// ([`Layer::input_row_width`]) and nothing else reads the output (an evaluation that
    /// keeps no outputs): a layer may store its output so (setting [`Tensor::row_width`]).
    pub output_row_width: Option<u32>,
}

/// The buffers of SDLM's Gauss-Newton pass.
#[derive(Clone, Copy)]
pub struct SecondOrder<'a> {
    pub curvature: &'a wgpu::Buffer,
    pub squared_params: &'a wgpu::Buffer,
}

/// Which backward a layer is building: the gradient, or SDLM's second derivatives.
#[derive(Clone, Copy)]
pub enum Pass<'a> {
    First,
    Second(SecondOrder<'a>),
}

impl<'a> Build<'a> {
    /// A storage buffer of `len` f32s.
    pub fn buffer(&self, label: &str, len: u64) -> wgpu::Buffer {
        self.gpu.storage(label, len as usize)
    }

    /// A storage buffer only where `needed`.
    pub fn buffer_if(&self, needed: bool, label: &str, len: u64) -> Option<wgpu::Buffer> {
        needed.then(|| self.buffer(label, len))
    }

    pub fn train(&self) -> bool {
        self.mode.trains()
    }

    /// Parameter tensor `name`.
    pub fn param(&self, name: &str) -> View<'a> {
        self.layout.view(self.params, name)
    }

    /// The flat buffer of weights a pass reads: the parameters, or their squares.
    pub fn weights_of(&self, pass: Pass<'a>) -> &'a wgpu::Buffer {
        match pass {
            Pass::First => self.params,
            Pass::Second(s) => s.squared_params,
        }
    }

    /// The flat buffer a pass writes its derivatives into: the gradient, or the curvature.
    pub fn grads_of(&self, pass: Pass<'a>) -> &'a wgpu::Buffer {
        match pass {
            Pass::First => self.grads,
            Pass::Second(s) => s.curvature,
        }
    }

    /// Tensor `name` of the weights a pass reads.
    pub fn weights(&self, pass: Pass<'a>, name: &str) -> View<'a> {
        self.layout.view(self.weights_of(pass), name)
    }

    /// Where a pass writes the derivative for parameter `name`.
    pub fn grad_out(&self, pass: Pass<'a>, name: &str) -> View<'a> {
        self.layout.view(self.grads_of(pass), name)
    }

    /// An error for a layer (`name`) that has no second-order pass, in a plan that wants
    /// SDLM's second derivatives.
    pub fn require_first_order(&self, name: &str) -> crate::error::Result<()> {
        match self.second_order {
            Some(_) => Err(crate::Error::Config(format!("{name} has no second-derivative pass for SDLM"))),
            None => Ok(()),
        }
    }

    /// The passes a training plan builds: the gradient, and with SDLM the second order.
    pub fn passes(&self) -> Vec<Pass<'a>> {
        let mut out = vec![Pass::First];
        out.extend(self.second_order.map(Pass::Second));
        out
    }
}

/// An activation after a layer's linear part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    /// Fused into the kernels.
    Relu,
    /// The logits feed a softmax-cross-entropy loss ([`SoftmaxXent`]), which computes the
    /// softmax with the loss and its gradient; the summary shows it on the layer, as Keras.
    Softmax,
    /// LeNet-1998's: applied by the layer's kernel where it can, else its own dispatch
    /// after the layer; its derivative before its backward.
    Squash(SquashFn),
}

impl Activation {
    /// What a layer's kernel is asked to apply of it (a softmax is the loss's).
    pub fn in_kernel(self) -> ConvActivation {
        match self {
            Activation::Relu => ConvActivation::Relu,
            Activation::Squash(f) => ConvActivation::Squash(f),
            Activation::None | Activation::Softmax => ConvActivation::None,
        }
    }

    /// Its ONNX nodes after `x` (none for a softmax, which the loss computes and the
    /// export leaves out: the graph ends in logits).
    fn export(self, g: &mut Graph, hint: &str, x: String) -> String {
        match self {
            Activation::None | Activation::Softmax => x,
            Activation::Relu => g.node("Relu", hint, &[&x], vec![]),
            Activation::Squash(SquashFn::Sigmoid) => g.node("Sigmoid", hint, &[&x], vec![]),
            Activation::Squash(SquashFn::ScaledTanh) => {
                // A tanh(S a), as shaders/squash.wgsl computes it.
                let a = g.scale(&format!("{hint}_slope"), &x, crate::kernels::squash::TANH_S);
                let t = g.node("Tanh", hint, &[&a], vec![]);
                g.scale(&format!("{hint}_amplitude"), &t, crate::kernels::squash::TANH_A)
            }
        }
    }

    /// The summary table's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Activation::None => "",
            Activation::Relu => "relu",
            Activation::Softmax => "softmax",
            Activation::Squash(_) => "squash",
        }
    }
}

/// The layer that turns (C, H, W) maps into C·H·W units: free, activations being NCHW.
pub struct Flatten;

impl Layer for Flatten {
    fn output(&self, input: Dims) -> Dims {
        Dims::Units(input.len())
    }
    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        vec![LayerInfo::new("flatten", "Flatten".into(), Activation::None, input, self.output(input), 0)]
    }
    fn build(&self, _b: &Build, input: &Tensor) -> Result<Built> {
        let output = Tensor { dims: self.output(input.dims), ..input.clone() };
        Ok(Built { taps: Vec::new(), ..Built::new("flatten", output) })
    }
    fn export(&self, g: &mut Graph, x: &str, _input: Dims) -> Result<String> {
        Ok(g.node("Flatten", "flatten", &[x], vec![("axis", Attr::Int(1))]))
    }
}

/// (name, shape) of a weight tensor, initialized from its fan-in (`shape[1..]`).
fn weight(name: impl Into<String>, shape: &[usize]) -> ParamSpec {
    ParamSpec { name: name.into(), shape: shape.to_vec(), fan_in: Some(shape[1..].iter().product()) }
}

/// A bias, initialized to zero.
fn bias(name: impl Into<String>, len: u32) -> ParamSpec {
    ParamSpec { name: name.into(), shape: vec![len as usize], fan_in: None }
}
