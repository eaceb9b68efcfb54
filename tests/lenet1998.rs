//! LeNet-1998 as a whole: the GPU plan against its CPU twin (loss, scores, every parameter
//! gradient), the twin against f64 central differences, C3's connection table, the RBF
//! bitmaps, and SDLM's second-derivative pass.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::squash::SquashFn;
use lenet_gpu::kernels::table::NONE;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::lenet1998::{self, c3_dense_index, c3_stored_index, C3_INPUTS};
use lenet_gpu::model::params::Init;
use lenet_gpu::model::{Arch, Ctx, InputSource, Mode, NetSpec, ParamLayout};
use lenet_gpu::reference::lenet1998 as cpu;
use pollster::FutureExt;
use rand::Rng;

const BATCH: u32 = 3;

struct Setup {
    layout: ParamLayout,
    params: Vec<f32>,
    x: Vec<f32>,
    labels: Vec<u32>,
}

fn setup(seed: u64) -> Setup {
    let layout = ParamLayout::lenet1998();
    let mut r = rng(seed);
    let mut params = layout.init(Init::Lecun98, &mut r);
    for t in layout.tensors.iter().filter(|t| t.fan_in.is_none()) {
        for b in &mut params[t.range()] {
            *b = r.random_range(-0.1..0.1);
        }
    }
    let x = uniform(&mut r, (BATCH * 784) as usize, 0.0, 1.0);
    let labels = (0..BATCH).map(|_| r.random_range(0..10)).collect();
    Setup { layout, params, x, labels }
}

struct GpuOut {
    grads: Vec<f32>,
    curvature: Vec<f32>,
    loss: Vec<f32>,
    probs: Vec<f32>,
}

fn run_gpu(s: &Setup, f: SquashFn) -> GpuOut {
    run_gpu_with(s, f, &Kernels::new(gpu()).unwrap())
}

fn run_gpu_with(s: &Setup, f: SquashFn, k: &Kernels) -> GpuOut {
    let gpu = gpu();
    let params = gpu.storage_from("params", &s.params);
    // NaN-filled: a gradient element that no kernel writes fails the comparison.
    let grads = gpu.storage_from("grads", &vec![f32::NAN; s.layout.padded_len]);
    let curvature = gpu.storage_from("curvature", &vec![f32::NAN; s.layout.padded_len]);
    let ctx = Ctx { curvature: Some(&curvature), ..Ctx::new(gpu, k, &s.layout, &params).with_grads(&grads) };
    let net = NetSpec { arch: Arch::Lenet1998, squash: f, ..Default::default() };
    let plan = net.plan(&ctx, BATCH, Mode::Train, InputSource::Buffer).unwrap();
    gpu.write(View::whole(plan.x().unwrap()), &s.x);
    gpu.write(View::whole(plan.labels()), &s.labels);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.record_forward(&mut pass);
        plan.record_backward(&mut pass);
        assert!(plan.record_curvature(&mut pass));
    }
    gpu.queue.submit([encoder.finish()]);
    gpu.wait().unwrap();
    GpuOut {
        grads: read(gpu, &grads, s.layout.padded_len),
        curvature: read(gpu, &curvature, s.layout.padded_len),
        loss: read(gpu, plan.loss(), BATCH as usize),
        probs: read(gpu, plan.probs(), (BATCH * 10) as usize),
    }
}

/// An inference plan's (loss, scores): the plan whose convolutions subsample as they
/// convolve and store nothing else, on NaN-filled buffers.
fn run_inference(s: &Setup, f: SquashFn, k: &Kernels) -> (Vec<f32>, Vec<f32>) {
    let gpu = gpu();
    let params = gpu.storage_from("params", &s.params);
    let ctx = Ctx::new(gpu, k, &s.layout, &params);
    let net = NetSpec { arch: Arch::Lenet1998, squash: f, ..Default::default() };
    let plan = net.plan(&ctx, BATCH, Mode::Inference, InputSource::Buffer).unwrap();
    gpu.write(View::whole(plan.x().unwrap()), &s.x);
    gpu.write(View::whole(plan.labels()), &s.labels);
    gpu.write(View::whole(plan.probs()), &vec![f32::NAN; (BATCH * 10) as usize]);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.record_forward(&mut pass);
    }
    gpu.queue.submit([encoder.finish()]);
    gpu.wait().unwrap();
    (read(gpu, plan.loss(), BATCH as usize), read(gpu, plan.probs(), (BATCH * 10) as usize))
}

/// Evaluation and prediction (C1+S2 and C3+S4 each one kernel on the generated tier, the
/// separate kernels on the quick tier) give the CPU model's scores.
#[test]
fn lenet1998_inference_matches_the_cpu_model() {
    for k in [Kernels::new(gpu()).unwrap(), Kernels::quick(gpu()).unwrap()] {
        for (seed, f) in [(3, SquashFn::ScaledTanh), (4, SquashFn::Sigmoid)] {
            let s = setup(seed);
            let (loss, probs) = run_inference(&s, f, &k);
            let fw = cpu::lenet1998_forward(&s.layout, &s.params, &s.x, &s.labels, BATCH, f);
            let tol = Tol { abs: 2e-6, rel: 1e-4 };
            assert_close(&format!("{f:?} loss"), &loss, &fw.loss, tol);
            assert_close(&format!("{f:?} probs"), &probs, &fw.probs, tol);
        }
    }
}

#[test]
fn lenet1998_gpu_matches_the_cpu_model() {
    check_against_the_cpu_model(&Kernels::new(gpu()).unwrap());
}

/// The kernels a cold start trains on (no generated convolution) compute the same network.
#[test]
fn lenet1998_quick_tier_matches_the_cpu_model() {
    check_against_the_cpu_model(&Kernels::quick(gpu()).unwrap());
}

fn check_against_the_cpu_model(k: &Kernels) {
    for (seed, f) in [(1, SquashFn::ScaledTanh), (2, SquashFn::Sigmoid)] {
        let s = setup(seed);
        let g = run_gpu_with(&s, f, k);
        let fw = cpu::lenet1998_forward(&s.layout, &s.params, &s.x, &s.labels, BATCH, f);
        let want = cpu::lenet1998_backward(&s.layout, &s.params, &fw, BATCH, f);
        // Chains of f32 GEMMs and tanh, summed in another order.
        let tol = Tol { abs: 2e-6, rel: 1e-4 };
        assert_close(&format!("{f:?} loss"), &g.loss, &fw.loss, tol);
        assert_close(&format!("{f:?} probs"), &g.probs, &fw.probs, tol);
        for t in &s.layout.tensors {
            assert_close(&format!("{f:?} {}", t.name), &g.grads[t.range()], &want[t.range()], tol);
        }
    }
}

#[test]
fn lenet1998_gradients_match_finite_differences() {
    let s = setup(3);
    let f = SquashFn::ScaledTanh;
    let p64: Vec<f64> = s.params.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = s.x.iter().map(|&v| v as f64).collect();
    let fw = cpu::lenet1998_forward(&s.layout, &p64, &x64, &s.labels, BATCH, f);
    let analytic = cpu::lenet1998_backward(&s.layout, &p64, &fw, BATCH, f);
    let h = 1e-6;
    let mut r = rng(9);
    for t in &s.layout.tensors {
        for _ in 0..4 {
            let i = t.offset + r.random_range(0..t.len());
            let (mut plus, mut minus) = (p64.clone(), p64.clone());
            plus[i] += h;
            minus[i] -= h;
            let numeric = (cpu::lenet1998_loss(&s.layout, &plus, &x64, &s.labels, BATCH, f)
                - cpu::lenet1998_loss(&s.layout, &minus, &x64, &s.labels, BATCH, f))
                / (2.0 * h);
            let err = (analytic[i] - numeric).abs();
            assert!(err < 1e-6 + 1e-5 * numeric.abs(), "{}[{}]: {} vs {numeric}", t.name, i - t.offset, analytic[i]);
        }
    }
}

#[test]
fn sdlm_curvature_is_the_gauss_newton_diagonal() {
    let s = setup(4);
    let f = SquashFn::ScaledTanh;
    let g = run_gpu(&s, f);
    for t in &s.layout.tensors {
        let h = &g.curvature[t.range()];
        assert!(h.iter().all(|v| v.is_finite() && *v >= 0.0), "{}: curvature finite and >= 0", t.name);
    }
    assert!(g.curvature[s.layout.get("c1.weight").range()].iter().any(|&v| v > 0.0));
    // F6's bias: d²E/db² = Σ_n (2/N) f'(a_n)², f' from F6's output y: (S/A)(A² - y²).
    let fw = cpu::lenet1998_forward(&s.layout, &s.params, &s.x, &s.labels, BATCH, f);
    let (a, sl) = (1.7159f64, 2.0f64 / 3.0);
    let want: Vec<f32> = (0..84)
        .map(|u| {
            (0..BATCH as usize)
                .map(|n| {
                    let y = fw.f6[n * 84 + u] as f64;
                    let d = sl / a * (a * a - y * y);
                    2.0 / BATCH as f64 * d * d
                })
                .sum::<f64>() as f32
        })
        .collect();
    assert_close(
        "f6.bias curvature",
        &g.curvature[s.layout.get("f6.bias").range()],
        &want,
        Tol { abs: 1e-6, rel: 1e-4 },
    );
}

/// The Gauss-Newton diagonal of the paper's criterion (E = the label's RBF distance, a
/// sum of squares of F6's outputs: d²E/dF6² = 2) at parameter `i`, by central differences
/// of F6's outputs in f64: (1/N) Σ_n Σ_j 2 (∂F6_nj/∂w_i)².
fn gauss_newton_by_differences(s: &Setup, p64: &[f64], x64: &[f64], i: usize) -> f64 {
    let f = SquashFn::ScaledTanh;
    let h = 1e-6;
    let (mut plus, mut minus) = (p64.to_vec(), p64.to_vec());
    plus[i] += h;
    minus[i] -= h;
    let up = cpu::lenet1998_forward(&s.layout, &plus, x64, &s.labels, BATCH, f).f6;
    let down = cpu::lenet1998_forward(&s.layout, &minus, x64, &s.labels, BATCH, f).f6;
    up.iter().zip(&down).map(|(u, d)| 2.0 * ((u - d) / (2.0 * h)).powi(2)).sum::<f64>() / BATCH as f64
}

#[test]
fn sdlm_curvature_against_finite_differences_of_the_gauss_newton_diagonal() {
    // LeCun et al. 1998 (appendix C) back-propagate second derivatives with squared
    // weights and squared derivatives, dropping off-diagonal terms, and give a shared
    // weight the SUM over its connections. For F6 and C5 (one connection per weight, one
    // path to each F6 output) that is the Gauss-Newton diagonal exactly; for the shared
    // weights of C1-S4 it drops the cross terms between connections, so it is the same
    // size but smaller. A mean over connections instead of the sum would be 1/784 of it
    // for C1 (1/196 for S2, 1/100 for C3) and fail here.
    let s = setup(5);
    let g = run_gpu(&s, SquashFn::ScaledTanh);
    let p64: Vec<f64> = s.params.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = s.x.iter().map(|&v| v as f64).collect();
    let mut r = rng(11);
    for t in &s.layout.tensors {
        let exact_layer = t.name.starts_with("f6") || t.name.starts_with("c5");
        let (mut estimate, mut exact) = (0.0f64, 0.0f64);
        for _ in 0..6 {
            let i = t.offset + r.random_range(0..t.len());
            let (e, x) = (g.curvature[i] as f64, gauss_newton_by_differences(&s, &p64, &x64, i));
            if exact_layer {
                assert!(
                    (e - x).abs() <= 1e-3 * x.abs() + 1e-9,
                    "{}[{}]: SDLM {e:e} vs Gauss-Newton {x:e}",
                    t.name,
                    i - t.offset
                );
            }
            estimate += e;
            exact += x;
        }
        let ratio = estimate / exact;
        eprintln!(
            "{}: SDLM estimate / Gauss-Newton diagonal = {ratio:.3} (mean estimate {:.3e})",
            t.name,
            estimate / 6.0
        );
        // Seen: C1 0.06, S2 0.17-0.31, C3 0.2-0.7, S4 0.9-1.0: the dropped cross terms are
        // mostly positive (neighbouring connections see correlated inputs).
        assert!((0.02..1.5).contains(&ratio), "{}: SDLM's estimate is {ratio:.3}x the Gauss-Newton diagonal", t.name);
    }
}

#[test]
fn c3_has_the_papers_60_connections_and_nothing_else() {
    let layout = ParamLayout::lenet1998();
    let dense = c3_dense_index(&layout);
    let stored = c3_stored_index(&layout);
    assert_eq!(dense.iter().filter(|&&i| i != NONE).count(), 60 * 25);
    let total: usize = C3_INPUTS.iter().map(|inputs| inputs.len()).sum();
    assert_eq!(total, 60);
    for (map, inputs) in C3_INPUTS.iter().enumerate() {
        for input in 0..6u32 {
            let connected = dense[(map * 6 + input as usize) * 25] != NONE;
            assert_eq!(connected, inputs.contains(&input), "C3 map {map} <- S2 map {input}");
        }
    }
    // The two tables are inverse maps: every stored weight has exactly one dense place.
    for (d, &st) in dense.iter().enumerate() {
        if st != NONE {
            assert_eq!(stored[st as usize], d as u32);
        }
    }
    assert_eq!(stored.iter().filter(|&&i| i != NONE).count(), 1500);
    // The paper's pattern: maps 0-5 read 3 contiguous maps, 6-11 four, 12-14 four with a
    // gap, 15 all six.
    assert!(C3_INPUTS[..6].iter().all(|i| i.len() == 3));
    assert!(C3_INPUTS[6..15].iter().all(|i| i.len() == 4));
    assert_eq!(C3_INPUTS[15].len(), 6);
}

#[test]
fn rbf_bitmaps_are_ten_distinct_7x12_digits() {
    let b = lenet1998::rbf_bitmaps();
    for i in 0..10 {
        let ink = b[i].iter().filter(|&&p| p).count();
        assert!((8..60).contains(&ink), "digit {i} has {ink} ink pixels");
        for j in 0..i {
            let differ = b[i].iter().zip(&b[j]).filter(|(a, b)| a != b).count();
            assert!(differ >= 8, "digits {i} and {j} differ in only {differ} pixels");
        }
    }
    let centers = lenet1998::rbf_centers(SquashFn::ScaledTanh);
    assert_eq!(centers.len(), 840);
    assert!(centers.iter().all(|c| (c.abs() - 1.0).abs() < 1e-4), "scaled tanh targets are ±1");
    let err = lenet1998::parse_bitmaps("digit 0\n...\n").unwrap_err();
    assert!(err.contains("digit 0, row 0"), "{err}");
    assert!(lenet1998::parse_bitmaps("").unwrap_err().contains("digit 0 is missing"));
}

#[test]
fn feature_maps_are_the_cpu_models_activations_and_render() {
    let s = setup(5);
    let f = SquashFn::ScaledTanh;
    let gpu = gpu();
    let k = Kernels::new(gpu).unwrap();
    let image = &s.x[..784];
    let params = gpu.storage_from("params", &s.params);
    let net = NetSpec { arch: Arch::Lenet1998, squash: f, ..Default::default() };
    let fm =
        lenet_gpu::viz::features::feature_maps(&Ctx::new(gpu, &k, &s.layout, &params), net, image).block_on().unwrap();
    let want = cpu::lenet1998_forward(&s.layout, &s.params, image, &[0], 1, f);
    let tol = Tol { abs: 2e-6, rel: 1e-4 };
    for (name, got, cpu) in [
        ("input", &fm["input"], &want.input),
        ("c1", &fm["c1"], &want.c1),
        ("s2", &fm["s2"], &want.s2),
        ("c3", &fm["c3"], &want.c3),
        ("s4", &fm["s4"], &want.s4),
        ("c5", &fm["c5"], &want.c5),
        ("f6", &fm["f6"], &want.f6),
        ("dist", &fm["dist"], &want.dist),
        ("probs", &fm["probs"], &want.probs),
    ] {
        assert_close(name, got, cpu, tol);
    }
    let dir = tempfile::tempdir().unwrap();
    let written =
        lenet_gpu::viz::features::render_features(&fm, lenet_gpu::viz::render::Colormap::Viridis, "test", dir.path())
            .unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for n in ["input.png", "c1.png", "s2.png", "c3.png", "s4.png", "c5.png", "f6.png", "output.png", "overview.png"] {
        assert!(names.contains(&n.to_string()), "{n} missing: {names:?}");
    }
}

#[test]
fn gradient_ascent_works_for_the_1998_network() {
    use lenet_gpu::data::{Dataset, Split};
    use lenet_gpu::train::{Recipe, Trainer};
    use lenet_gpu::viz::ascent::{gradient_ascent, AscentConfig, AscentTarget};
    use lenet_gpu::viz::weights::ConvLayer;
    // A briefly trained model: 2,000 images, 1 epoch of the paper's recipe.
    let train = Dataset::bundled(Split::Train).unwrap().take(2000);
    let mut t = Trainer::new(gpu(), Recipe { epochs: 1, ..Recipe::lenet1998() }, &train).unwrap();
    t.train_epoch(&mut |_| {}).block_on().unwrap();
    let params = t.read_params().block_on().unwrap();
    let (net, layout) = (Recipe::lenet1998().net(), ParamLayout::lenet1998());
    let k = Kernels::new(gpu()).unwrap();
    let cfg = AscentConfig { steps: 120, ..AscentConfig::regularized() };
    for (target, n) in [
        (AscentTarget::Filters(ConvLayer::Conv1), 6),
        (AscentTarget::Filters(ConvLayer::Conv2), 16),
        (AscentTarget::Classes(lenet_gpu::kernels::objective::ClassObjective::Logit), 10),
    ] {
        let r = gradient_ascent(gpu(), &k, (net, &layout, &params), target, &cfg, &mut |_, _| {}).block_on().unwrap();
        assert_eq!(r.len(), n);
        // A channel whose mean starts saturated at ±1.7159 (the scaled tanh's bound) has no
        // gradient left; every other objective must rise.
        let saturated = |v: f32| v.abs() > 1.7159 - 1e-3;
        let ok = (0..n).filter(|&i| r.objective[i] > r.initial[i] || saturated(r.initial[i])).count();
        assert_eq!(ok, n, "{target:?}: every objective rises: {:?} -> {:?}", r.initial, r.objective);
        if let AscentTarget::Classes(_) = target {
            let own = r.predicted.iter().enumerate().filter(|(i, (c, _))| i == c).count();
            assert!(own >= 8, "class images are classified as their class: {:?}", r.predicted);
        }
    }
}
