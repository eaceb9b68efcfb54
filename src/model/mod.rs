//! The networks: each a list of layers (`lenet5::network`, `lenet1998::network`) from which
//! its parameter layout, summary table and GPU plan are derived. Their CPU twins live in
//! `crate::reference::{lenet5, lenet1998}`.
//!
//! - `layers`: the layer builders (forward and backward side by side).
//! - `network`: a declared network (GPU-free).
//! - `plan`: a network built for one batch size, and its passes.
//! - `params`: the flat parameter buffer's layout and initialization.
//! - `summary`: Keras' `model.summary()` from the layer list.

pub mod layers;
pub mod lenet1998;
pub mod lenet5;
pub mod network;
pub mod params;
pub mod plan;
pub mod summary;

pub use layers::{Activation, Dims, HeadKind};
pub use network::Network;
pub use params::{ParamLayout, TensorSpec};
pub use plan::{InputSource, Plan};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::squash::SquashFn;
use crate::kernels::Kernels;

/// What a plan is built for: which buffers it allocates and which passes it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward and loss only (evaluation): no backward buffers, and the convolutions'
    /// outputs are not stored where they are pooled on the fly (nothing reads them).
    Inference,
    /// As `Inference`, with every layer's output stored (feature maps).
    FeatureMaps,
    /// Forward, backward into the parameter gradients.
    Train,
    /// As `Train`, plus d loss / d x (gradient checks, gradient ascent on the input).
    TrainWithInputGrad,
}

impl Mode {
    /// The plan has a backward pass.
    pub fn trains(self) -> bool {
        matches!(self, Mode::Train | Mode::TrainWithInputGrad)
    }

    /// Outputs that only pictures and gradient ascent read are stored too.
    pub fn keeps_outputs(self) -> bool {
        matches!(self, Mode::FeatureMaps | Mode::TrainWithInputGrad)
    }
}

/// What every plan of one model shares: the device, its kernels, the parameter layout,
/// the parameters and their gradient, and (SDLM) where second derivatives go.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub gpu: &'a Gpu,
    pub kernels: &'a Kernels,
    pub layout: &'a ParamLayout,
    pub params: &'a wgpu::Buffer,
    /// Where training plans write the gradient (laid out as `params`); None for a model
    /// that is only evaluated.
    pub grads: Option<&'a wgpu::Buffer>,
    /// Where `Plan::record_curvature` writes SDLM's second derivatives.
    pub curvature: Option<&'a wgpu::Buffer>,
}

impl<'a> Ctx<'a> {
    /// A model that is only run forward (or whose plans write no gradient).
    pub fn new(gpu: &'a Gpu, kernels: &'a Kernels, layout: &'a ParamLayout, params: &'a wgpu::Buffer) -> Self {
        Ctx { gpu, kernels, layout, params, grads: None, curvature: None }
    }

    /// With the gradient buffer training plans write.
    pub fn with_grads(self, grads: &'a wgpu::Buffer) -> Self {
        Ctx { grads: Some(grads), ..self }
    }
}

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// The Keras tutorial's LeNet-5: ReLU, max-pooling, softmax (44,426 parameters).
    #[default]
    Lenet5,
    /// LeCun et al. 1998: 32x32 input, trainable subsampling, C3's connection table,
    /// scaled tanh, RBF output (60,000 trainable parameters + 840 fixed).
    Lenet1998,
}

impl Arch {
    /// The flat parameter layout (PyTorch-style names).
    pub fn layout(self) -> ParamLayout {
        NetSpec { arch: self, ..NetSpec::default() }.network().layout()
    }

    /// The `arch` metadata of its checkpoints.
    pub fn checkpoint_name(self) -> &'static str {
        match self {
            Arch::Lenet5 => "lenet5-keras",
            Arch::Lenet1998 => "lenet1998",
        }
    }

    pub fn from_checkpoint_name(name: &str) -> Option<Arch> {
        [Arch::Lenet5, Arch::Lenet1998].into_iter().find(|a| a.checkpoint_name() == name)
    }
}

/// The pixel values a network trains on. Every caller hands a network pixels in [0, 1];
/// a `Raw` network multiplies them by 255 in its first layer, so that it computes what the
/// Keras tutorial's model does on `mnist.load_data()`'s unscaled bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InputScale {
    /// Pixels / 255, in [0, 1].
    #[default]
    Unit,
    /// The bytes as they are, 0-255 (LeNet-5 only).
    Raw,
}

/// A network with its options: what a plan is built from and what a checkpoint records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetSpec {
    pub arch: Arch,
    /// LeNet-1998's squashing function (ignored by LeNet-5).
    pub squash: SquashFn,
    /// LeNet-5's input scale (LeNet-1998 normalizes its input its own way).
    pub input_scale: InputScale,
}

impl NetSpec {
    /// The network's layer list.
    pub fn network(&self) -> Network {
        match self.arch {
            Arch::Lenet5 => lenet5::network(self.input_scale),
            Arch::Lenet1998 => lenet1998::network(self.squash),
        }
    }

    pub fn layout(&self) -> ParamLayout {
        self.arch.layout()
    }

    /// A plan of this network for `batch` images in `mode`, fed from `source`.
    pub fn plan(&self, ctx: &Ctx, batch: u32, mode: Mode, source: InputSource) -> Result<Plan> {
        Plan::new(ctx, &self.network(), batch, mode, source)
    }
}
