//! The layer tables of both networks (`lenet-gpu summary`, the model diagram).

use super::lenet1998::Lenet1998Shapes;
use super::lenet5::Lenet5Shapes;
use super::Arch;

/// One layer as Keras' `model.summary()` lists it. Shapes are per image, (C, H, W) or (units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    pub name: &'static str,
    pub kind: &'static str,
    pub activation: &'static str,
    pub input_shape: Vec<u32>,
    pub output_shape: Vec<u32>,
    pub params: usize,
    /// False for LeNet-1998's RBF centers (fixed bitmaps).
    pub trainable: bool,
}

/// A network's layers, in order, with shapes from its `*Shapes` (the one source of sizes).
pub fn layers(arch: Arch) -> Vec<LayerInfo> {
    match arch {
        Arch::Lenet5 => lenet5_layers(),
        Arch::Lenet1998 => lenet1998_layers(),
    }
}

fn lenet5_layers() -> Vec<LayerInfo> {
    let s = Lenet5Shapes::new(1);
    let conv_params = |c: crate::shapes::ConvShape| (c.w_len() + c.oc as u64) as usize;
    let dense_params = |d: super::lenet5::Dense| (d.inputs * d.outputs + d.outputs) as usize;
    let chw = |c: u32, h: u32, w: u32| vec![c, h, w];
    vec![
        LayerInfo {
            name: "conv1",
            kind: "Conv2D 5x5",
            activation: "relu",
            input_shape: chw(s.conv1.c, s.conv1.h, s.conv1.w),
            output_shape: chw(s.conv1.oc, s.conv1.out_h(), s.conv1.out_w()),
            params: conv_params(s.conv1),
            trainable: true,
        },
        LayerInfo {
            name: "pool1",
            kind: "MaxPooling2D 2x2",
            activation: "",
            input_shape: chw(s.pool1.c, s.pool1.h, s.pool1.w),
            output_shape: chw(s.pool1.c, s.pool1.out_h(), s.pool1.out_w()),
            params: 0,
            trainable: true,
        },
        LayerInfo {
            name: "conv2",
            kind: "Conv2D 5x5",
            activation: "relu",
            input_shape: chw(s.conv2.c, s.conv2.h, s.conv2.w),
            output_shape: chw(s.conv2.oc, s.conv2.out_h(), s.conv2.out_w()),
            params: conv_params(s.conv2),
            trainable: true,
        },
        LayerInfo {
            name: "pool2",
            kind: "MaxPooling2D 2x2",
            activation: "",
            input_shape: chw(s.pool2.c, s.pool2.h, s.pool2.w),
            output_shape: chw(s.pool2.c, s.pool2.out_h(), s.pool2.out_w()),
            params: 0,
            trainable: true,
        },
        LayerInfo {
            name: "flatten",
            kind: "Flatten",
            activation: "",
            input_shape: chw(s.pool2.c, s.pool2.out_h(), s.pool2.out_w()),
            output_shape: vec![s.fc1.inputs],
            params: 0,
            trainable: true,
        },
        LayerInfo {
            name: "fc1",
            kind: "Dense",
            activation: "relu",
            input_shape: vec![s.fc1.inputs],
            output_shape: vec![s.fc1.outputs],
            params: dense_params(s.fc1),
            trainable: true,
        },
        LayerInfo {
            name: "fc2",
            kind: "Dense",
            activation: "relu",
            input_shape: vec![s.fc2.inputs],
            output_shape: vec![s.fc2.outputs],
            params: dense_params(s.fc2),
            trainable: true,
        },
        LayerInfo {
            name: "fc3",
            kind: "Dense",
            activation: "softmax",
            input_shape: vec![s.fc3.inputs],
            output_shape: vec![s.fc3.outputs],
            params: dense_params(s.fc3),
            trainable: true,
        },
    ]
}

/// LeNet-1998's seven layers (the 28x28 -> 32x32 padding has no parameters and is part of
/// the input). C3's count is its 60 connections' kernels plus 16 biases.
fn lenet1998_layers() -> Vec<LayerInfo> {
    let s = Lenet1998Shapes::new(1);
    let c3_connections: u32 = super::lenet1998::C3_INPUTS.iter().map(|i| i.len() as u32).sum();
    let chw = |c: u32, h: u32, w: u32| vec![c, h, w];
    let pool = |p: crate::shapes::PoolShape| (chw(p.c, p.h, p.w), chw(p.c, p.out_h(), p.out_w()), 2 * p.c as usize);
    let (s2_in, s2_out, s2_params) = pool(s.s2);
    let (s4_in, s4_out, s4_params) = pool(s.s4);
    let layer = |name, kind, activation, input_shape, output_shape, params| LayerInfo {
        name,
        kind,
        activation,
        input_shape,
        output_shape,
        params,
        trainable: true,
    };
    vec![
        layer(
            "C1",
            "Conv 5x5",
            "squash",
            chw(1, s.c1.h, s.c1.w),
            chw(s.c1.oc, s.c1.out_h(), s.c1.out_w()),
            (s.c1.w_len() + s.c1.oc as u64) as usize,
        ),
        layer("S2", "Subsampling 2x2", "squash", s2_in, s2_out, s2_params),
        layer(
            "C3",
            "Conv 5x5, table",
            "squash",
            chw(s.c3.c, s.c3.h, s.c3.w),
            chw(s.c3.oc, s.c3.out_h(), s.c3.out_w()),
            (c3_connections * 25 + s.c3.oc) as usize,
        ),
        layer("S4", "Subsampling 2x2", "squash", s4_in, s4_out.clone(), s4_params),
        layer(
            "C5",
            "Conv 5x5",
            "squash",
            s4_out,
            chw(s.c5.outputs, 1, 1),
            (s.c5.inputs * s.c5.outputs + s.c5.outputs) as usize,
        ),
        layer(
            "F6",
            "Dense",
            "squash",
            vec![s.f6.inputs],
            vec![s.f6.outputs],
            (s.f6.inputs * s.f6.outputs + s.f6.outputs) as usize,
        ),
        LayerInfo {
            trainable: false,
            ..layer(
                "output",
                "Euclidean RBF",
                "",
                vec![s.rbf.units],
                vec![s.rbf.classes],
                (s.rbf.units * s.rbf.classes) as usize,
            )
        },
    ]
}

/// "(None, 6, 24, 24)": Keras' notation, batch first, channels-first as stored here.
pub fn shape_text(shape: &[u32]) -> String {
    let dims: Vec<String> = shape.iter().map(u32::to_string).collect();
    format!("(None, {})", dims.join(", "))
}

/// Keras' `model.summary()` as text.
pub fn summary_table(arch: Arch) -> String {
    let rule = "=".repeat(72);
    let thin = "_".repeat(72);
    let mut out = match arch {
        Arch::Lenet5 => {
            String::from("Model: \"lenet5\" (Keras variant; shapes are (batch, channels, height, width))\n")
        }
        Arch::Lenet1998 => String::from(
            "Model: \"lenet1998\" (LeCun et al. 1998; input 28x28 padded to 32x32; squash = 1.7159 tanh(2a/3))\n",
        ),
    };
    out += &format!("{thin}\n{:<32}{:<26}{:>14}\n{rule}\n", "Layer (type)", "Output Shape", "Param #");
    let layers = layers(arch);
    for (i, l) in layers.iter().enumerate() {
        let act = if l.activation.is_empty() { String::new() } else { format!(", {}", l.activation) };
        out += &format!(
            "{:<32}{:<26}{:>14}\n",
            format!("{} ({}{act})", l.name, l.kind),
            shape_text(&l.output_shape),
            group(l.params)
        );
        if i + 1 < layers.len() {
            out += &format!("{thin}\n");
        }
    }
    let total: usize = layers.iter().map(|l| l.params).sum();
    let trainable: usize = layers.iter().filter(|l| l.trainable).map(|l| l.params).sum();
    out += &format!(
        "{rule}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: {}\n{thin}\n",
        group(total),
        group(trainable),
        group(total - trainable)
    );
    out
}

/// 44426 -> "44,426".
pub fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::group(0), "0");
        assert_eq!(super::group(850), "850");
        assert_eq!(super::group(44_426), "44,426");
        assert_eq!(super::group(1_234_567), "1,234,567");
    }
}
