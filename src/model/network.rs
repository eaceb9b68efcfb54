//! A network as declared: its input and its list of layers. Everything about it that
//! needs no GPU is derived from that list: the parameter layout, the summary table, the
//! diagram's boxes.

use super::layers::{ConvKernels, Dims, Layer};
use super::params::ParamLayout;
use super::summary::LayerInfo;

pub struct Network {
    /// The summary's model name and the diagram's title.
    pub name: &'static str,
    pub title: &'static str,
    /// What the summary's first line adds about it.
    pub note: &'static str,
    /// One image, as the first layer reads it.
    pub input: Dims,
    /// How images become the input (the diagram's input box).
    pub input_note: &'static str,
    pub layers: Vec<Box<dyn Layer>>,
}

impl Network {
    /// Each layer's input dims, in order, then the network's output dims.
    fn dims(&self) -> Vec<Dims> {
        let mut out = vec![self.input];
        for l in &self.layers {
            out.push(l.output(*out.last().expect("non-empty")));
        }
        out
    }

    /// The flat parameter layout: every layer's tensors, in layer order.
    pub fn layout(&self) -> ParamLayout {
        ParamLayout::new(self.layers.iter().zip(self.dims()).flat_map(|(l, d)| l.params(d)).collect())
    }

    /// The summary table's rows.
    pub fn rows(&self) -> Vec<LayerInfo> {
        self.layers.iter().zip(self.dims()).flat_map(|(l, d)| l.rows(d)).collect()
    }

    /// The convolutions pictures show (kernels, channels), in order.
    pub fn convs(&self) -> Vec<&'static str> {
        self.layers.iter().filter_map(|l| l.conv_name()).collect()
    }

    /// The convolutions' kernels, in order, for pictures.
    pub fn conv_kernels(&self, layout: &ParamLayout, params: &[f32]) -> Vec<ConvKernels> {
        self.layers.iter().filter_map(|l| l.conv_kernels(layout, params)).collect()
    }
}
