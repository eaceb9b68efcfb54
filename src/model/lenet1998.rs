//! LeNet-1998 (LeCun, Bottou, Bengio, Haffner 1998), as a list of layers:
//!
//! input 28x28 -> padded to 32x32, background -0.1, ink 1.175 -> C1 6@5x5 -> squash
//! -> S2 (2x2 sum · coef + bias) -> squash -> C3 16@5x5 over the paper's connection table
//! -> squash -> S4 -> squash -> C5 120@5x5 (= dense 400 -> 120) -> squash -> F6 84 -> squash
//! -> 10 Euclidean RBF units with fixed 7x12 bitmap centers -> the paper's loss (eq. 9).
//!
//! SDLM's second derivatives come from the same backward kernels run on squared weights
//! and activations (`Plan::record_curvature`).

use super::layers::{
    Activation, Conv, Dense, DenseStack, Dims, Layer, PadNormalize, Picture, Rbf, Subsample, Subsampled, TableConv,
};
use super::network::Network;
use crate::kernels::squash::SquashFn;
use crate::model::lenet5::{CLASSES, IMAGE_SIDE};
use crate::model::params::ParamLayout;
use crate::shapes::{ConvShape, DenseShape, PadShape, PoolShape, RbfShape};

/// Border added around the 28x28 digit (32x32, as in the paper).
pub const PAD: u32 = 2;
/// Input scaling: background (0) -> -0.1, full ink (1) -> 1.175 (mean ~0, variance ~1).
pub const INPUT_LO: f32 = -0.1;
pub const INPUT_HI: f32 = 1.175;
/// F6's units: one per pixel of the 7x12 RBF bitmaps.
pub const F6_UNITS: u32 = 84;
pub const BITMAP_W: usize = 7;
pub const BITMAP_H: usize = 12;
/// The constant j of the loss (eq. 9), E = y_label + log(e^-j + Σ e^-y_i): its e^-j keeps
/// the penalty from pushing classes that are already far. The paper leaves its value open.
pub const RBF_J: f32 = 1.0;

/// C3's connection table (the paper's Table I): the S2 maps each C3 map reads, in the
/// order its stored weights use. Maps 0-5: 3 contiguous; 6-11: 4 contiguous; 12-14: 4
/// non-contiguous; 15: all 6. 60 connections.
pub const C3_INPUTS: [&[u32]; 16] = [
    &[0, 1, 2],
    &[1, 2, 3],
    &[2, 3, 4],
    &[3, 4, 5],
    &[4, 5, 0],
    &[5, 0, 1],
    &[0, 1, 2, 3],
    &[1, 2, 3, 4],
    &[2, 3, 4, 5],
    &[3, 4, 5, 0],
    &[4, 5, 0, 1],
    &[5, 0, 1, 2],
    &[0, 1, 3, 4],
    &[1, 2, 4, 5],
    &[0, 2, 3, 5],
    &[0, 1, 2, 3, 4, 5],
];

/// C3's stored weight tensors: name and the C3 maps (first, count) it holds, each map's
/// kernels for its inputs in `C3_INPUTS` order: (maps, inputs, 5, 5).
pub const C3_GROUPS: [(&str, u32, u32); 4] =
    [("c3.weight.3in", 0, 6), ("c3.weight.4in", 6, 6), ("c3.weight.4in_skip", 12, 3), ("c3.weight.6in", 15, 1)];

/// C3: each of its 16 maps reads the S2 maps of its row of the table.
pub const C3: TableConv =
    TableConv { name: "C3", kernel: 5, activation: Activation::None, table: &C3_INPUTS, groups: &C3_GROUPS };

/// The network, with `squash` after every layer up to F6.
pub fn network(squash: SquashFn) -> Network {
    let act = Activation::Squash(squash);
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(PadNormalize { pad: PAD, lo: INPUT_LO, hi: INPUT_HI }),
        Box::new(Subsampled {
            conv: Conv { name: "C1", channels: 6, kernel: 5, activation: act },
            sub: Subsample { name: "S2", activation: act },
        }),
        Box::new(Subsampled {
            conv: TableConv { activation: act, ..C3 },
            sub: Subsample { name: "S4", activation: act },
        }),
        // One forward kernel for the two where the device has it.
        Box::new(DenseStack(vec![
            Dense { as_conv: Some(5), ..Dense::new("C5", 120, act) },
            Dense {
                picture: Picture::Bitmap { h: BITMAP_H as u32, w: BITMAP_W as u32 },
                ..Dense::new("F6", F6_UNITS, act)
            },
        ])),
        Box::new(Rbf { classes: CLASSES, j: RBF_J, centers: rbf_centers(squash) }),
    ];
    Network {
        name: "lenet1998",
        title: "LeNet-5 (LeCun et al. 1998)",
        note: "LeCun et al. 1998; input 28x28 padded to 32x32; squash = 1.7159 tanh(2a/3)",
        input: Dims::Map { c: 1, h: IMAGE_SIDE, w: IMAGE_SIDE },
        input_note: "28x28 padded to 32x32; ink 1.175, background -0.1",
        layers,
    }
}

/// The element range of the flat parameter buffer that holds C3's four weight tensors.
pub fn c3_span(layout: &ParamLayout) -> std::ops::Range<usize> {
    C3.span(layout)
}

/// For each entry of the dense (16, 6, 5, 5) C3 kernel, the index into `c3_span` of its
/// stored weight, or NONE where the table has no connection.
pub fn c3_dense_index(layout: &ParamLayout) -> Vec<u32> {
    C3.dense_index(layout)
}

/// The inverse: for each element of `c3_span`, its entry in the dense kernel, or NONE for
/// the padding between the four tensors.
pub fn c3_stored_index(layout: &ParamLayout) -> Vec<u32> {
    C3.stored_index(layout)
}

/// Every layer's shape at one batch size, as the CPU twin (`reference::lenet1998`) computes
/// the network; a test checks that the layer list gives the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lenet1998Shapes {
    pub batch: u32,
    pub input: PadShape, // (N,1,28,28) -> (N,1,32,32)
    pub c1: ConvShape,   // -> (N,6,28,28)
    pub s2: PoolShape,   // -> (N,6,14,14)
    pub c3: ConvShape,   // -> (N,16,10,10)
    pub s4: PoolShape,   // -> (N,16,5,5) = (N,400)
    pub c5: DenseShape,  // 400 -> 120
    pub f6: DenseShape,  // 120 -> 84
    pub rbf: RbfShape,   // 84 -> 10
}

impl Lenet1998Shapes {
    pub fn new(batch: u32) -> Self {
        let input = PadShape::new(batch, IMAGE_SIDE, IMAGE_SIDE, PAD, INPUT_LO, INPUT_HI);
        let c1 = ConvShape::new(batch, 1, input.out_h(), input.out_w(), 6, 5);
        let s2 = PoolShape::new(batch, c1.oc, c1.out_h(), c1.out_w());
        let c3 = ConvShape::new(batch, s2.c, s2.out_h(), s2.out_w(), 16, 5);
        let s4 = PoolShape::new(batch, c3.oc, c3.out_h(), c3.out_w());
        let flat = s4.c * s4.out_h() * s4.out_w();
        Lenet1998Shapes {
            batch,
            input,
            c1,
            s2,
            c3,
            s4,
            c5: DenseShape { inputs: flat, outputs: 120 },
            f6: DenseShape { inputs: 120, outputs: F6_UNITS },
            rbf: RbfShape::new(batch, CLASSES, F6_UNITS, RBF_J),
        }
    }
}

/// The ten 7x12 bitmaps (row-major, true = ink) from `assets/rbf_digits.txt`.
pub fn rbf_bitmaps() -> [[bool; BITMAP_W * BITMAP_H]; 10] {
    parse_bitmaps(include_str!("../../assets/rbf_digits.txt")).expect("assets/rbf_digits.txt is well formed (tested)")
}

/// Parses the bitmap file: `digit N` then 12 rows of 7 characters, '#' ink, '.' background;
/// lines starting with '#' followed by a space are comments.
pub fn parse_bitmaps(text: &str) -> std::result::Result<[[bool; BITMAP_W * BITMAP_H]; 10], String> {
    let mut out = [[false; BITMAP_W * BITMAP_H]; 10];
    let mut seen = [false; 10];
    let mut lines = text.lines().filter(|l| !l.starts_with("# ") && !l.trim().is_empty());
    while let Some(head) = lines.next() {
        let d: usize = head
            .strip_prefix("digit ")
            .and_then(|n| n.trim().parse().ok())
            .filter(|&d| d < 10)
            .ok_or_else(|| format!("expected `digit N` (N in 0..10), found {head:?}"))?;
        for r in 0..BITMAP_H {
            let row = lines.next().ok_or_else(|| format!("digit {d}: only {r} of {BITMAP_H} rows"))?;
            if row.len() != BITMAP_W || !row.chars().all(|c| c == '#' || c == '.') {
                return Err(format!("digit {d}, row {r}: expected {BITMAP_W} of '#'/'.', found {row:?}"));
            }
            for (c, ch) in row.chars().enumerate() {
                out[d][r * BITMAP_W + c] = ch == '#';
            }
        }
        seen[d] = true;
    }
    match seen.iter().position(|s| !s) {
        Some(d) => Err(format!("digit {d} is missing")),
        None => Ok(out),
    }
}

/// The RBF centers (10, 84): f(+1) for ink, f(-1) for background (exactly ±1 for the
/// scaled tanh, the points of its largest curvature, as in the paper).
pub fn rbf_centers(squash: SquashFn) -> Vec<f32> {
    let ends = [squash.value(1.0), squash.value(-1.0)];
    rbf_bitmaps().iter().flat_map(|b| b.iter().map(move |&ink| if ink { ends[0] } else { ends[1] })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer list and the CPU twin's shapes describe the same network.
    #[test]
    fn the_layer_list_has_the_twins_shapes() {
        let s = Lenet1998Shapes::new(1);
        let rows = network(SquashFn::ScaledTanh).rows();
        let out = |name: &str| rows.iter().find(|r| r.name == name).expect(name).output_shape.clone();
        let row = |name: &str| rows.iter().find(|r| r.name == name).expect(name).clone();
        assert_eq!(row("C1").input_shape, [1, s.input.out_h(), s.input.out_w()]);
        assert_eq!(out("C1"), [s.c1.oc, s.c1.out_h(), s.c1.out_w()]);
        assert_eq!(out("S2"), [s.s2.c, s.s2.out_h(), s.s2.out_w()]);
        assert_eq!(out("C3"), [s.c3.oc, s.c3.out_h(), s.c3.out_w()]);
        assert_eq!(out("S4"), [s.s4.c, s.s4.out_h(), s.s4.out_w()]);
        assert_eq!((row("C5").input_shape.iter().product::<u32>(), out("C5")[0]), (s.c5.inputs, s.c5.outputs));
        assert_eq!((row("F6").input_shape, out("F6")), (vec![s.f6.inputs], vec![s.f6.outputs]));
        assert_eq!((row("output").input_shape, out("output")), (vec![s.rbf.units], vec![s.rbf.classes]));
    }
}
