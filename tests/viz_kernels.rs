//! The gradient-ascent kernels (objectives, input step, blur, jitter) against their twins,
//! and the objectives' gradients against finite differences.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::ascent::Ascent;
use lenet_gpu::kernels::objective::{ClassObjective, ClassObjectiveViews, Objective};
use lenet_gpu::reference;
use lenet_gpu::shapes::{AscentParams, ChannelShape, ImageShape, TvParams, XentShape};
use rand::Rng;

fn softmax(logits: &[f32], classes: usize) -> Vec<f32> {
    logits
        .chunks(classes)
        .flat_map(|row| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect()
}

#[test]
fn class_objective_backward_matches_reference() {
    let gpu = gpu();
    let k = Objective::new(gpu).unwrap();
    for (i, s) in [XentShape::new(10, 10), XentShape::new(1, 10), XentShape::new(7, 3)].into_iter().enumerate() {
        for mode in [ClassObjective::Logit, ClassObjective::Softmax] {
            let mut r = rng(i as u64);
            let logits = uniform(&mut r, s.logits_len() as usize, -3.0, 3.0);
            let probs = softmax(&logits, s.classes as usize);
            let targets: Vec<u32> = (0..s.n).map(|_| r.random_range(0..s.classes)).collect();
            let (mut want_d, mut want_o) = (vec![0.0; logits.len()], vec![0.0; s.n as usize]);
            reference::objective::class_objective_backward(
                mode,
                s,
                &logits,
                &probs,
                &targets,
                &mut want_d,
                &mut want_o,
            );
            let (gl, gp, gt) =
                (gpu.storage_from("l", &logits), gpu.storage_from("p", &probs), gpu.storage_from("t", &targets));
            let (gd, go) = (nan_buffer(gpu, "d", logits.len()), nan_buffer(gpu, "o", s.n as usize));
            let views = ClassObjectiveViews {
                logits: View::whole(&gl),
                probs: View::whole(&gp),
                targets: View::whole(&gt),
                dlogits: View::whole(&gd),
                objective: View::whole(&go),
            };
            run(gpu, k.class_objective_backward(gpu, mode, s, views).unwrap());
            let tol = Tol { abs: 1e-7, rel: 1e-6 };
            assert_close(&format!("{mode:?} dlogits {s:?}"), &read(gpu, &gd, logits.len()), &want_d, tol);
            assert_close(&format!("{mode:?} objective {s:?}"), &read(gpu, &go, s.n as usize), &want_o, tol);
        }
    }
}

#[test]
fn softmax_objective_gradient_matches_finite_differences() {
    let s = XentShape::new(1, 4);
    let logits = [0.3f32, -1.0, 2.0, 0.5];
    let (mut d, mut o) = (vec![0.0; 4], vec![0.0; 1]);
    reference::objective::class_objective_backward(
        ClassObjective::Softmax,
        s,
        &logits,
        &softmax(&logits, 4),
        &[1],
        &mut d,
        &mut o,
    );
    let p1 = |l: &[f32]| softmax(l, 4)[1] as f64;
    for j in 0..4 {
        let (mut plus, mut minus) = (logits, logits);
        plus[j] += 1e-3;
        minus[j] -= 1e-3;
        let fd = (p1(&plus) - p1(&minus)) / 2e-3;
        assert!((fd - d[j] as f64).abs() < 1e-4, "d p1 / d logit {j}: {} vs {fd}", d[j]);
    }
}

#[test]
fn channel_objective_backward_matches_reference() {
    let gpu = gpu();
    let k = Objective::new(gpu).unwrap();
    for (i, s) in [
        ChannelShape { n: 6, c: 6, hw: 576, _pad: 0 },
        ChannelShape { n: 16, c: 16, hw: 64, _pad: 0 },
        ChannelShape { n: 1, c: 3, hw: 7, _pad: 0 },
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = rng(10 + i as u64);
        let len = (s.n * s.c * s.hw) as usize;
        let y = uniform(&mut r, len, 0.0, 1.0);
        let targets: Vec<u32> = (0..s.n).map(|n| n % s.c).collect();
        let (mut want_d, mut want_o) = (vec![0.0; len], vec![0.0; s.n as usize]);
        reference::objective::channel_objective_backward(s, &y, &targets, &mut want_d, &mut want_o);
        let (gy, gt) = (gpu.storage_from("y", &y), gpu.storage_from("t", &targets));
        let (gd, go) = (nan_buffer(gpu, "d", len), nan_buffer(gpu, "o", s.n as usize));
        run(
            gpu,
            k.channel_objective_backward(
                gpu,
                s,
                View::whole(&gy),
                View::whole(&gt),
                View::whole(&gd),
                View::whole(&go),
            )
            .unwrap(),
        );
        assert_close(&format!("channel dy {s:?}"), &read(gpu, &gd, len), &want_d, EXACT);
        assert_close(
            &format!("channel objective {s:?}"),
            &read(gpu, &go, s.n as usize),
            &want_o,
            Tol { abs: 1e-6, rel: 1e-5 },
        );
    }
}

#[test]
fn ascent_step_matches_reference() {
    let gpu = gpu();
    let k = Ascent::new(gpu).unwrap();
    for (i, (n, len, lo, hi)) in
        [(10u32, 784u32, 0.0f32, 1.0f32), (1, 7, f32::MIN, f32::MAX), (16, 784, -1.0, 2.0)].into_iter().enumerate()
    {
        let mut r = rng(20 + i as u64);
        let p = AscentParams { n, len, lr: 0.05, l2: 0.01, lo, hi, _pad: [0; 2] };
        let x = uniform(&mut r, (n * len) as usize, 0.0, 1.0);
        let g = uniform(&mut r, (n * len) as usize, -1e-3, 1e-3);
        let mut want = x.clone();
        reference::ascent::ascent_step(p, &mut want, &g);
        let (gx, gg) = (gpu.storage_from("x", &x), gpu.storage_from("g", &g));
        run(gpu, k.ascent_step(gpu, p, View::whole(&gx), View::whole(&gg)).unwrap());
        assert_close(
            &format!("ascent_step n {n} len {len}"),
            &read(gpu, &gx, want.len()),
            &want,
            Tol { abs: 1e-6, rel: 1e-5 },
        );
    }
}

#[test]
fn blur_and_roll_match_reference() {
    let gpu = gpu();
    let k = Ascent::new(gpu).unwrap();
    for (i, (s, dy, dx)) in
        [(ImageShape::new(10, 28, 28), 1, -2), (ImageShape::new(1, 5, 3), -7, 4), (ImageShape::new(3, 1, 1), 0, 0)]
            .into_iter()
            .enumerate()
    {
        let src = uniform(&mut rng(30 + i as u64), s.len() as usize, 0.0, 1.0);
        let gsrc = gpu.storage_from("src", &src);
        let mut want = vec![0.0; src.len()];
        reference::ascent::blur3x3(s, &src, &mut want);
        let gdst = nan_buffer(gpu, "dst", src.len());
        run(gpu, k.blur3x3(gpu, s, View::whole(&gsrc), View::whole(&gdst)).unwrap());
        assert_close(&format!("blur3x3 {s:?}"), &read(gpu, &gdst, src.len()), &want, Tol { abs: 1e-6, rel: 1e-6 });

        let rolled = ImageShape { shift_y: dy, shift_x: dx, ..s };
        reference::ascent::roll2d(rolled, &src, &mut want);
        let gdst = nan_buffer(gpu, "dst", src.len());
        run(gpu, k.roll2d(gpu, rolled, View::whole(&gsrc), View::whole(&gdst)).unwrap());
        assert_close(&format!("roll2d {rolled:?}"), &read(gpu, &gdst, src.len()), &want, EXACT);
        // Rolling back restores the image.
        let mut back = vec![0.0; src.len()];
        reference::ascent::roll2d(ImageShape { shift_y: -dy, shift_x: -dx, ..s }, &want, &mut back);
        assert_eq!(back, src);
    }
}

#[test]
fn tv_gradient_matches_reference_and_finite_differences() {
    let gpu = gpu();
    let k = Ascent::new(gpu).unwrap();
    for (i, (n, h, w)) in [(10u32, 28u32, 28u32), (1, 5, 3), (3, 1, 7), (2, 1, 1)].into_iter().enumerate() {
        let p = TvParams { n, h, w, coef: -0.3 };
        let mut r = rng(40 + i as u64);
        let x = uniform(&mut r, p.len() as usize, 0.0, 1.0);
        let g = uniform(&mut r, p.len() as usize, -1.0, 1.0);
        let mut want = g.clone();
        reference::ascent::tv_gradient(p, &x, &mut want);
        let (gx, gg) = (gpu.storage_from("x", &x), gpu.storage_from("g", &g));
        run(gpu, k.tv_gradient(gpu, p, View::whole(&gx), View::whole(&gg)).unwrap());
        assert_close(&format!("tv_gradient {p:?}"), &read(gpu, &gg, want.len()), &want, Tol { abs: 1e-6, rel: 1e-5 });
        // The twin is TV's gradient: central differences of the total variation.
        let mut d = vec![0.0; x.len()];
        reference::ascent::tv_gradient(TvParams { coef: 1.0, ..p }, &x, &mut d);
        for j in (0..x.len()).step_by(37) {
            let eps = 1e-2f32;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[j] += eps;
            down[j] -= eps;
            let image = j / (h * w) as usize;
            let tv = |v: &[f32]| reference::ascent::total_variation(p, v)[image];
            let fd = (tv(&up) - tv(&down)) / (2.0 * eps as f64);
            assert!((d[j] as f64 - fd).abs() < 1e-3, "{p:?} pixel {j}: {} vs {fd}", d[j]);
        }
    }
}
