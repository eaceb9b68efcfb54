//! A dense layer: y (N, OUT) = x (N, IN) · Wᵀ + b, W stored (OUT, IN) as in PyTorch (for a
//! (C, H, W) input, (OUT, C, H, W): LeNet-1998's C5 is a 5x5 convolution over 5x5 maps,
//! which is this product).

use super::squash::{activate, deactivate};
use super::{bias, weight, Activation, Build, Built, Dims, Layer, Pass, Picture, Tensor};
use crate::error::{Error, Result};
use crate::export::onnx::{Attr, Graph};
use crate::gpu::View;
use crate::kernels::conv_direct::ConvActivation;
use crate::kernels::dense_direct::{DenseProduct, StackLayer, StackViews};
use crate::kernels::gemm::GemmViews;
use crate::model::params::ParamSpec;
use crate::model::summary::LayerInfo;
use crate::shapes::GemmShape;

pub struct Dense {
    pub name: &'static str,
    pub units: u32,
    pub activation: Activation,
    /// Some(k): the summary shows it as the k x k convolution it is over a k x k input
    /// (LeNet-1998's C5), its output (units, 1, 1).
    pub as_conv: Option<u32>,
    /// How feature maps draw the output: a strip of units, or e.g. F6's 7x12 bitmap
    /// (what the RBF layer compares it with).
    pub picture: Picture,
}

impl Dense {
    pub fn new(name: &'static str, units: u32, activation: Activation) -> Self {
        Dense { name, units, activation, as_conv: None, picture: Picture::Strip }
    }

    fn prefix(&self) -> String {
        self.name.to_lowercase()
    }

    /// Its summary row's kind and output.
    fn shown(&self) -> (String, Dims) {
        match self.as_conv {
            None => ("Dense".into(), Dims::Units(self.units)),
            Some(k) => (format!("Conv {k}x{k}"), Dims::Map { c: self.units, h: 1, w: 1 }),
        }
    }
}

impl Layer for Dense {
    fn output(&self, _input: Dims) -> Dims {
        Dims::Units(self.units)
    }

    fn params(&self, input: Dims) -> Vec<ParamSpec> {
        let mut shape = vec![self.units as usize];
        shape.extend(input.shape().iter().map(|&d| d as usize));
        vec![weight(format!("{}.weight", self.prefix()), &shape), bias(format!("{}.bias", self.prefix()), self.units)]
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let params = self.params(input).iter().map(ParamSpec::len).sum();
        let (kind, output) = self.shown();
        let (inputs, units) = (input.len() as usize, self.units as usize);
        let row = LayerInfo::new(self.name, kind, self.activation, input, output, params);
        vec![row.per_position(units * (inputs + 1), units * inputs)]
    }

    /// Gemm (x · Wᵀ + b) and the activation; shown as a convolution (C5), a Conv over the
    /// whole input and a Flatten, so that the weight keeps its (OUT, C, H, W) shape.
    fn export(&self, g: &mut Graph, x: &str, input: Dims) -> Result<String> {
        let p = self.prefix();
        let (w, b) = (g.param(&format!("{p}.weight")), g.param(&format!("{p}.bias")));
        let y = match (self.as_conv, input) {
            (Some(k), Dims::Map { .. }) => {
                let (k, kernel) = (k as i64, "kernel_shape");
                let y = g.node("Conv", &p, &[x, &w, &b], vec![(kernel, Attr::Ints(vec![k, k]))]);
                let y = self.activation.export(g, &p, y);
                return Ok(g.node("Flatten", &p, &[&y], vec![("axis", Attr::Int(1))]));
            }
            (_, Dims::Map { .. }) => {
                let flat = g.node("Flatten", &p, &[x], vec![("axis", Attr::Int(1))]);
                g.node("Gemm", &p, &[&flat, &w, &b], vec![("transB", Attr::Int(1))])
            }
            (_, Dims::Units(_)) => g.node("Gemm", &p, &[x, &w, &b], vec![("transB", Attr::Int(1))]),
        };
        Ok(self.activation.export(g, &p, y))
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        self.build_layer(b, input, true)
    }
}

impl Dense {
    /// Its buffers and dispatches; without `forward`, no forward dispatch (a
    /// [`DenseStack`]'s kernel computes it, the activation included).
    fn build_layer(&self, b: &Build, input: &Tensor, forward: bool) -> Result<Built> {
        let (n, inputs, outputs) = (b.batch, input.dims.len(), self.units);
        let (w, bias_name) = (format!("{}.weight", self.prefix()), format!("{}.bias", self.prefix()));
        let s = GemmShape::new(n, outputs, inputs);
        let activation = b.kernels.dense_activation(self.activation.in_kernel(), s);
        // A squash the kernel applies writes the output itself (whose gradient is `pre`'s).
        let squash_fused = matches!(activation, ConvActivation::Squash(_));
        let squash_after = matches!(self.activation, Activation::Squash(_)) && !squash_fused;
        let label = if squash_after { format!("{}_a", self.prefix()) } else { self.prefix() };
        let pre = Tensor::new(b, &label, Dims::Units(outputs), b.train());
        let product =
            GemmViews { a: input.value(), b: b.param(&w), operand: Some(b.param(&bias_name)), c: pre.value() };
        let mut forward = match forward {
            true => vec![b.kernels.dense(b.gpu, DenseProduct::Forward { activation }, s, product)?],
            false => Vec::new(),
        };
        let output = if squash_fused { pre } else { activate(b, &self.prefix(), pre, self.activation, &mut forward)? };
        // Logits (before the loss's softmax) are a tap of that name, shown by the output bars.
        let (tap, picture) = match self.activation {
            Activation::Softmax => ("logits".to_string(), Picture::Hidden),
            _ => (self.prefix(), self.picture),
        };
        let mut built = Built::new(&tap, output.clone());
        built.forward = forward;
        built.taps[0].picture = picture;
        let Some(dy) = output.grad() else {
            return Ok(built);
        };
        for pass in b.passes() {
            let mut list = Vec::new();
            // SDLM's pass multiplies by the squared input.
            let squared_x = match pass {
                Pass::First => None,
                Pass::Second(_) => {
                    let sq = b.buffer(&format!("sq.{}.x", self.prefix()), input.len(n));
                    list.push(b.kernels.elementwise.square(
                        b.gpu,
                        input.len(n) as u32,
                        input.value(),
                        View::whole(&sq),
                    )?);
                    Some(sq)
                }
            };
            let x = squared_x.as_ref().map_or(input.value(), View::whole);
            list.extend(deactivate(b, pass, self.activation, &output)?);
            let s = GemmShape::new(outputs, inputs, n);
            list.extend(b.kernels.dense_weight_grad(
                b.gpu,
                s,
                dy,
                x,
                b.grad_out(pass, &w),
                b.grad_out(pass, &bias_name),
            )?);
            if let Some(dx) = input.grad() {
                // The ReLU that produced x, if one did, is masked here.
                let mask = input.relu.then(|| input.value());
                let product = GemmViews { a: dy, b: b.weights(pass, &w), operand: mask, c: dx };
                let p = DenseProduct::InputGrad { relu_mask: input.relu };
                list.push(b.kernels.dense(b.gpu, p, GemmShape::new(n, inputs, outputs), product)?);
            }
            match pass {
                Pass::First => built.backward = list,
                Pass::Second(_) => built.second_order = list,
            }
        }
        Ok(built)
    }
}

/// Dense layers one after another (LeNet-5's fc1, fc2, fc3), whose forwards run as one
/// kernel where the device has it ([`crate::kernels::Kernels::dense_stack`]: one dispatch
/// instead of one per layer, the hidden outputs stored only where read), else each its
/// own. Everything else (parameters, summary rows, taps, backward) is its layers'.
pub struct DenseStack(pub Vec<Dense>);

impl DenseStack {
    /// Each layer with its input's dims.
    fn with_inputs(&self, input: Dims) -> impl Iterator<Item = (&Dense, Dims)> {
        self.0.iter().scan(input, |x, layer| Some((layer, std::mem::replace(x, layer.output(*x)))))
    }

    /// The layers as the stack kernel computes them.
    fn stack_layers(&self) -> Vec<StackLayer> {
        self.0.iter().map(|l| StackLayer { outputs: l.units, activation: l.activation.in_kernel() }).collect()
    }
}

impl Layer for DenseStack {
    fn output(&self, input: Dims) -> Dims {
        self.0.iter().fold(input, |x, layer| layer.output(x))
    }

    fn params(&self, input: Dims) -> Vec<ParamSpec> {
        self.with_inputs(input).flat_map(|(layer, x)| layer.params(x)).collect()
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        self.with_inputs(input).flat_map(|(layer, x)| layer.rows(x)).collect()
    }

    fn export(&self, g: &mut Graph, x: &str, input: Dims) -> Result<String> {
        let mut y = x.to_string();
        for (layer, dims) in self.with_inputs(input) {
            y = layer.export(g, &y, dims)?;
        }
        Ok(y)
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        let stack = self.stack_layers();
        let fused = b.kernels.dense_stack(input.dims.len(), &stack);
        let (mut x, mut built, mut outputs) = (input.clone(), None::<Built>, Vec::new());
        for layer in &self.0 {
            let next = layer.build_layer(b, &x, !fused)?;
            x = next.output.clone();
            outputs.push(next.output.value.clone());
            built = Some(match built {
                Some(below) => below.then(next),
                None => next,
            });
        }
        let mut built = built.ok_or_else(|| Error::Config("a dense stack needs a layer".into()))?;
        if fused {
            // The hidden outputs are read by the backward and by pictures only.
            let store_hidden = b.train() || b.mode.keeps_outputs();
            let last = outputs.len() - 1;
            let views: Vec<StackViews> = self
                .0
                .iter()
                .zip(&outputs)
                .enumerate()
                .map(|(l, (layer, y))| StackViews {
                    w: b.param(&format!("{}.weight", layer.prefix())),
                    bias: b.param(&format!("{}.bias", layer.prefix())),
                    y: (store_hidden || l == last).then(|| View::whole(y)),
                })
                .collect();
            let x = (input.dims.len(), input.value());
            built.forward = vec![b.kernels.dense_direct.dense_stack_forward(b.gpu, b.batch, x, &stack, &views)?];
        }
        Ok(built)
    }
}
