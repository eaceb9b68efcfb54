//! The layer table of the Keras-variant LeNet-5 (`lenet-gpu summary`, the model diagram).

use super::lenet5::Lenet5Shapes;

/// One layer as Keras' `model.summary()` lists it. Shapes are per image, (C, H, W) or (units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    pub name: &'static str,
    pub kind: &'static str,
    pub activation: &'static str,
    pub input_shape: Vec<u32>,
    pub output_shape: Vec<u32>,
    pub params: usize,
}

/// The eight layers, in order, with shapes from `Lenet5Shapes` (the one source of sizes).
pub fn layers() -> Vec<LayerInfo> {
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
        },
        LayerInfo {
            name: "pool1",
            kind: "MaxPooling2D 2x2",
            activation: "",
            input_shape: chw(s.pool1.c, s.pool1.h, s.pool1.w),
            output_shape: chw(s.pool1.c, s.pool1.out_h(), s.pool1.out_w()),
            params: 0,
        },
        LayerInfo {
            name: "conv2",
            kind: "Conv2D 5x5",
            activation: "relu",
            input_shape: chw(s.conv2.c, s.conv2.h, s.conv2.w),
            output_shape: chw(s.conv2.oc, s.conv2.out_h(), s.conv2.out_w()),
            params: conv_params(s.conv2),
        },
        LayerInfo {
            name: "pool2",
            kind: "MaxPooling2D 2x2",
            activation: "",
            input_shape: chw(s.pool2.c, s.pool2.h, s.pool2.w),
            output_shape: chw(s.pool2.c, s.pool2.out_h(), s.pool2.out_w()),
            params: 0,
        },
        LayerInfo {
            name: "flatten",
            kind: "Flatten",
            activation: "",
            input_shape: chw(s.pool2.c, s.pool2.out_h(), s.pool2.out_w()),
            output_shape: vec![s.fc1.inputs],
            params: 0,
        },
        LayerInfo {
            name: "fc1",
            kind: "Dense",
            activation: "relu",
            input_shape: vec![s.fc1.inputs],
            output_shape: vec![s.fc1.outputs],
            params: dense_params(s.fc1),
        },
        LayerInfo {
            name: "fc2",
            kind: "Dense",
            activation: "relu",
            input_shape: vec![s.fc2.inputs],
            output_shape: vec![s.fc2.outputs],
            params: dense_params(s.fc2),
        },
        LayerInfo {
            name: "fc3",
            kind: "Dense",
            activation: "softmax",
            input_shape: vec![s.fc3.inputs],
            output_shape: vec![s.fc3.outputs],
            params: dense_params(s.fc3),
        },
    ]
}

/// "(None, 6, 24, 24)": Keras' notation, batch first, channels-first as stored here.
pub fn shape_text(shape: &[u32]) -> String {
    let dims: Vec<String> = shape.iter().map(u32::to_string).collect();
    format!("(None, {})", dims.join(", "))
}

/// Keras' `model.summary()` as text.
pub fn summary_table() -> String {
    let rule = "=".repeat(72);
    let thin = "_".repeat(72);
    let mut out = String::from("Model: \"lenet5\" (Keras variant; shapes are (batch, channels, height, width))\n");
    out += &format!("{thin}\n{:<32}{:<26}{:>14}\n{rule}\n", "Layer (type)", "Output Shape", "Param #");
    let layers = layers();
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
    out += &format!(
        "{rule}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: 0\n{thin}\n",
        group(total),
        group(total)
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
