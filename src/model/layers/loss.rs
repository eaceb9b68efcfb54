//! The loss layers: softmax + cross-entropy (LeNet-5), and LeNet-1998's Euclidean RBF
//! outputs with the paper's loss. Each computes its loss's gradient in the forward pass
//! (into its input's gradient), so its backward is empty, and adds the batch's loss and
//! correct count into the metrics.

use super::{Build, Built, Dims, Head, HeadKind, Layer, Picture, Tap, Tensor};
use crate::error::Result;
use crate::export::onnx::{Attr, Graph};
use crate::gpu::View;
use crate::kernels::rbf::{RbfDx, RbfViews};
use crate::kernels::softmax_xent::XentViews;
use crate::model::summary::LayerInfo;
use crate::model::Activation;
use crate::shapes::{RbfShape, XentShape};

/// Softmax over the logits and the mean cross-entropy against the labels. Not a row of the
/// summary: Keras shows the softmax as the last Dense layer's activation.
pub struct SoftmaxXent;

/// LeNet-1998's output: the squared Euclidean distance of F6's units to each class's fixed
/// bitmap (`centers`, f(±1) per pixel), and the paper's loss (eq. 9) with constant `j`.
pub struct Rbf {
    pub classes: u32,
    pub j: f32,
    /// (classes, units), row-major.
    pub centers: Vec<f32>,
}

/// The gradient the loss writes: its input's own, or (inference) a scratch buffer.
fn input_gradient(b: &Build, input: &Tensor) -> wgpu::Buffer {
    input.grad.clone().unwrap_or_else(|| b.buffer("grad.loss_input", input.len(b.batch)))
}

/// The metrics of a head with `classes` scores per image.
fn metrics(b: &Build, classes: u32, probs: &wgpu::Buffer, loss: &wgpu::Buffer) -> Result<crate::gpu::Dispatch> {
    let v = View::whole;
    let s = XentShape::new(b.batch, classes);
    b.kernels.metrics.metrics_accumulate(b.gpu, s, v(probs), v(b.labels), v(loss), v(b.metrics))
}

impl Layer for SoftmaxXent {
    fn output(&self, input: Dims) -> Dims {
        input
    }

    fn rows(&self, _input: Dims) -> Vec<LayerInfo> {
        Vec::new()
    }

    /// Nothing: the exported graph ends in the logits (a softmax is one node away).
    fn export(&self, _g: &mut Graph, x: &str, _input: Dims) -> Result<String> {
        Ok(x.to_string())
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        b.require_first_order("softmax cross-entropy")?;
        let classes = input.dims.len();
        let s = XentShape::new(b.batch, classes);
        let (probs, loss) = (b.buffer("act.probs", s.logits_len()), b.buffer("act.loss", b.batch as u64));
        let dlogits = input_gradient(b, input);
        let v = View::whole;
        let views = XentViews {
            logits: input.value(),
            labels: v(b.labels),
            probs: v(&probs),
            dlogits: v(&dlogits),
            loss: v(&loss),
        };
        let output =
            Tensor { dims: input.dims, value: probs.clone(), grad: None, relu: false, dataset: None, row_width: None };
        let mut built = Built::new("probs", output);
        built.taps[0].picture = Picture::Hidden;
        built.forward.push(b.kernels.xent.softmax_xent_forward_backward(b.gpu, s, views)?);
        let metrics = metrics(b, classes, &probs, &loss)?;
        built.head = Some(Head { kind: HeadKind::Softmax, probs, loss, metrics });
        Ok(built)
    }
}

impl Layer for Rbf {
    fn output(&self, _input: Dims) -> Dims {
        Dims::Units(self.classes)
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let params = (input.len() * self.classes) as usize;
        let row = LayerInfo::new("output", "Euclidean RBF".into(), Activation::None, input, self.output(input), params);
        // (x - center)² per input and class: one multiply-accumulate each, no bias.
        vec![LayerInfo { trainable: false, ..row.per_position(params, params) }]
    }

    /// The 10 distances Σ (x - center)²: Unsqueeze, Sub of the fixed centers (an
    /// initializer `rbf.centers`, not a parameter), Mul by itself, ReduceSum.
    fn export(&self, g: &mut Graph, x: &str, input: Dims) -> Result<String> {
        let units = input.len() as i64;
        let centers = g.constant("rbf.centers", &[self.classes as i64, units], &self.centers);
        let axis1 = g.constant_i64("rbf_axis1", &[1], &[1]);
        let x3 = g.node("Unsqueeze", "rbf", &[x, &axis1], vec![]);
        let diff = g.node("Sub", "rbf", &[&x3, &centers], vec![]);
        let sq = g.node("Mul", "rbf", &[&diff, &diff], vec![]);
        let axis2 = g.constant_i64("rbf_axis2", &[1], &[2]);
        Ok(g.node("ReduceSum", "rbf", &[&sq, &axis2], vec![("keepdims", Attr::Int(0))]))
    }

    /// Taps `dist` (the RBF outputs) and `probs` (their softmin).
    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        let s = RbfShape::new(b.batch, self.classes, input.dims.len(), self.j);
        // Evaluation wants the scores and the loss alone.
        let gradient = if b.train() || input.grad.is_some() { RbfDx::Gradient } else { RbfDx::None };
        let centers = b.gpu.storage_from("rbf.centers", &self.centers);
        let (dist, probs) = (b.buffer("act.dist", s.y_len()), b.buffer("act.probs", s.y_len()));
        let loss = b.buffer("act.loss", b.batch as u64);
        let dx = input_gradient(b, input);
        let v = View::whole;
        let views = RbfViews {
            x: input.value(),
            centers: v(&centers),
            labels: v(b.labels),
            dist: v(&dist),
            probs: v(&probs),
            loss: v(&loss),
            dx: v(&dx),
        };
        let scores = |value: &wgpu::Buffer| Tensor {
            dims: Dims::Units(self.classes),
            value: value.clone(),
            grad: None,
            relu: false,
            dataset: None,
            row_width: None,
        };
        let mut built = Built::new("dist", scores(&dist));
        built.taps[0].picture = Picture::Hidden;
        built.taps.push(Tap {
            name: "probs".into(),
            tensor: scores(&probs),
            backward_from: 0,
            picture: Picture::Hidden,
        });
        built.forward.push(b.kernels.rbf.rbf_loss_forward_backward(b.gpu, s, gradient, views)?);
        if b.train() && b.second_order.is_some() {
            // SDLM: the loss's second derivative w.r.t. F6 into the same gradient.
            built.second_order.push(b.kernels.rbf.rbf_loss_forward_backward(b.gpu, s, RbfDx::Curvature, views)?);
        }
        let metrics = metrics(b, self.classes, &probs, &loss)?;
        built.head = Some(Head { kind: HeadKind::Rbf, probs, loss, metrics });
        Ok(built)
    }
}
