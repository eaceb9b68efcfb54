//! A network built for one batch size: every layer's buffers and dispatches, made once.
//! The forward is the layers' forwards in order, the backward their backwards in reverse.

use super::layers::{Build, Built, DatasetInput, Head, HeadKind, Picture, SecondOrder, Tap, Tensor};
use super::network::Network;
use super::{Ctx, Mode};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::metrics::METRICS_LEN;
use crate::shapes::BatchParams;

/// Where a plan's batch comes from.
#[derive(Clone, Copy)]
pub enum InputSource<'a> {
    /// An f32 buffer the plan allocates, (N, C·H·W), that the caller fills ([`Plan::x`]).
    Buffer,
    /// A GPU-resident dataset (packed bytes, `images`) in a sample order: the first layer
    /// reads the batch where it lies where it can (then [`Plan::x`] is None and
    /// [`Plan::set_first_sample`] places each batch), else the caller gathers it into x.
    Dataset { images: &'a wgpu::Buffer, order: &'a wgpu::Buffer },
}

/// A network at one batch size. `params` and `grads` belong to the [`Ctx`] and are shared
/// by every plan of the model.
pub struct Plan {
    pub batch: u32,
    pub mode: Mode,
    /// The network's input, as the tap `input`.
    input: Tap,
    labels: wgpu::Buffer,
    metrics: wgpu::Buffer,
    /// Where the batch starts in the sample order, when the plan reads a dataset.
    cursor: Option<wgpu::Buffer>,
    layers: Vec<Built>,
    /// SDLM: the squared parameters, computed first in the Gauss-Newton pass.
    square_params: Option<Dispatch>,
}

impl Plan {
    /// Builds every layer of `net` for `batch` images in `mode`.
    pub fn new(ctx: &Ctx, net: &Network, batch: u32, mode: Mode, source: InputSource) -> Result<Plan> {
        if batch == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        let gpu = ctx.gpu;
        let train = mode.trains();
        // An inference plan writes no gradient: a placeholder that no view fits.
        let placeholder;
        let grads = match (ctx.grads, train) {
            (Some(g), _) => g,
            (None, false) => {
                placeholder = gpu.storage("no_grads", 1);
                &placeholder
            }
            (None, true) => return Err(Error::Config("a training plan needs a gradient buffer".into())),
        };
        let labels = gpu.storage("labels", batch as usize);
        let metrics = gpu.storage("metrics", METRICS_LEN);
        let (input, cursor) = input_tensor(ctx, net, batch, mode, source);
        // SDLM: the curvature buffer, and the squared parameters its pass reads.
        let sdlm = ctx.curvature.filter(|_| train).map(|c| (c, gpu.storage("sq.params", ctx.layout.padded_len)));
        let second_order = sdlm.as_ref().map(|(curvature, squared_params)| SecondOrder { curvature, squared_params });
        let b = Build {
            gpu,
            kernels: ctx.kernels,
            layout: ctx.layout,
            params: ctx.params,
            grads,
            batch,
            mode,
            labels: &labels,
            metrics: &metrics,
            second_order,
            output_row_width: None,
        };
        let mut layers = Vec::new();
        let mut x = input.clone();
        for (i, layer) in net.layers.iter().enumerate() {
            // Where only the next layer reads this one's output, it may take it widened.
            let next = net.layers.get(i + 1).filter(|_| !train && !mode.keeps_outputs());
            let output_row_width = next.and_then(|n| n.input_row_width(ctx.kernels, layer.output(x.dims), batch));
            let built = layer.build(&Build { output_row_width, ..b }, &x)?;
            if built.output.row_width.is_some_and(|w| Some(w) != output_row_width) {
                return Err(Error::Config(format!("layer {i} stored its output wider than the next layer reads")));
            }
            x = built.output.clone();
            layers.push(built);
        }
        let square_params = match &sdlm {
            Some((_, sq)) => {
                let len = ctx.layout.padded_len as u32;
                Some(ctx.kernels.elementwise.square(gpu, len, View::whole(ctx.params), View::whole(sq))?)
            }
            None => None,
        };
        if layers.iter().all(|l| l.head.is_none()) {
            return Err(Error::Config("a network needs a loss layer".into()));
        }
        let input = Tap { name: "input".into(), tensor: input, backward_from: 0, picture: Picture::Maps };
        Ok(Plan { batch, mode, input, labels, metrics, cursor, layers, square_params })
    }

    /// The f32 input (N, C·H·W) the caller fills, or None where the plan reads its batch
    /// from a dataset itself.
    pub fn x(&self) -> Option<&wgpu::Buffer> {
        self.input.tensor.dataset.is_none().then_some(&self.input.tensor.value)
    }

    /// d loss / d x, with `Mode::TrainWithInputGrad`.
    pub fn input_grad(&self) -> Option<&wgpu::Buffer> {
        self.input.tensor.grad.as_ref()
    }

    /// (N) u32 labels.
    pub fn labels(&self) -> &wgpu::Buffer {
        &self.labels
    }

    /// Running [loss sum, correct, samples, _]; see `kernels::metrics`.
    pub fn metrics(&self) -> &wgpu::Buffer {
        &self.metrics
    }

    fn head(&self) -> &Head {
        self.layers.iter().find_map(|l| l.head.as_ref()).expect("checked when built")
    }

    /// Which loss the network ends in.
    pub fn head_kind(&self) -> HeadKind {
        self.head().kind
    }

    /// (N, classes) scores whose argmax is the prediction (softmax or softmin).
    pub fn probs(&self) -> &wgpu::Buffer {
        &self.head().probs
    }

    /// (N) per-sample loss.
    pub fn loss(&self) -> &wgpu::Buffer {
        &self.head().loss
    }

    /// After [`InputSource::Dataset`] (where [`Plan::x`] is None): the next batch starts at
    /// position `first` of the order.
    pub fn set_first_sample(&self, gpu: &Gpu, first: u32) {
        if let Some(cursor) = &self.cursor {
            gpu.queue.write_buffer(cursor, 0, bytemuck::bytes_of(&BatchParams::new(self.batch, first)));
        }
    }

    /// Every named tensor: the input (`input`), then each layer's, in order; a later tap of
    /// a name replaces an earlier one (LeNet-1998's padded input is its `input`).
    pub fn taps(&self) -> Vec<&Tap> {
        let mut out: Vec<&Tap> = vec![&self.input];
        for tap in self.layers.iter().flat_map(|l| &l.taps) {
            match out.iter_mut().find(|t| t.name == tap.name) {
                Some(earlier) => *earlier = tap,
                None => out.push(tap),
            }
        }
        out
    }

    /// The tap called `name`.
    pub fn tap(&self, name: &str) -> Option<&Tap> {
        self.taps().into_iter().find(|t| t.name == name)
    }

    /// Forward pass through the loss (and the loss's gradient w.r.t. the network's output).
    pub fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.forward_dispatches().into_iter().for_each(|d| d.record(pass));
    }

    /// Parameter gradients of the mean loss into the model's `grads` (and d loss / d x
    /// with `Mode::TrainWithInputGrad`).
    pub fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.backward_dispatches().for_each(|d| d.record(pass));
    }

    /// The backward from a gradient written into tap `name`'s `grad`, down to the input.
    pub fn record_backward_from(&self, pass: &mut wgpu::ComputePass<'_>, name: &str) -> Result<()> {
        let at = self.layers.iter().position(|l| l.taps.iter().any(|t| t.name == name));
        let Some(at) = at else {
            return Err(Error::Config(format!("no tensor called {name} in this network")));
        };
        let from = self.layers[at].taps.iter().find(|t| t.name == name).expect("found").backward_from;
        let below = self.layers[..at].iter().rev().flat_map(|l| &l.backward);
        self.layers[at].backward[from..].iter().chain(below).for_each(|d| d.record(pass));
        Ok(())
    }

    /// Adds this batch's loss and correct count to [`Plan::metrics`].
    pub fn record_metrics(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.head().metrics.record(pass);
    }

    /// After a forward pass: SDLM's diagonal Gauss-Newton second derivatives into the
    /// curvature buffer. False (and nothing recorded) where the plan has none.
    pub fn record_curvature(&self, pass: &mut wgpu::ComputePass<'_>) -> bool {
        let Some(square) = &self.square_params else {
            return false;
        };
        square.record(pass);
        self.layers.iter().rev().flat_map(|l| &l.second_order).for_each(|d| d.record(pass));
        true
    }

    /// The dispatches [`Plan::record_forward`] records, in order.
    pub fn forward_dispatches(&self) -> Vec<&Dispatch> {
        self.layers.iter().flat_map(|l| &l.forward).collect()
    }

    fn backward_dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        self.layers.iter().rev().flat_map(|l| &l.backward)
    }

    /// Every dispatch of a training step, in order: forward, backward, metrics.
    pub fn dispatches(&self) -> Vec<&Dispatch> {
        let mut all = self.forward_dispatches();
        all.extend(self.backward_dispatches());
        all.push(&self.head().metrics);
        all
    }
}

/// The network's input tensor: the dataset's bytes where the first layer reads them (with
/// the cursor they are read through), else an f32 buffer; with a gradient for
/// `Mode::TrainWithInputGrad`.
fn input_tensor(
    ctx: &Ctx,
    net: &Network,
    batch: u32,
    mode: Mode,
    source: InputSource,
) -> (Tensor, Option<wgpu::Buffer>) {
    let gpu = ctx.gpu;
    let len = batch as usize * net.input.len() as usize;
    let grad = (mode == Mode::TrainWithInputGrad).then(|| gpu.storage("grad.x", len));
    let f32_input = |grad| Tensor {
        dims: net.input,
        value: gpu.storage("x", len),
        grad,
        relu: false,
        dataset: None,
        row_width: None,
    };
    match source {
        InputSource::Dataset { images, order } if net.layers[0].reads_dataset(ctx.kernels, net.input, batch, mode) => {
            let cursor = gpu.uniform("x.cursor", &BatchParams::new(batch, 0));
            let dataset = Some(DatasetInput { order: order.clone(), cursor: cursor.clone() });
            (
                Tensor { dims: net.input, value: images.clone(), grad, relu: false, dataset, row_width: None },
                Some(cursor),
            )
        }
        _ => (f32_input(grad), None),
    }
}
