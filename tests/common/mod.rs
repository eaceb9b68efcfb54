//! Shared test helpers: one `Gpu` per test binary, seeded random data, `assert_close`.
#![allow(dead_code)]

use std::sync::OnceLock;

use lenet_gpu::gpu::{AdapterChoice, Dispatch, Gpu, Profile, View};
use lenet_gpu::shapes::ConvShape;
use pollster::FutureExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The device every test in this binary shares. No adapter is a failure, not a skip:
/// CI installs lavapipe. With `LENET_GPU_PORTABLE` set (CI's second pass), it is opened
/// with WebGPU's default limits and no optional features, so every test runs the kernels
/// a GPU without subgroups runs. With `LENET_GPU_EXPECT_LANES=n` (CI's passes at other
/// `LP_NATIVE_VECTOR_WIDTH`s), a device whose subgroup kernels are not written for n
/// lanes fails the tests instead of quietly running the portable kernels.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let portable = std::env::var_os("LENET_GPU_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0");
        let profile = if portable { Profile::Portable } else { Profile::Full };
        let gpu = Gpu::open(AdapterChoice::Auto, profile)
            .block_on()
            .unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"));
        if let Ok(want) = std::env::var("LENET_GPU_EXPECT_LANES") {
            let lanes = lenet_gpu::kernels::subgroup_lanes(&gpu);
            assert_eq!(lanes.map(|l| l.to_string()), Some(want), "LENET_GPU_EXPECT_LANES: {}", gpu.info.name);
        }
        gpu
    })
}

/// LeNet-5 of the default recipe trained for 2 epochs on 3,000 images (about 93%
/// accurate), with the kernels: what the picture and explanation tests look at.
pub fn briefly_trained() -> &'static (lenet_gpu::kernels::Kernels, Vec<f32>) {
    use lenet_gpu::data::{Dataset, Split};
    use lenet_gpu::train::{Recipe, Trainer};
    static MODEL: OnceLock<(lenet_gpu::kernels::Kernels, Vec<f32>)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let train = Dataset::bundled(Split::Train).unwrap().take(3000);
        // The images as they are: the tests' thresholds were set on this model.
        let augment = lenet_gpu::augment::Augmentation::none();
        let recipe = Recipe { epochs: 2, batch_size: 50, augment, ..Recipe::default_recipe() };
        let mut t = Trainer::new(gpu(), recipe, &train).unwrap();
        for _ in 0..2 {
            t.train_epoch(&mut |_| {}).block_on().unwrap();
        }
        (lenet_gpu::kernels::Kernels::new(gpu()).unwrap(), t.read_params().block_on().unwrap())
    })
}

/// LeNet-5's two convolutions at batch 100 and at batch 1: the first cases of every
/// convolution kernel's test.
pub fn lenet5_conv_shapes() -> [ConvShape; 4] {
    [
        ConvShape::new(100, 1, 28, 28, 6, 5),
        ConvShape::new(1, 1, 28, 28, 6, 5),
        ConvShape::new(100, 6, 12, 12, 16, 5),
        ConvShape::new(1, 6, 12, 12, 16, 5),
    ]
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn uniform(rng: &mut ChaCha8Rng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// Distinct values in random order (no ties, so max-pooling's argmax is well defined).
pub fn distinct(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..len).map(|i| i as f32 / len as f32 - 0.5).collect();
    for i in (1..len).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
    v
}

/// A buffer pre-filled with NaN: an element the kernel failed to write then fails the
/// comparison instead of passing as a stale zero (wgpu's own shader tests do the same).
pub fn nan_buffer(gpu: &Gpu, label: &str, len: usize) -> wgpu::Buffer {
    gpu.storage_from(label, &vec![f32::NAN; len.max(1)])
}

pub fn run(gpu: &Gpu, d: Dispatch) {
    gpu.run(&[&d]).expect("dispatch failed");
}

pub fn read(gpu: &Gpu, b: &wgpu::Buffer, len: usize) -> Vec<f32> {
    let mut v: Vec<f32> = gpu.read(View::whole(b)).block_on().expect("readback failed");
    v.truncate(len);
    v
}

pub fn read_u32(gpu: &Gpu, b: &wgpu::Buffer, len: usize) -> Vec<u32> {
    let mut v: Vec<u32> = gpu.read(View::whole(b)).block_on().expect("readback failed");
    v.truncate(len);
    v
}

/// Allowed error: |gpu - cpu| <= abs + rel * |cpu|.
#[derive(Debug, Clone, Copy)]
pub struct Tol {
    pub abs: f64,
    pub rel: f64,
}

/// Data movement (im2col, col2im with one term, pooling, ReLU masks, argmax): bit-exact.
pub const EXACT: Tol = Tol { abs: 0.0, rel: 0.0 };

/// Passes when every element is within `tol`; otherwise reports how many failed, the
/// worst index with both values, and how much of the allowed error it used.
pub fn assert_close(label: &str, gpu: &[f32], cpu: &[f32], tol: Tol) {
    assert_eq!(gpu.len(), cpu.len(), "{label}: lengths differ");
    let mut failed = 0;
    let mut worst = (0usize, 0.0f64); // index, share of the allowed error used
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let (g, c) = (g as f64, c as f64);
        let diff = (g - c).abs();
        let allowed = tol.abs + tol.rel * c.abs();
        let share = if diff.is_nan() || g.is_finite() != c.is_finite() {
            f64::INFINITY
        } else if allowed > 0.0 {
            diff / allowed
        } else if diff > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        if share > 1.0 {
            failed += 1;
        }
        if share > worst.1 {
            worst = (i, share);
        }
    }
    let i = worst.0;
    assert!(
        failed == 0,
        "{label}: {failed} of {} elements out of tolerance {tol:?}; worst at [{i}]: gpu {} cpu {} (diff {:.3e}, {:.1}x the allowed error)",
        gpu.len(),
        gpu[i],
        cpu[i],
        (gpu[i] as f64 - cpu[i] as f64).abs(),
        worst.1
    );
}

/// A safetensors file as PyTorch's `save_file(model.state_dict())` writes it: `tensors` in
/// `dtype` ("F16", "BF16", "F64" or "F32"), no metadata.
pub fn write_state_dict(path: &std::path::Path, tensors: &[(String, Vec<usize>, Vec<f32>)], dtype: &str) {
    let encode = |v: f32| -> Vec<u8> {
        match dtype {
            "F16" => half::f16::from_f32(v).to_le_bytes().to_vec(),
            "BF16" => half::bf16::from_f32(v).to_le_bytes().to_vec(),
            "F64" => (v as f64).to_le_bytes().to_vec(),
            _ => v.to_le_bytes().to_vec(),
        }
    };
    let (mut header, mut data) = (serde_json::Map::new(), Vec::new());
    for (name, shape, values) in tensors {
        let start = data.len();
        values.iter().for_each(|&v| data.extend(encode(v)));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&header).unwrap();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(h);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}
