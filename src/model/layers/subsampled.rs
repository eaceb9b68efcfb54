//! LeNet-1998's convolution blocks, C1 + S2 and C3 + S4: a convolution then its trainable
//! subsampling, as one builder so that the forward can subsample as it convolves (saving
//! the subsampling's kernel and, where nothing reads it, the convolution's output).

use super::{Build, Built, ConvKernels, Dims, Layer, Subsample, Tensor};
use crate::error::Result;
use crate::export::onnx::Graph;
use crate::kernels::Kernels;
use crate::model::params::{ParamLayout, ParamSpec};
use crate::model::summary::LayerInfo;

/// A convolution layer that can build itself with a subsampling after it.
pub trait ConvLayer: Layer {
    /// Its build, followed by `then`'s (fused into its forward where the kernels can).
    fn build_then(&self, b: &Build, input: &Tensor, then: Option<&Subsample>) -> Result<Built>;
}

/// `conv`, then `sub`: both layers' parameters, summary rows and ONNX nodes, in order.
pub struct Subsampled<C> {
    pub conv: C,
    pub sub: Subsample,
}

impl<C: ConvLayer> Layer for Subsampled<C> {
    fn output(&self, input: Dims) -> Dims {
        self.sub.output(self.conv.output(input))
    }

    fn params(&self, input: Dims) -> Vec<ParamSpec> {
        let mut out = self.conv.params(input);
        out.extend(self.sub.params(self.conv.output(input)));
        out
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let mut out = self.conv.rows(input);
        out.extend(self.sub.rows(self.conv.output(input)));
        out
    }

    fn input_row_width(&self, k: &Kernels, input: Dims, batch: u32) -> Option<u32> {
        self.conv.input_row_width(k, input, batch)
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        self.conv.build_then(b, input, Some(&self.sub))
    }

    fn export(&self, g: &mut Graph, x: &str, input: Dims) -> Result<String> {
        let y = self.conv.export(g, x, input)?;
        self.sub.export(g, &y, self.conv.output(input))
    }

    fn conv_name(&self) -> Option<&'static str> {
        self.conv.conv_name()
    }

    fn conv_kernels(&self, layout: &ParamLayout, params: &[f32]) -> Option<ConvKernels> {
        self.conv.conv_kernels(layout, params)
    }
}
