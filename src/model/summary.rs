//! Keras' `model.summary()` for both networks (`lenet-gpu summary`, the model diagram),
//! from their layer lists, with the two counts the tutorial and torchinfo add: the 1998
//! paper's connections and multiply-accumulates.

use super::layers::{Activation, Dims};
use super::{Arch, NetSpec};
use serde::Serialize;

/// One layer as Keras' `model.summary()` lists it. Shapes are per image, (C, H, W) or (units).
/// Serialized as a row of `summary --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerInfo {
    #[serde(rename = "layer")]
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: String,
    pub activation: &'static str,
    #[serde(skip)]
    pub input_shape: Vec<u32>,
    pub output_shape: Vec<u32>,
    pub params: usize,
    /// False for LeNet-1998's RBF centers (fixed bitmaps).
    pub trainable: bool,
    /// The 1998 paper's count: every input each output unit reads, plus its bias.
    pub connections: usize,
    /// Multiply-accumulates per image, as torchinfo counts them less the bias adds: a
    /// convolution's output elements times its kernel volume, a dense layer's weights, a
    /// subsampling's one coefficient per output; 0 for max-pooling and reshapes.
    pub mult_adds: usize,
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
            connections: 0,
            mult_adds: 0,
        }
    }

    /// Sets both counts from one output position (a pixel of every map, or all the units
    /// of a dense layer): the connections its units have and the multiply-accumulates they
    /// do, times the output's positions.
    pub fn per_position(self, connections: usize, mult_adds: usize) -> Self {
        let positions: usize = self.output_shape.iter().skip(1).map(|&d| d as usize).product();
        LayerInfo { connections: connections * positions, mult_adds: mult_adds * positions, ..self }
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

/// `summary --json`: the table's rows and totals, mult-adds per image and for `batch`.
pub fn summary_json(arch: Arch, batch: Option<u32>) -> serde_json::Value {
    let net = NetSpec { arch, ..Default::default() }.network();
    let layers = net.rows();
    let t = Totals::of(&layers);
    serde_json::json!({
        "model": net.name,
        "title": net.title,
        "layers": layers,
        "total_params": t.params,
        "trainable_params": t.trainable,
        "non_trainable_params": t.params - t.trainable,
        "total_connections": t.connections,
        "total_mult_adds": t.mult_adds,
        "batch": batch,
        "batch_mult_adds": batch.map(|n| t.mult_adds * n as usize),
    })
}

/// The table's sums.
struct Totals {
    params: usize,
    trainable: usize,
    connections: usize,
    mult_adds: usize,
}

impl Totals {
    fn of(layers: &[LayerInfo]) -> Self {
        Totals {
            params: layers.iter().map(|l| l.params).sum(),
            trainable: layers.iter().filter(|l| l.trainable).map(|l| l.params).sum(),
            connections: layers.iter().map(|l| l.connections).sum(),
            mult_adds: layers.iter().map(|l| l.mult_adds).sum(),
        }
    }
}

/// Keras' `model.summary()` as text, with Connections and Mult-Adds columns; the total
/// mult-adds also for a batch of `batch` images when given.
pub fn summary_table(arch: Arch, batch: Option<u32>) -> String {
    const WIDTH: usize = 98;
    let rule = "=".repeat(WIDTH);
    let thin = "_".repeat(WIDTH);
    let net = NetSpec { arch, ..Default::default() }.network();
    let mut out = format!("Model: \"{}\" ({})\n", net.name, net.note);
    out += &format!(
        "{thin}\n{:<34}{:<22}{:>12}{:>15}{:>15}\n{rule}\n",
        "Layer (type)", "Output Shape", "Param #", "Connections", "Mult-Adds"
    );
    let layers = net.rows();
    for (i, l) in layers.iter().enumerate() {
        let act = if l.activation.is_empty() { String::new() } else { format!(", {}", l.activation) };
        out += &format!(
            "{:<34}{:<22}{:>12}{:>15}{:>15}\n",
            format!("{} ({}{act})", l.name, l.kind),
            shape_text(&l.output_shape),
            group(l.params),
            group(l.connections),
            group(l.mult_adds)
        );
        if i + 1 < layers.len() {
            out += &format!("{thin}\n");
        }
    }
    let t = Totals::of(&layers);
    out += &format!(
        "{rule}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: {}\nTotal connections: {}\n",
        group(t.params),
        group(t.trainable),
        group(t.params - t.trainable),
        group(t.connections)
    );
    out += &format!("Total mult-adds: {} per image", group(t.mult_adds));
    if let Some(n) = batch {
        out += &format!(", {} for a batch of {n}", group(t.mult_adds * n as usize));
    }
    out += &format!("\n{thin}\n");
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
