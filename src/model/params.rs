//! One flat parameter buffer with named views (llm.c's `ParameterTensors`): the optimizer
//! is one dispatch over everything, a checkpoint is one readback.

/// Offsets are multiples of this many f32s (256 bytes), the storage-buffer binding offset
/// alignment wgpu guarantees, so every tensor can be bound as its own view.
pub const ALIGN: usize = 64;

/// One named tensor inside the flat buffer, in PyTorch's layout and naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    /// In f32 elements from the start of the flat buffer.
    pub offset: usize,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Where every tensor lives in the flat buffer. The padding between tensors is zero and
/// stays zero (its gradient is never written, so every optimizer leaves it alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamLayout {
    pub tensors: Vec<TensorSpec>,
    /// Length of the flat buffer, padding included.
    pub padded_len: usize,
}

impl ParamLayout {
    pub fn new(specs: &[(&'static str, &[usize])]) -> Self {
        let mut offset = 0;
        let mut tensors = Vec::new();
        for (name, shape) in specs {
            let t = TensorSpec { name, shape: shape.to_vec(), offset };
            offset = (offset + t.len()).div_ceil(ALIGN) * ALIGN;
            tensors.push(t);
        }
        ParamLayout { tensors, padded_len: offset.max(ALIGN) }
    }

    /// The Keras-variant LeNet-5, with PyTorch's `state_dict` names and shapes.
    pub fn lenet5() -> Self {
        ParamLayout::new(&[
            ("conv1.weight", &[6, 1, 5, 5]),
            ("conv1.bias", &[6]),
            ("conv2.weight", &[16, 6, 5, 5]),
            ("conv2.bias", &[16]),
            ("fc1.weight", &[120, 256]),
            ("fc1.bias", &[120]),
            ("fc2.weight", &[84, 120]),
            ("fc2.bias", &[84]),
            ("fc3.weight", &[10, 84]),
            ("fc3.bias", &[10]),
        ])
    }

    /// The tensor called `name`. Panics on a name not in the layout: names are constants.
    pub fn get(&self, name: &str) -> &TensorSpec {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no parameter tensor {name:?} in this layout"))
    }

    /// Trainable parameters, padding excluded (44,426 for LeNet-5).
    pub fn count(&self) -> usize {
        self.tensors.iter().map(TensorSpec::len).sum()
    }
}

/// How weights are drawn at the start of training. Biases always start at zero.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// U(-limit, limit) for every weight: the Keras tutorial's `RandomUniform(-0.05, 0.05)`.
    Uniform { limit: f32 },
    /// He/Kaiming uniform, U(-sqrt(6/fan_in), +sqrt(6/fan_in)): keeps ReLU activations'
    /// variance steady layer to layer.
    HeUniform,
}

impl ParamLayout {
    /// A fresh flat parameter vector (padding zero) drawn with `init` from `rng`.
    pub fn init(&self, init: Init, rng: &mut impl rand::Rng) -> Vec<f32> {
        let mut flat = vec![0.0f32; self.padded_len];
        for t in &self.tensors {
            if t.shape.len() < 2 {
                continue; // bias
            }
            let fan_in: usize = t.shape[1..].iter().product();
            let limit = match init {
                Init::Uniform { limit } => limit,
                Init::HeUniform => (6.0 / fan_in as f32).sqrt(),
            };
            for w in &mut flat[t.range()] {
                *w = rng.random_range(-limit..limit);
            }
        }
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tensor_starts_on_a_binding_alignment_boundary_without_overlap() {
        let l = ParamLayout::lenet5();
        let mut end = 0;
        for t in &l.tensors {
            assert_eq!(t.offset % ALIGN, 0, "{}", t.name);
            assert!(t.offset >= end, "{} overlaps the previous tensor", t.name);
            end = t.offset + t.len();
        }
        assert!(end <= l.padded_len);
        assert_eq!(l.count(), 44_426);
    }

    #[test]
    fn init_fills_weights_within_limits_and_leaves_biases_and_padding_zero() {
        use rand::SeedableRng;
        let l = ParamLayout::lenet5();
        let flat = l.init(Init::Uniform { limit: 0.05 }, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let mut owned = vec![false; l.padded_len];
        for t in &l.tensors {
            t.range().for_each(|i| owned[i] = true);
            let v = &flat[t.range()];
            if t.shape.len() == 1 {
                assert!(v.iter().all(|&b| b == 0.0), "{} starts at zero", t.name);
            } else {
                assert!(v.iter().all(|w| w.abs() <= 0.05) && v.iter().any(|&w| w != 0.0), "{}", t.name);
            }
        }
        assert!(flat.iter().zip(&owned).all(|(v, o)| *o || *v == 0.0), "padding stays zero");
    }
}
