//! The Keras LeNet-5's convolution block: conv (bias, ReLU) then 2x2 max-pool, as one
//! builder so that the kernels can fuse them: the forward pools as it convolves, and where
//! nothing needs the conv's own output gradient (the first layer, in training) the weight
//! gradient reads it through the pool instead of having it written.

use super::{bias, weight, Activation, Build, Built, Dims, Layer, Pass, Picture, Tap, Tensor};
use crate::error::Result;
use crate::export::onnx::{Attr, Graph};
use crate::gpu::{Dispatch, View};
use crate::kernels::conv::{
    ConvChoice, ConvForwardViews, ConvInputGradViews, ConvUse, ConvWeightGradViews, ForwardPath, WeightGradPath,
};
use crate::kernels::conv_direct::{ConvActivation, ConvInput, PoolViews};
use crate::kernels::Kernels;
use crate::model::params::{ParamLayout, ParamSpec};
use crate::model::summary::LayerInfo;
use crate::model::Mode;
use crate::shapes::ConvShape;

/// conv `channels`@`kernel`x`kernel` (valid, stride 1) with bias and ReLU, then a 2x2
/// max-pool: two rows of the summary, `conv` and `pool`.
pub struct ConvPool {
    pub conv: &'static str,
    pub pool: &'static str,
    pub channels: u32,
    pub kernel: u32,
}

impl ConvPool {
    pub fn new(conv: &'static str, pool: &'static str, channels: u32, kernel: u32) -> Self {
        ConvPool { conv, pool, channels, kernel }
    }

    fn shape(&self, input: Dims, batch: u32) -> ConvShape {
        let (c, h, w) = input.chw();
        ConvShape::new(batch, c, h, w, self.channels, self.kernel)
    }

    fn conv_out(&self, input: Dims) -> Dims {
        let s = self.shape(input, 1);
        Dims::Map { c: self.channels, h: s.out_h(), w: s.out_w() }
    }

    fn choice(&self, k: &Kernels, s: ConvShape, mode: Mode, input_grad: bool) -> ConvChoice {
        let (train, keep_y) = (mode.trains(), mode.keeps_outputs());
        k.conv_choice(
            s,
            ConvUse { activation: ConvActivation::Relu, pool: true, subsample: false, keep_y, train, input_grad },
        )
    }

    fn weight_name(&self) -> String {
        format!("{}.weight", self.conv)
    }

    fn bias_name(&self) -> String {
        format!("{}.bias", self.conv)
    }
}

/// A [`ConvPool`]'s own buffers at one batch size; each only where its [`ConvChoice`]
/// needs it.
struct Buffers {
    argmax: wgpu::Buffer,
    /// The conv's output before the pool.
    y: Option<wgpu::Buffer>,
    col: Option<wgpu::Buffer>,
    /// d loss / d (the conv's output before its ReLU).
    dy: Option<wgpu::Buffer>,
    dcol: Option<wgpu::Buffer>,
    dw_partials: Option<wgpu::Buffer>,
    db_partials: Option<wgpu::Buffer>,
}

impl ConvPool {
    /// From the pool's output gradient `dpool`: the pool's backward (with the ReLU's mask)
    /// where dy is needed, the weight and bias gradients, and dx where the input has a
    /// gradient.
    fn backward(
        &self,
        b: &Build,
        c: &ConvChoice,
        (x, dx): (ConvInput, Option<View>),
        (dpool, pool): (View, PoolViews),
        bufs: &Buffers,
    ) -> Result<Vec<Dispatch>> {
        let mut out = Vec::new();
        let dy = view_of(&bufs.dy);
        if let Some(dy) = dy {
            let pool_shape = c.pool_shape();
            out.push(b.kernels.pool.maxpool2x2_relu_backward(
                b.gpu,
                pool_shape,
                dpool,
                pool.argmax,
                pool.pooled,
                dy,
            )?);
        }
        let dw_partials = view_of(&bufs.dw_partials).expect("allocated for training");
        let weight_views = ConvWeightGradViews {
            x,
            col: view_of(&bufs.col),
            dy,
            pool: Some((dpool, pool)),
            dw_partials,
            db_partials: view_of(&bufs.db_partials),
            dw: b.grad_out(Pass::First, &self.weight_name()),
            db: b.grad_out(Pass::First, &self.bias_name()),
        };
        out.extend(b.kernels.conv_weight_grad(b.gpu, c, weight_views)?);
        if let (Some(dx), Some(dy)) = (dx, dy) {
            let w = b.param(&self.weight_name());
            out.extend(b.kernels.conv_input_grad(
                b.gpu,
                c,
                ConvInputGradViews { dy, w, dcol: view_of(&bufs.dcol), dx },
            )?);
        }
        Ok(out)
    }
}

/// The whole of a buffer that may not exist.
fn view_of(buffer: &Option<wgpu::Buffer>) -> Option<View<'_>> {
    buffer.as_ref().map(View::whole)
}

impl Layer for ConvPool {
    fn output(&self, input: Dims) -> Dims {
        let (c, h, w) = self.conv_out(input).chw();
        Dims::Map { c, h: h / 2, w: w / 2 }
    }

    fn params(&self, input: Dims) -> Vec<ParamSpec> {
        let (c, k) = (input.chw().0 as usize, self.kernel as usize);
        vec![weight(self.weight_name(), &[self.channels as usize, c, k, k]), bias(self.bias_name(), self.channels)]
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let params = self.params(input).iter().map(ParamSpec::len).sum();
        let kind = format!("Conv2D {0}x{0}", self.kernel);
        let (c, k, maps) = (input.chw().0 as usize, self.kernel as usize, self.channels as usize);
        vec![
            LayerInfo::new(self.conv, kind, Activation::Relu, input, self.conv_out(input), params)
                .per_position(maps * (c * k * k + 1), maps * c * k * k),
            // Each output reads a 2x2 window and multiplies nothing.
            LayerInfo::new(
                self.pool,
                "MaxPooling2D 2x2".into(),
                Activation::None,
                self.conv_out(input),
                self.output(input),
                0,
            )
            .per_position(maps * 4, 0),
        ]
    }

    /// Where the forward fuses the pool and stores nothing else, and the backward (if any)
    /// reads dy through the pool: then nothing but those two kernels reads x.
    fn reads_dataset(&self, k: &Kernels, input: Dims, batch: u32, mode: Mode) -> bool {
        let c = self.choice(k, self.shape(input, batch), mode, mode == Mode::TrainWithInputGrad);
        let forward_only_pools = c.forward == ForwardPath::Direct { pool: true } && !c.store_y;
        forward_only_pools && matches!(c.weight_grad, None | Some(WeightGradPath::ThroughPool))
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        b.require_first_order(self.conv)?;
        let s = self.shape(input.dims, b.batch);
        let c = self.choice(b.kernels, s, b.mode, input.grad.is_some());
        let output = Tensor::new(b, self.pool, self.output(input.dims), b.train());
        let label = |what: &str| format!("{what}.{}", self.conv);
        let bufs = Buffers {
            argmax: b.buffer(&format!("act.{}.argmax", self.pool), output.len(b.batch)),
            y: b.buffer_if(c.store_y, &label("act"), s.y_len()),
            col: b.buffer_if(c.needs_col(), &label("act.col"), s.col_len()),
            dy: b.buffer_if(c.needs_dy(), &label("grad"), s.y_len()),
            dcol: b.buffer_if(c.needs_dcol(), &label("grad.col"), s.col_len()),
            dw_partials: b.buffer_if(b.train(), &label("grad.dw_partials"), c.partials as u64 * s.w_len()),
            db_partials: b.buffer_if(
                b.train() && c.bias_partials,
                &label("grad.db_partials"),
                (c.partials * s.oc) as u64,
            ),
        };
        let x = input.as_input();
        let pool = PoolViews { pooled: output.value(), argmax: View::whole(&bufs.argmax) };
        let (w, bias) = (b.param(&self.weight_name()), b.param(&self.bias_name()));
        let forward_views = ConvForwardViews {
            x,
            col: view_of(&bufs.col),
            w,
            bias,
            y: view_of(&bufs.y),
            pool: Some(pool),
            subsample: None,
        };
        let mut built = Built::new(self.pool, output.clone());
        built.forward = b.kernels.conv_forward(b.gpu, &c, forward_views)?;
        if let Some(dpool) = output.grad() {
            built.backward = self.backward(b, &c, (x, input.grad()), (dpool, pool), &bufs)?;
        }
        // The conv's own output, where stored; a gradient written into its `grad` is taken
        // as w.r.t. the pre-activation (gradient ascent from a blank image, where a channel
        // is off everywhere, would otherwise never move): the backward from after the pool's.
        if let Some(y) = bufs.y {
            let tensor = Tensor {
                dims: self.conv_out(input.dims),
                value: y,
                grad: bufs.dy,
                relu: true,
                dataset: None,
                row_width: None,
            };
            let backward_from = usize::from(c.needs_dy() && output.grad.is_some());
            let picture = Picture::Maps;
            built.taps.insert(0, Tap { name: self.conv.to_string(), tensor, backward_from, picture });
        }
        Ok(built)
    }

    /// Conv, Relu, MaxPool 2x2.
    fn export(&self, g: &mut Graph, x: &str, _input: Dims) -> Result<String> {
        let (w, b) = (g.param(&self.weight_name()), g.param(&self.bias_name()));
        let k = self.kernel as i64;
        let y = g.node("Conv", self.conv, &[x, &w, &b], vec![("kernel_shape", Attr::Ints(vec![k, k]))]);
        let y = g.node("Relu", self.conv, &[&y], vec![]);
        let window = vec![("kernel_shape", Attr::Ints(vec![2, 2])), ("strides", Attr::Ints(vec![2, 2]))];
        Ok(g.node("MaxPool", self.pool, &[&y], window))
    }

    fn conv_name(&self) -> Option<&'static str> {
        Some(self.conv)
    }

    fn conv_kernels(&self, layout: &ParamLayout, params: &[f32]) -> Option<super::ConvKernels> {
        let t = layout.get(&self.weight_name());
        let shape = [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
        Some(super::ConvKernels { shape, weights: params[t.range()].to_vec(), connected: None })
    }
}
