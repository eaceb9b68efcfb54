//! The Keras tutorial's LeNet-5, as a list of layers:
//!
//! conv1 6@5x5 ReLU -> maxpool 2 -> conv2 16@5x5 ReLU -> maxpool 2 -> flatten (C,H,W)
//! -> fc1 120 ReLU -> fc2 84 ReLU -> fc3 10 -> softmax + cross-entropy.
//!
//! Activations are NCHW, as in PyTorch, so flatten is free and checkpoints load there.

use super::layers::{Activation, ConvPool, Dense, DenseStack, Dims, Flatten, Layer, PadNormalize, SoftmaxXent};
use super::network::Network;
use super::InputScale;
use crate::shapes::{ConvShape, DenseShape, PoolShape, XentShape};

pub const IMAGE_SIDE: u32 = 28;
pub const IMAGE_LEN: u32 = IMAGE_SIDE * IMAGE_SIDE;
pub const CLASSES: u32 = 10;

/// The network; with raw input its first step scales the [0, 1] pixels it is given back
/// to 0-255.
pub fn network(input_scale: InputScale) -> Network {
    let mut layers: Vec<Box<dyn Layer>> = match input_scale {
        InputScale::Unit => Vec::new(),
        InputScale::Raw => vec![Box::new(PadNormalize { pad: 0, lo: 0.0, hi: 255.0 })],
    };
    layers.extend::<[Box<dyn Layer>; 5]>([
        Box::new(ConvPool::new("conv1", "pool1", 6, 5)),
        Box::new(ConvPool::new("conv2", "pool2", 16, 5)),
        Box::new(Flatten),
        // One forward kernel for the three where the device has it.
        Box::new(DenseStack(vec![
            Dense::new("fc1", 120, Activation::Relu),
            Dense::new("fc2", 84, Activation::Relu),
            Dense::new("fc3", CLASSES, Activation::Softmax),
        ])),
        Box::new(SoftmaxXent),
    ]);
    Network {
        name: "lenet5",
        title: "LeNet-5 (Keras variant)",
        note: "Keras variant; shapes are (batch, channels, height, width)",
        input: Dims::Map { c: 1, h: IMAGE_SIDE, w: IMAGE_SIDE },
        input_note: match input_scale {
            InputScale::Unit => "images 28x28, pixels / 255",
            InputScale::Raw => "images 28x28, pixels 0-255",
        },
        layers,
    }
}

/// Every layer's shape at one batch size, as the CPU twin (`reference::lenet5`) computes
/// the network; a test checks that the layer list gives the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lenet5Shapes {
    pub batch: u32,
    pub conv1: ConvShape, // (N,1,28,28) -> (N,6,24,24)
    pub pool1: PoolShape, // -> (N,6,12,12)
    pub conv2: ConvShape, // -> (N,16,8,8)
    pub pool2: PoolShape, // -> (N,16,4,4) = (N,256)
    pub fc1: DenseShape,  // 256 -> 120
    pub fc2: DenseShape,  // 120 -> 84
    pub fc3: DenseShape,  // 84 -> 10
}

impl Lenet5Shapes {
    pub fn new(batch: u32) -> Self {
        let conv1 = ConvShape::new(batch, 1, IMAGE_SIDE, IMAGE_SIDE, 6, 5);
        let pool1 = PoolShape::new(batch, conv1.oc, conv1.out_h(), conv1.out_w());
        let conv2 = ConvShape::new(batch, pool1.c, pool1.out_h(), pool1.out_w(), 16, 5);
        let pool2 = PoolShape::new(batch, conv2.oc, conv2.out_h(), conv2.out_w());
        let flat = pool2.c * pool2.out_h() * pool2.out_w();
        Lenet5Shapes {
            batch,
            conv1,
            pool1,
            conv2,
            pool2,
            fc1: DenseShape { inputs: flat, outputs: 120 },
            fc2: DenseShape { inputs: 120, outputs: 84 },
            fc3: DenseShape { inputs: 84, outputs: CLASSES },
        }
    }

    pub fn xent(&self) -> XentShape {
        XentShape::new(self.batch, CLASSES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer list and the CPU twin's shapes describe the same network.
    #[test]
    fn the_layer_list_has_the_twins_shapes() {
        let s = Lenet5Shapes::new(1);
        let rows = network(InputScale::Unit).rows();
        let out = |name: &str| rows.iter().find(|r| r.name == name).expect(name).output_shape.clone();
        assert_eq!(out("conv1"), [s.conv1.oc, s.conv1.out_h(), s.conv1.out_w()]);
        assert_eq!(out("pool1"), [s.pool1.c, s.pool1.out_h(), s.pool1.out_w()]);
        assert_eq!(out("conv2"), [s.conv2.oc, s.conv2.out_h(), s.conv2.out_w()]);
        assert_eq!(out("pool2"), [s.pool2.c, s.pool2.out_h(), s.pool2.out_w()]);
        for (name, d) in [("fc1", s.fc1), ("fc2", s.fc2), ("fc3", s.fc3)] {
            let row = rows.iter().find(|r| r.name == name).expect(name);
            assert_eq!((row.input_shape.clone(), out(name)), (vec![d.inputs], vec![d.outputs]), "{name}");
        }
    }
}
