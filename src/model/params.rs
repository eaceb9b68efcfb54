//! One flat parameter buffer with named views (llm.c's `ParameterTensors`): the optimizer
//! is one dispatch over everything, a checkpoint is one readback.

/// Offsets are multiples of this many f32s (256 bytes), the storage-buffer binding offset
/// alignment wgpu guarantees, so every tensor can be bound as its own view.
pub const ALIGN: usize = 64;

/// A parameter tensor as a layer declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// PyTorch's `state_dict` name, e.g. `conv1.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    /// Inputs feeding each output through this tensor, for initialization; None for a
    /// bias (initialized to zero).
    pub fan_in: Option<usize>,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One named tensor inside the flat buffer, in PyTorch's layout and naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    /// In f32 elements from the start of the flat buffer.
    pub offset: usize,
    /// Inputs feeding each output through this tensor, for initialization; None for a
    /// bias (initialized to zero).
    pub fan_in: Option<usize>,
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
    /// The tensors in order, each starting on an [`ALIGN`] boundary.
    pub fn new(specs: Vec<ParamSpec>) -> Self {
        let mut offset = 0;
        let mut tensors = Vec::new();
        for ParamSpec { name, shape, fan_in } in specs {
            let t = TensorSpec { name, shape, offset, fan_in };
            offset = (offset + t.len()).div_ceil(ALIGN) * ALIGN;
            tensors.push(t);
        }
        ParamLayout { tensors, padded_len: offset.max(ALIGN) }
    }

    /// The Keras-variant LeNet-5, with PyTorch's `state_dict` names and shapes.
    pub fn lenet5() -> Self {
        crate::model::Arch::Lenet5.layout()
    }

    /// LeNet-1998 (LeCun et al. 1998): C1, trainable subsampling S2 (one coefficient and
    /// one bias per map), C3's 60 connections stored as four tensors by connection pattern
    /// (`lenet1998::C3_GROUPS`; unconnected weights do not exist), S4, C5, F6. 60,000
    /// trainable parameters; the RBF output's 840 are fixed and not stored here.
    pub fn lenet1998() -> Self {
        crate::model::Arch::Lenet1998.layout()
    }

    /// The part of `buffer` (laid out as this layout) that holds tensor `name`.
    pub fn view<'a>(&self, buffer: &'a wgpu::Buffer, name: &str) -> crate::gpu::View<'a> {
        let t = self.get(name);
        crate::gpu::View { buffer, offset: t.offset as u64, len: t.len() as u64 }
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
    /// U(-2.4/fan_in, +2.4/fan_in), LeCun et al. 1998 (appendix C): keeps the scaled
    /// tanh's inputs in its sloped region.
    Lecun98,
}

impl ParamLayout {
    /// A fresh flat parameter vector (padding zero) drawn with `init` from `rng`.
    pub fn init(&self, init: Init, rng: &mut impl rand::Rng) -> Vec<f32> {
        let mut flat = vec![0.0f32; self.padded_len];
        for t in &self.tensors {
            let Some(fan_in) = t.fan_in else {
                continue; // bias
            };
            let limit = match init {
                Init::Uniform { limit } => limit,
                Init::HeUniform => (6.0 / fan_in as f32).sqrt(),
                Init::Lecun98 => 2.4 / fan_in as f32,
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

    #[test]
    fn lenet1998_has_the_papers_60000_trainable_parameters() {
        use rand::SeedableRng;
        let l = ParamLayout::lenet1998();
        assert_eq!(l.count(), 60_000);
        assert_eq!(l.tensors.iter().filter(|t| t.name.starts_with("c3.")).map(TensorSpec::len).sum::<usize>(), 1516);
        let flat = l.init(Init::Lecun98, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
        let coef = &flat[l.get("s2.coef").range()];
        assert!(coef.iter().all(|c| c.abs() <= 0.6) && coef.iter().any(|&c| c != 0.0), "coefficients are weights");
        assert!(flat[l.get("c5.weight").range()].iter().all(|w| w.abs() <= 2.4 / 400.0));
        assert!(flat[l.get("s4.bias").range()].iter().all(|&b| b == 0.0));
    }
}
