//! The networks: parameter layouts, GPU plans (forward/backward as prepared dispatches)
//! behind one `Network` interface, and the choice between them (`Arch`). Their CPU twins
//! live in `crate::reference::{lenet5, lenet1998}`.

pub mod lenet1998;
pub mod lenet5;
pub mod params;
pub mod summary;

pub use lenet1998::{Lenet1998Shapes, Plan1998};
pub use lenet5::{BackwardFrom, Lenet5Shapes, Mode, Plan};
pub use params::{ParamLayout, TensorSpec};

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::squash::SquashFn;
use crate::kernels::Kernels;

/// What training and evaluation need from a network plan at one batch size: where the
/// batch goes in, where the class scores and the running metrics come out, and the passes.
pub trait Network {
    fn batch(&self) -> u32;
    /// (N, 28·28) f32 pixels in [0, 1], written by `gather_batch` (not read after
    /// [`Network::read_input_from`] returned true).
    fn x(&self) -> &wgpu::Buffer;
    /// (N) u32 labels.
    fn labels(&self) -> &wgpu::Buffer;
    /// Running [loss sum, correct, samples, _]; see `kernels::metrics`.
    fn metrics(&self) -> &wgpu::Buffer;
    /// (N, 10) class scores whose argmax is the prediction (softmax or softmin).
    fn probs(&self) -> &wgpu::Buffer;
    /// Forward pass through the loss and its gradient w.r.t. the network's output.
    fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>);
    /// Parameter gradients of the mean loss into the plan's `grads`.
    fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>);
    /// Adds this batch's loss and correct count to `metrics`.
    fn record_metrics(&self, pass: &mut wgpu::ComputePass<'_>);
    /// After a forward pass: SDLM's diagonal Gauss-Newton second derivatives into the
    /// plan's curvature buffer. False (and nothing recorded) where the plan has none.
    fn record_curvature(&self, pass: &mut wgpu::ComputePass<'_>) -> bool;
    /// Every dispatch of a training step, in order (for per-kernel timing).
    fn dispatches(&self) -> Vec<&Dispatch>;
    /// The dispatches `record_forward` records, in order (for per-kernel timing).
    fn forward_dispatches(&self) -> Vec<&Dispatch>;
    /// For a plan whose readers of x can read its batch where it lies in a GPU-resident
    /// dataset (`images` packed bytes, batch image n = `order[first + n]`; LeNet-5 in
    /// inference, and in training where only conv1's kernels read x):
    /// switches that layer to it and returns true, after which `x` is not read and
    /// [`Network::set_first_sample`] places each batch. False, with nothing changed, where
    /// the plan cannot.
    fn read_input_from(
        &mut self,
        _gpu: &Gpu,
        _k: &Kernels,
        _layout: &ParamLayout,
        _params: &wgpu::Buffer,
        _images: View,
        _order: View,
    ) -> Result<bool> {
        Ok(false)
    }
    /// After [`Network::read_input_from`]: the next batch starts at position `first` of
    /// the order.
    fn set_first_sample(&self, _gpu: &Gpu, _first: u32) {}
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
        match self {
            Arch::Lenet5 => ParamLayout::lenet5(),
            Arch::Lenet1998 => ParamLayout::lenet1998(),
        }
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

/// A network with its options: what a plan is built from and what a checkpoint records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetSpec {
    pub arch: Arch,
    /// LeNet-1998's squashing function (ignored by LeNet-5).
    pub squash: SquashFn,
}

impl NetSpec {
    pub fn layout(&self) -> ParamLayout {
        self.arch.layout()
    }

    /// A plan of this network for `batch` images. `curvature` (LeNet-1998 only): where
    /// `record_curvature` writes SDLM's second derivatives.
    #[allow(clippy::too_many_arguments)]
    pub fn plan(
        &self,
        gpu: &Gpu,
        k: &Kernels,
        layout: &ParamLayout,
        params: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        curvature: Option<&wgpu::Buffer>,
        batch: u32,
        mode: Mode,
    ) -> Result<Box<dyn Network>> {
        Ok(match self.arch {
            Arch::Lenet5 => Box::new(Plan::new(gpu, k, layout, params, grads, batch, mode)?),
            Arch::Lenet1998 => {
                Box::new(Plan1998::new(gpu, k, layout, params, grads, curvature, batch, mode, self.squash)?)
            }
        })
    }
}
