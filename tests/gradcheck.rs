//! The whole LeNet-5 backward pass on the GPU, checked two ways: against the CPU twin of
//! the model (every element), and against central finite differences of the loss in f64
//! (a sample of every parameter tensor and of the input image).

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::params::Init;
use lenet_gpu::model::{Ctx, InputSource, Mode, NetSpec, ParamLayout};
use lenet_gpu::reference::lenet5;
use rand::Rng;

const BATCH: u32 = 3;

struct Setup {
    layout: ParamLayout,
    params: Vec<f32>,
    x: Vec<f32>,
    labels: Vec<u32>,
}

fn setup(seed: u64) -> Setup {
    let layout = ParamLayout::lenet5();
    let mut r = rng(seed);
    let mut params = layout.init(Init::HeUniform, &mut r);
    // Non-zero biases, so their gradients and the ReLU masks are exercised.
    for t in layout.tensors.iter().filter(|t| t.shape.len() == 1) {
        for b in &mut params[t.range()] {
            *b = r.random_range(-0.1..0.1);
        }
    }
    let x = uniform(&mut r, (BATCH * 784) as usize, 0.0, 1.0);
    let labels = (0..BATCH).map(|_| r.random_range(0..10)).collect();
    Setup { layout, params, x, labels }
}

/// Runs forward + backward on the GPU with `k`'s kernels; returns (parameter gradients,
/// d loss / d x).
fn gpu_gradients(s: &Setup, k: &Kernels) -> (Vec<f32>, Vec<f32>) {
    let gpu = gpu();
    let params = gpu.storage_from("params", &s.params);
    // NaN-filled: a gradient element that no kernel writes fails the comparison.
    let grads = gpu.storage_from("grads", &vec![f32::NAN; s.layout.padded_len]);
    let ctx = Ctx::new(gpu, k, &s.layout, &params).with_grads(&grads);
    let plan = NetSpec::default().plan(&ctx, BATCH, Mode::TrainWithInputGrad, InputSource::Buffer).unwrap();
    gpu.write(View::whole(plan.x().unwrap()), &s.x);
    gpu.write(View::whole(plan.labels()), &s.labels);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.record_forward(&mut pass);
        plan.record_backward(&mut pass);
    }
    gpu.queue.submit([encoder.finish()]);
    gpu.wait().unwrap();
    let g = read(gpu, &grads, s.layout.padded_len);
    let dx = read(gpu, plan.input_grad().unwrap(), s.x.len());
    (g, dx)
}

#[test]
fn lenet5_gpu_gradients_match_the_cpu_model() {
    check_against_the_cpu_model(&Kernels::new(gpu()).unwrap());
}

/// The kernels a cold start trains on (im2col + `gemm_simple` everywhere) compute the
/// same network.
#[test]
fn lenet5_quick_tier_gradients_match_the_cpu_model() {
    check_against_the_cpu_model(&Kernels::quick(gpu()).unwrap());
}

fn check_against_the_cpu_model(k: &Kernels) {
    let s = setup(1);
    let (g, dx) = gpu_gradients(&s, k);
    let f = lenet5::lenet5_forward(&s.layout, &s.params, &s.x, &s.labels, BATCH);
    let lenet5::Backward { grads: want, dx: want_dx, .. } = lenet5::lenet5_backward(&s.layout, &s.params, &f, BATCH);
    // Chains of f32 GEMMs summed in a different order; measured max diff 1.8e-7 on
    // conv1.weight (gradient 0.47) on lavapipe.
    let tol = Tol { abs: 2e-6, rel: 1e-4 };
    for t in &s.layout.tensors {
        assert_close(&t.name, &g[t.range()], &want[t.range()], tol);
    }
    assert_close("input", &dx, &want_dx, tol);
}

#[test]
fn lenet5_gpu_gradients_match_finite_differences() {
    let s = setup(2);
    let (g, dx) = gpu_gradients(&s, &Kernels::new(gpu()).unwrap());
    let params64: Vec<f64> = s.params.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = s.x.iter().map(|&v| v as f64).collect();
    let loss = |p: &[f64], x: &[f64]| lenet5::lenet5_loss(&s.layout, p, x, &s.labels, BATCH);
    let eps = 1e-5;
    // f32 GPU gradients against f64 differences: the abs term covers f32 rounding of the
    // whole chain (measured max diff 5e-8 on lavapipe), the rel term the f64 truncation.
    let tol = |fd: f64| 2e-5 + 1e-3 * fd.abs();
    let mut r = rng(3);
    let mut checked = 0;
    for t in &s.layout.tensors {
        for _ in 0..6 {
            let i = t.offset + r.random_range(0..t.len());
            let (mut plus, mut minus) = (params64.clone(), params64.clone());
            plus[i] += eps;
            minus[i] -= eps;
            let fd = (loss(&plus, &x64) - loss(&minus, &x64)) / (2.0 * eps);
            let got = g[i] as f64;
            assert!(
                (got - fd).abs() <= tol(fd),
                "{}[{}]: gpu {got:.6e}, finite difference {fd:.6e}",
                t.name,
                i - t.offset
            );
            checked += 1;
        }
        // The gradient must not be trivially zero: random data drives every tensor.
        assert!(g[t.range()].iter().any(|v| v.abs() > 1e-6), "{} gradient is all zero", t.name);
    }
    for _ in 0..12 {
        // Pixels in the receptive field of the image's centre, which every output sees.
        let n = r.random_range(0..BATCH as usize);
        let i = n * 784 + r.random_range(6..22) * 28 + r.random_range(6..22);
        let (mut plus, mut minus) = (x64.clone(), x64.clone());
        plus[i] += eps;
        minus[i] -= eps;
        let fd = (loss(&params64, &plus) - loss(&params64, &minus)) / (2.0 * eps);
        assert!((dx[i] as f64 - fd).abs() <= tol(fd), "input[{i}]: gpu {:.6e}, finite difference {fd:.6e}", dx[i]);
        checked += 1;
    }
    assert_eq!(checked, 10 * 6 + 12);
    assert!(dx.iter().any(|v| v.abs() > 1e-6), "input gradient is all zero");
}
