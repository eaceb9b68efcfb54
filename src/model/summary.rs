//! Keras' `model.summary()` for both networks (`lenet-gpu summary`, the model diagram),
//! from their layer lists.

use super::layers::{Activation, Dims};
use super::{Arch, NetSpec};

/// One layer as Keras' `model.summary()` lists it. Shapes are per image, (C, H, W) or (units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    pub name: &'static str,
    pub kind: String,
    pub activation: &'static str,
    pub input_shape: Vec<u32>,
    pub output_shape: Vec<u32>,
    pub params: usize,
    /// False for LeNet-1998's RBF centers (fixed bitmaps).
    pub trainable: bool,
}

impl LayerInfo {
    /// A trainable layer's row.
    pub fn new(
        name: &'static str,
        kind: String,
        activation: Activation,
        input: Dims,
        output: Dims,
        params: usize,
    ) -> Self {
        LayerInfo {
            name,
            kind,
            activation: activation.name(),
            input_shape: input.shape(),
            output_shape: output.shape(),
            params,
            trainable: true,
        }
    }
}

/// A network's layers, in order.
pub fn layers(arch: Arch) -> Vec<LayerInfo> {
    NetSpec { arch, ..Default::default() }.network().rows()
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
    let net = NetSpec { arch, ..Default::default() }.network();
    let mut out = format!("Model: \"{}\" ({})\n", net.name, net.note);
    out += &format!("{thin}\n{:<32}{:<26}{:>14}\n{rule}\n", "Layer (type)", "Output Shape", "Param #");
    let layers = net.rows();
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
