//! LeNet-1998's trainable subsampling (S2, S4): each 2x2 window's sum times the map's
//! coefficient plus its bias, then the activation.

use super::squash::{activate, deactivate};
use super::{bias, Activation, Build, Built, Dims, Layer, Pass, Tensor};
use crate::error::{Error, Result};
use crate::export::onnx::{Attr, Graph};
use crate::gpu::View;
use crate::kernels::conv_direct::{ConvActivation, SubsampleOutput};
use crate::kernels::squash::SquashFn;
use crate::model::params::ParamSpec;
use crate::model::summary::LayerInfo;
use crate::shapes::{PoolShape, ReduceShape};

pub struct Subsample {
    pub name: &'static str,
    pub activation: Activation,
}

impl Subsample {
    pub fn prefix(&self) -> String {
        self.name.to_lowercase()
    }
}

impl Layer for Subsample {
    fn output(&self, input: Dims) -> Dims {
        let (c, h, w) = input.chw();
        Dims::Map { c, h: h / 2, w: w / 2 }
    }

    /// A coefficient per map (a weight: it multiplies the sum of 4 inputs) and a bias.
    fn params(&self, input: Dims) -> Vec<ParamSpec> {
        let c = input.chw().0;
        let coef = ParamSpec { name: format!("{}.coef", self.prefix()), shape: vec![c as usize], fan_in: Some(4) };
        vec![coef, bias(format!("{}.bias", self.prefix()), c)]
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let params = self.params(input).iter().map(ParamSpec::len).sum();
        // Each output: a 2x2 window and a bias; one multiply, by the map's coefficient.
        let maps = input.chw().0 as usize;
        let row =
            LayerInfo::new(self.name, "Subsampling 2x2".into(), self.activation, input, self.output(input), params);
        vec![row.per_position(maps * 5, maps)]
    }

    /// AveragePool 2x2 times 4 (the window's sum) times the coefficient, plus the bias
    /// (both reshaped to (1, C, 1, 1)), then the activation.
    fn export(&self, g: &mut Graph, x: &str, _input: Dims) -> Result<String> {
        let p = self.prefix();
        let window = vec![("kernel_shape", Attr::Ints(vec![2, 2])), ("strides", Attr::Ints(vec![2, 2]))];
        let mean = g.node("AveragePool", &p, &[x], window);
        let coef = g.per_channel(&format!("{p}.coef"));
        let coef4 = g.scale(&format!("{p}_coef4"), &coef, 4.0);
        let bias = g.per_channel(&format!("{p}.bias"));
        let a = g.node("Mul", &p, &[&mean, &coef4], vec![]);
        let a = g.node("Add", &p, &[&a, &bias], vec![]);
        Ok(self.activation.export(g, &p, a))
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        self.build_with(b, input, None, None)
    }
}

impl Subsample {
    /// The activation a convolution's forward applies when it subsamples for this layer
    /// (`ConvUse::subsample`); None where it cannot (a ReLU or softmax here).
    pub fn fused_activation(&self) -> Option<ConvActivation> {
        match self.activation {
            Activation::Squash(f) => Some(ConvActivation::Squash(f)),
            Activation::None => Some(ConvActivation::None),
            Activation::Relu | Activation::Softmax => None,
        }
    }

    /// The tensor a fused forward writes for this layer on `input` (its output), its rows
    /// as wide as the next layer reads them where [`Build::output_row_width`] says.
    pub fn fused_output(&self, b: &Build, input: Dims) -> Tensor {
        let dims = self.output(input);
        let (c, h, w) = dims.chw();
        match b.output_row_width.filter(|&row| row > w && !b.train()) {
            Some(row) => Tensor {
                dims,
                value: b.buffer(&format!("act.{}", self.prefix()), b.batch as u64 * (c * h * row) as u64),
                grad: None,
                relu: false,
                dataset: None,
                row_width: Some(row),
            },
            None => Tensor::new(b, &self.prefix(), dims, b.train()),
        }
    }

    /// What a fused forward reads and writes for this layer: its parameters, and `out`
    /// (from [`Subsample::fused_output`]).
    pub fn fused_views<'a>(&self, b: &'a Build, out: &'a Tensor) -> SubsampleOutput<'a> {
        let (coef, bias) = self.param_names();
        let row_width = out.row_width.unwrap_or_else(|| out.dims.chw().2);
        let activation = self.fused_activation().expect("fused only where the kernel applies the activation");
        SubsampleOutput { coef: b.param(&coef), bias: b.param(&bias), out: out.value(), activation, row_width }
    }

    /// Its coefficient and bias.
    fn param_names(&self) -> (String, String) {
        let p = self.prefix();
        (format!("{p}.coef"), format!("{p}.bias"))
    }

    /// As `build`, or where the convolution before wrote the output already (`fused`,
    /// from [`Subsample::fused_output`]), the backward alone. With `input_squash` (the
    /// input being f(a) of the layer before), the backward's dx is w.r.t. that layer's a:
    /// its squash's backward is done here.
    pub fn build_with(
        &self,
        b: &Build,
        input: &Tensor,
        fused: Option<Tensor>,
        input_squash: Option<SquashFn>,
    ) -> Result<Built> {
        let p = self.prefix();
        let (c, h, w) = input.dims.chw();
        let s = PoolShape::new(b.batch, c, h, w);
        let (coef, bias_name) = self.param_names();
        // The kernel applies a squash itself; `pre` holds its output then.
        let squash = match self.activation {
            Activation::Squash(f) => Some(f),
            _ => None,
        };
        let (pre, output, forward) = match fused {
            Some(out) => (out.clone(), out, Vec::new()),
            None => {
                let label = if squash.is_some() { p.clone() } else { format!("{p}_a") };
                let pre = Tensor::new(b, &label, self.output(input.dims), b.train());
                let views = [input.value(), b.param(&coef), b.param(&bias_name), pre.value()];
                let mut forward = vec![b.kernels.subsample.subsample_forward(b.gpu, s, squash, views)?];
                let output = match squash {
                    Some(_) => pre.clone(),
                    None => activate(b, &p, pre.clone(), self.activation, &mut forward)?,
                };
                (pre, output, forward)
            }
        };
        let mut built = Built::new(&p, output.clone());
        built.forward = forward;
        let Some(da) = pre.grad() else {
            return Ok(built);
        };
        let dx =
            input.grad().ok_or_else(|| Error::Config(format!("{}: the layer before needs a gradient", self.name)))?;
        let terms = b.buffer(&format!("grad.{p}_terms"), s.y_len());
        let plane = ReduceShape::new(b.batch, c, s.out_h() * s.out_w());
        for pass in b.passes() {
            let mut list: Vec<_> = deactivate(b, pass, self.activation, &output)?.into_iter().collect();
            // Plain coefficients: the kernel squares them itself in the second-order pass.
            let second = matches!(pass, Pass::Second(_));
            let views = [input.value(), b.param(&coef), da, dx, View::whole(&terms)];
            list.push(b.kernels.subsample.subsample_backward(b.gpu, s, (second, input_squash), views)?);
            list.push(b.kernels.reduce.sum_reduce(b.gpu, plane, View::whole(&terms), b.grad_out(pass, &coef))?);
            list.push(b.kernels.reduce.sum_reduce(b.gpu, plane, da, b.grad_out(pass, &bias_name))?);
            match pass {
                Pass::First => built.backward = list,
                Pass::Second(_) => built.second_order = list,
            }
        }
        Ok(built)
    }
}
