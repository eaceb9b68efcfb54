//! Attributions against their definitions: the GPU's gradient saliency against central
//! finite differences and the CPU model's backward, gradient x input, SmoothGrad and
//! Integrated Gradients against their CPU twins, IG's completeness, Grad-CAM against the
//! CPU model's maps and gradients, occlusion against separate forward passes.

mod common;

use common::*;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::explain::gradcam::{cam_from, grad_cam, upsample};
use lenet_gpu::explain::occlusion::occlusion;
use lenet_gpu::explain::saliency::{baseline_image, saliency, Baseline, Method, SaliencyConfig};
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::params::Init;
use lenet_gpu::model::{Arch, Ctx, NetSpec, ParamLayout};
use lenet_gpu::predict::predict;
use lenet_gpu::reference::lenet5::{lenet5_backward, lenet5_forward};
use lenet_gpu::viz::weights::ConvLayer;
use pollster::FutureExt;
use rand::SeedableRng;

fn trained() -> &'static (Kernels, Vec<f32>) {
    briefly_trained()
}

fn test_image(i: usize) -> Vec<f32> {
    let test = Dataset::bundled(Split::Test).unwrap();
    test.input(i)
}

/// Runs `f` with a context over `params` of `net` (with a gradient buffer).
fn with_ctx<R>(net: NetSpec, params: &[f32], f: impl FnOnce(&Ctx) -> R) -> R {
    let layout = net.layout();
    let (k, _) = trained();
    let p = gpu().storage_from("params", params);
    let grads = gpu().storage("grads", layout.padded_len);
    f(&Ctx::new(gpu(), k, &layout, &p).with_grads(&grads))
}

const LENET5: NetSpec = NetSpec {
    arch: Arch::Lenet5,
    squash: lenet_gpu::kernels::squash::SquashFn::ScaledTanh,
    input_scale: lenet_gpu::model::InputScale::Unit,
};

/// The CPU model: the target's logit, d logit / d x, conv2's maps and d logit / d conv2's
/// pre-activation.
fn cpu_gradient(params: &[f64], x: &[f64], target: usize) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
    let layout = ParamLayout::lenet5();
    let mut f = lenet5_forward(&layout, params, x, &[target as u32], 1);
    f.dlogits = (0..10).map(|j| if j == target { 1.0 } else { 0.0 }).collect();
    let b = lenet5_backward(&layout, params, &f, 1);
    (f.logits[target], b.dx, f.conv2.clone(), b.dconv2)
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| v as f64).collect()
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&v| v as f32).collect()
}

const TOL: Tol = Tol { abs: 2e-4, rel: 2e-3 };

#[test]
fn gradient_saliency_is_the_cpu_models_gradient_and_finite_differences_agree() {
    let (_, params) = trained();
    // Faint noise on the black background: without it every pool window there holds equal
    // values, a tie where the function has no derivative (one-sided ones differ).
    let mut noise = rng(9);
    let x: Vec<f32> = test_image(12).iter().zip(uniform(&mut noise, 784, 0.0, 0.02)).map(|(x, n)| x + n).collect();
    let cfg = SaliencyConfig::new(Method::Gradient);
    let s = with_ctx(LENET5, params, |ctx| saliency(ctx, LENET5, &x, 9, &cfg).block_on()).unwrap();
    let p64 = to_f64(params);
    let (logit, dx, _, _) = cpu_gradient(&p64, &to_f64(&x), 9);
    assert_close("gradient", &s.attribution, &to_f32(&dx), TOL);
    assert!((s.score as f64 - logit).abs() < 1e-3, "score {} vs {logit}", s.score);
    // Central differences of the CPU logit at the largest-gradient pixels and a spread
    // of others (ReLU and max-pool are piecewise linear: a small step stays on one piece).
    let mut order: Vec<usize> = (0..784).collect();
    order.sort_by(|&a, &b| dx[b].abs().total_cmp(&dx[a].abs()));
    let sampled: Vec<usize> = order[..8].iter().copied().chain((0..784).step_by(97)).collect();
    let h = 1e-4;
    for i in sampled {
        let mut xp = to_f64(&x);
        xp[i] += h;
        let up = cpu_gradient(&p64, &xp, 9).0;
        xp[i] -= 2.0 * h;
        let down = cpu_gradient(&p64, &xp, 9).0;
        let fd = (up - down) / (2.0 * h);
        let got = s.attribution[i] as f64;
        assert!((got - fd).abs() <= 1e-3 + 1e-2 * fd.abs(), "pixel {i}: GPU {got} vs finite differences {fd}");
    }
}

#[test]
fn gradient_x_input_and_integrated_gradients_equal_their_cpu_twins() {
    let (_, params) = trained();
    let x = test_image(3);
    let p64 = to_f64(params);
    let (_, dx, _, _) = cpu_gradient(&p64, &to_f64(&x), 0);
    let gxi = with_ctx(LENET5, params, |ctx| {
        saliency(ctx, LENET5, &x, 0, &SaliencyConfig::new(Method::GradientXInput)).block_on()
    })
    .unwrap();
    let want: Vec<f32> = dx.iter().zip(&x).map(|(g, &v)| (*g * v as f64) as f32).collect();
    assert_close("gradient x input", &gxi.attribution, &want, TOL);
    for baseline in [Baseline::Black, Baseline::Blur, Baseline::Uniform] {
        let cfg = SaliencyConfig { steps: 16, baseline, seed: 5, ..SaliencyConfig::new(Method::IntegratedGradients) };
        let ig = with_ctx(LENET5, params, |ctx| saliency(ctx, LENET5, &x, 0, &cfg).block_on()).unwrap();
        let base = baseline_image(&x, baseline, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
        assert_eq!(ig.baseline.as_ref().unwrap().0, base, "{baseline:?}");
        let mut mean = vec![0.0f64; 784];
        for k in 0..16 {
            let a = (k as f64 + 0.5) / 16.0;
            let point: Vec<f64> = x.iter().zip(&base).map(|(&x, &b)| b as f64 + a * (x as f64 - b as f64)).collect();
            let g = cpu_gradient(&p64, &point, 0).1;
            mean.iter_mut().zip(&g).for_each(|(m, g)| *m += g / 16.0);
        }
        let want: Vec<f32> =
            mean.iter().zip(x.iter().zip(&base)).map(|(g, (&x, &b))| (g * (x as f64 - b as f64)) as f32).collect();
        assert_close(&format!("IG from {baseline:?}"), &ig.attribution, &want, TOL);
        let base_logit = cpu_gradient(&p64, &to_f64(&base), 0).0;
        assert!((ig.baseline.as_ref().unwrap().1 as f64 - base_logit).abs() < 1e-3, "{baseline:?}: baseline score");
    }
}

#[test]
fn integrated_gradients_sum_to_the_score_difference_for_both_networks() {
    let (_, params) = trained();
    let lenet1998 = NetSpec { arch: Arch::Lenet1998, ..LENET5 };
    let params98 = ParamLayout::lenet1998().init(Init::Lecun98, &mut rng(4));
    for (net, params, target) in [(LENET5, params.clone(), 9), (lenet1998, params98, 9)] {
        for baseline in [Baseline::Black, Baseline::Blur] {
            let cfg = SaliencyConfig { baseline, ..SaliencyConfig::new(Method::IntegratedGradients) };
            let ig =
                with_ctx(net, &params, |ctx| saliency(ctx, net, &test_image(12), target, &cfg).block_on()).unwrap();
            let (sum, delta) = (ig.attribution_sum(), ig.output_delta().unwrap());
            assert!(
                (sum - delta).abs() <= 0.01 * delta.abs(),
                "{:?} from {baseline:?}: attributions sum to {sum}, the score moved by {delta}",
                net.arch
            );
        }
    }
}

#[test]
fn smoothgrad_is_the_mean_gradient_of_its_noisy_copies_and_deterministic_for_a_seed() {
    let (_, params) = trained();
    let x = test_image(12);
    let run =
        |cfg: SaliencyConfig| with_ctx(LENET5, params, |ctx| saliency(ctx, LENET5, &x, 9, &cfg).block_on()).unwrap();
    let cfg = SaliencyConfig { samples: 8, seed: 7, ..SaliencyConfig::new(Method::Smoothgrad) };
    let a = run(cfg);
    assert_eq!(a, run(cfg), "the same seed, the same map");
    assert_ne!(a.attribution, run(SaliencyConfig { seed: 8, ..cfg }).attribution, "another seed, other noise");
    let plain = run(SaliencyConfig::new(Method::Gradient));
    assert_eq!(a.score, plain.score, "the score is the clean image's");
    let noiseless = run(SaliencyConfig { noise: 0.0, ..cfg });
    assert_close("noise 0 is the gradient", &noiseless.attribution, &plain.attribution, TOL);
}

#[test]
fn grad_cam_is_the_weighted_sum_of_the_cpu_models_conv2_maps() {
    let (_, params) = trained();
    let x = test_image(12);
    let p64 = to_f64(params);
    let (_, _, maps, dconv2) = cpu_gradient(&p64, &to_f64(&x), 9);
    for plus_plus in [false, true] {
        let got = with_ctx(LENET5, params, |ctx| grad_cam(ctx, LENET5, &x, 9, ConvLayer::Conv2, plus_plus).block_on())
            .unwrap();
        assert_eq!(got.dims, (16, 8, 8));
        let (weights, cam) = cam_from(&to_f32(&maps), &to_f32(&dconv2), (16, 8, 8), plus_plus);
        assert_close("weights", &got.weights, &weights, TOL);
        assert_close("cam", &got.cam, &cam, TOL);
        assert!(got.cam.iter().any(|&v| v > 0.0), "plus_plus {plus_plus}: some evidence for the 9");
        if !plus_plus {
            // By definition: ReLU of sum_k (mean of g_k) A_k.
            let hand: Vec<f32> = (0..64)
                .map(|i| {
                    let s: f64 = (0..16)
                        .map(|k| dconv2[k * 64..(k + 1) * 64].iter().sum::<f64>() / 64.0 * maps[k * 64 + i])
                        .sum();
                    s.max(0.0) as f32
                })
                .collect();
            assert_close("Grad-CAM by hand", &got.cam, &hand, TOL);
        }
    }
    let lenet1998 = NetSpec { arch: Arch::Lenet1998, ..LENET5 };
    let params98 = ParamLayout::lenet1998().init(Init::Lecun98, &mut rng(4));
    for layer in [ConvLayer::Conv1, ConvLayer::Conv2] {
        let got =
            with_ctx(lenet1998, &params98, |ctx| grad_cam(ctx, lenet1998, &x, 9, layer, false).block_on()).unwrap();
        assert_eq!(got.upsampled.len(), 784);
        assert!(got.cam.iter().all(|v| v.is_finite() && *v >= 0.0), "{layer:?}");
    }
}

#[test]
fn upsampling_puts_each_cell_at_its_receptive_fields_centre() {
    // conv2's 8x8 cells sit at input pixels 7..=21 in steps of 2 (centre 2r + 7.5 is
    // between pixels 2r+7 and 2r+8): a one-hot cell peaks there.
    let mut map = vec![0.0f32; 64];
    map[2 * 8 + 5] = 1.0;
    let up = upsample(&map, (8, 8), 2.0);
    let peak = (0..784).max_by(|&a, &b| up[a].total_cmp(&up[b])).unwrap();
    let (r, c) = (peak / 28, peak % 28);
    assert!((11..=12).contains(&r) && (17..=18).contains(&c), "peak at ({r}, {c})");
    let flat = upsample(&[3.0; 64], (8, 8), 2.0);
    assert!(flat.iter().all(|&v| (v - 3.0).abs() < 1e-6), "a constant stays constant");
}

#[test]
fn occlusion_is_the_difference_of_two_forward_passes() {
    let (_, params) = trained();
    let x = test_image(12);
    let o = with_ctx(LENET5, params, |ctx| occlusion(ctx, LENET5, &x, 9, (6, 3), 0.0).block_on()).unwrap();
    assert_eq!(o.patches.len(), 8 * 8, "corners 0, 3, ..., 21 each way");
    for &at in &[0usize, 13, 27, 63] {
        let ((r, c), drop) = o.patches[at];
        let mut covered = x.clone();
        for y in r..r + 6 {
            covered[(y * 28 + c) as usize..(y * 28 + c + 6) as usize].fill(0.0);
        }
        let p = with_ctx(LENET5, params, |ctx| predict(ctx, LENET5, &[x.clone(), covered]).block_on()).unwrap();
        let want = p[0].probabilities[9] - p[1].probabilities[9];
        assert!((drop - want).abs() < 1e-5, "patch {at} at ({r}, {c}): {drop} vs {want}");
    }
    assert!(o.heatmap.iter().any(|&v| v > 0.0), "covering some of the 9 lowers its probability");
}

#[test]
fn bad_requests_name_the_option() {
    let (_, params) = trained();
    let x = test_image(0);
    let err = |cfg: SaliencyConfig, target| {
        with_ctx(LENET5, params, |ctx| saliency(ctx, LENET5, &x, target, &cfg).block_on()).unwrap_err().to_string()
    };
    let ig = SaliencyConfig::new(Method::IntegratedGradients);
    assert!(err(SaliencyConfig { steps: 0, ..ig }, 1).contains("--steps"));
    assert!(err(SaliencyConfig { samples: 0, ..ig }, 1).contains("--samples"));
    assert!(err(SaliencyConfig { noise: f32::NAN, ..ig }, 1).contains("--noise"));
    assert!(err(ig, 10).contains("--target"));
    let occ =
        with_ctx(LENET5, params, |ctx| occlusion(ctx, LENET5, &x, 1, (0, 1), 0.0).block_on()).unwrap_err().to_string();
    assert!(occ.contains("--patch"), "{occ}");
}
