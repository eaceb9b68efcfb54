//! LeNet-1998's input stage: the 28x28 digit centred in a 32x32 field and rescaled so that
//! background and ink have mean ~0 and variance ~1. Not a row of the summary: the paper
//! counts it as the input.

use super::{Build, Built, Dims, Layer, Tensor};
use crate::error::Result;
use crate::export::onnx::Graph;
use crate::kernels::Kernels;
use crate::model::summary::LayerInfo;
use crate::model::Mode;
use crate::shapes::PadShape;

pub struct PadNormalize {
    /// Border on each side.
    pub pad: u32,
    /// What background (0) and full ink (1) become.
    pub lo: f32,
    pub hi: f32,
}

impl Layer for PadNormalize {
    fn output(&self, input: Dims) -> Dims {
        let (c, h, w) = input.chw();
        Dims::Map { c, h: h + 2 * self.pad, w: w + 2 * self.pad }
    }

    fn rows(&self, _input: Dims) -> Vec<LayerInfo> {
        Vec::new()
    }

    /// Pad with zeros, then lo + (hi - lo) x (the border, 0, becomes lo), as the kernel.
    fn export(&self, g: &mut Graph, x: &str, _input: Dims) -> Result<String> {
        let p = self.pad as i64;
        let pads = g.constant_i64("input_pads", &[8], &[0, 0, p, p, 0, 0, p, p]);
        let padded = g.node("Pad", "input", &[x, &pads], vec![]);
        let scaled = g.scale("input_scaled", &padded, self.hi - self.lo);
        let lo = g.constant("input_lo", &[], &[self.lo]);
        Ok(g.node("Add", "input", &[&lo, &scaled], vec![]))
    }

    /// Reads a dataset's bytes itself, but where the input's gradient is wanted (its
    /// backward writes it), or the rows are not whole words.
    fn reads_dataset(&self, _k: &Kernels, input: Dims, _batch: u32, mode: Mode) -> bool {
        mode != Mode::TrainWithInputGrad && input.chw().2.is_multiple_of(4)
    }

    /// Its output is the tap `input`: what the network sees of the image.
    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        let (_, h, w) = input.dims.chw();
        let s = PadShape::new(b.batch, h, w, self.pad, self.lo, self.hi);
        let output = Tensor::new(b, "input", self.output(input.dims), input.grad.is_some());
        let mut built = Built::new("input", output.clone());
        built.forward.push(b.kernels.pad.pad_normalize_forward(b.gpu, s, input.as_input(), output.value())?);
        if let (Some(dy), Some(dx)) = (output.grad(), input.grad()) {
            built.backward.push(b.kernels.pad.pad_normalize_backward(b.gpu, s, dy, dx)?);
        }
        Ok(built)
    }
}
