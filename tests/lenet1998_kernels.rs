//! LeNet-1998's kernels (squash, trainable subsampling, pad/normalize, RBF loss, index
//! gather, SDLM) on the GPU against their CPU twins, and the twins' gradients against
//! central finite differences in f64.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::conv_direct::ConvInput;
use lenet_gpu::kernels::data::{pack_bytes, Gather, GatherViews};
use lenet_gpu::kernels::elementwise::Elementwise;
use lenet_gpu::kernels::optim::Optim;
use lenet_gpu::kernels::pad::Pad;
use lenet_gpu::kernels::rbf::{Rbf, RbfDx, RbfViews};
use lenet_gpu::kernels::squash::{Squash, SquashFn};
use lenet_gpu::kernels::subsample::Subsample;
use lenet_gpu::kernels::table::{Table, NONE};
use lenet_gpu::kernels::zero_pad::ZeroPad;
use lenet_gpu::reference;
use lenet_gpu::shapes::{BatchParams, GatherParams, PadShape, PoolShape, RbfShape, SdlmParams, ZeroPadShape};
use rand::Rng;

/// tanh/exp in f32 on both sides with different libm: a few ulp.
const TRANSCENDENTAL: Tol = Tol { abs: 1e-6, rel: 1e-5 };
/// Four-term sums and products in f32 against the twin's f32: rounding order only.
const ARITH: Tol = Tol { abs: 1e-6, rel: 1e-6 };

const FUNCTIONS: [SquashFn; 2] = [SquashFn::ScaledTanh, SquashFn::Sigmoid];

#[test]
fn squash_forward_and_backward_match_reference() {
    let gpu = gpu();
    let k = Squash::new(gpu).unwrap();
    for (i, len) in [1usize, 7, 257, 100 * 6 * 28 * 28].into_iter().enumerate() {
        for f in FUNCTIONS {
            let mut r = rng(i as u64);
            let a = uniform(&mut r, len, -4.0, 4.0);
            let g = uniform(&mut r, len, -1.0, 1.0);
            let mut y = vec![0.0; len];
            reference::squash::squash_forward(f, &a, &mut y);
            let (ga, gy) = (gpu.storage_from("a", &a), nan_buffer(gpu, "y", len));
            run(gpu, k.squash_forward(gpu, f, len as u32, View::whole(&ga), View::whole(&gy)).unwrap());
            assert_close(&format!("squash_forward {f:?} len {len}"), &read(gpu, &gy, len), &y, TRANSCENDENTAL);
            for squared in [false, true] {
                let mut want = g.clone();
                reference::squash::squash_backward(f, squared, &y, &mut want);
                let gg = gpu.storage_from("g", &g);
                let gyy = gpu.storage_from("y", &y);
                let d = k.squash_backward(gpu, f, squared, len as u32, View::whole(&gyy), View::whole(&gg)).unwrap();
                run(gpu, d);
                let label = format!("squash_backward {f:?} squared {squared} len {len}");
                assert_close(&label, &read(gpu, &gg, len), &want, TRANSCENDENTAL);
            }
        }
    }
}

#[test]
fn squash_derivative_matches_finite_differences() {
    for f in FUNCTIONS {
        for a in [-3.0f64, -0.7, 0.0, 0.4, 2.5] {
            let h = 1e-6;
            let mut yp = [0.0];
            let mut ym = [0.0];
            reference::squash::squash_forward(f, &[a + h], &mut yp);
            reference::squash::squash_forward(f, &[a - h], &mut ym);
            let numeric = (yp[0] - ym[0]) / (2.0 * h);
            let mut y = [0.0];
            reference::squash::squash_forward(f, &[a], &mut y);
            let mut g = [1.0];
            reference::squash::squash_backward(f, false, &y, &mut g);
            assert!((g[0] - numeric).abs() < 1e-8, "{f:?} at {a}: {} vs {numeric}", g[0]);
        }
    }
    // The paper's choice: f(±1) = ±1 (approximately: 1.7159 tanh(2/3) = 1.00000).
    let mut y = [0.0];
    reference::squash::squash_forward(SquashFn::ScaledTanh, &[1.0f64], &mut y);
    assert!((y[0] - 1.0).abs() < 1e-4, "f(1) = {}", y[0]);
}

fn subsample_cases() -> Vec<PoolShape> {
    vec![
        PoolShape::new(100, 6, 28, 28),  // S2
        PoolShape::new(100, 16, 10, 10), // S4
        PoolShape::new(1, 1, 2, 2),
        PoolShape::new(3, 5, 7, 9), // odd: the last row and column are dropped
        PoolShape::new(2, 3, 5, 4),
    ]
}

#[test]
fn subsample_forward_and_backward_match_reference() {
    let gpu = gpu();
    let k = Subsample::new(gpu).unwrap();
    for (i, s) in subsample_cases().into_iter().enumerate() {
        let mut r = rng(40 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let coef = uniform(&mut r, s.c as usize, -1.0, 1.0);
        let bias = uniform(&mut r, s.c as usize, -1.0, 1.0);
        let da = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let (gx, gc, gb, gda) = (
            gpu.storage_from("x", &x),
            gpu.storage_from("coef", &coef),
            gpu.storage_from("bias", &bias),
            gpu.storage_from("da", &da),
        );
        let mut want = vec![0.0; s.y_len() as usize];
        reference::subsample::subsample_forward(&x, &coef, &bias, s, &mut want);
        let ga = nan_buffer(gpu, "a", want.len());
        let views = [View::whole(&gx), View::whole(&gc), View::whole(&gb), View::whole(&ga)];
        run(gpu, k.subsample_forward(gpu, s, None, views).unwrap());
        assert_close(&format!("subsample_forward {s:?}"), &read(gpu, &ga, want.len()), &want, ARITH);
        // The squash fused in: the composition of the two twins.
        for f in FUNCTIONS {
            let mut squashed = vec![0.0; want.len()];
            reference::squash::squash_forward(f, &want, &mut squashed);
            let ga = nan_buffer(gpu, "a", want.len());
            let views = [View::whole(&gx), View::whole(&gc), View::whole(&gb), View::whole(&ga)];
            run(gpu, k.subsample_forward(gpu, s, Some(f), views).unwrap());
            let label = format!("subsample_forward + {f:?} {s:?}");
            assert_close(&label, &read(gpu, &ga, want.len()), &squashed, TRANSCENDENTAL);
        }

        for squared in [false, true] {
            let mut want_dx = vec![0.0; s.x_len() as usize];
            let mut want_terms = vec![0.0; s.y_len() as usize];
            reference::subsample::subsample_backward(&x, &coef, &da, s, squared, &mut want_dx, &mut want_terms);
            let gdx = nan_buffer(gpu, "dx", want_dx.len());
            let gt = nan_buffer(gpu, "terms", want_terms.len());
            let views = [View::whole(&gx), View::whole(&gc), View::whole(&gda), View::whole(&gdx), View::whole(&gt)];
            run(gpu, k.subsample_backward(gpu, s, (squared, None), views).unwrap());
            let label = format!("subsample_backward {s:?} squared {squared}");
            assert_close(&format!("{label} dx"), &read(gpu, &gdx, want_dx.len()), &want_dx, ARITH);
            assert_close(&format!("{label} terms"), &read(gpu, &gt, want_terms.len()), &want_terms, ARITH);
            // x as the squashed output of the layer before (in f's range): dx also through
            // that squash's backward, the composition of the two twins.
            for f in FUNCTIONS {
                let mut y = vec![0.0; x.len()];
                reference::squash::squash_forward(f, &x, &mut y);
                let mut want_dx = vec![0.0; s.x_len() as usize];
                reference::subsample::subsample_backward(&y, &coef, &da, s, squared, &mut want_dx, &mut want_terms);
                reference::squash::squash_backward(f, squared, &y, &mut want_dx);
                let gy = gpu.storage_from("y", &y);
                let gdx = nan_buffer(gpu, "dx", want_dx.len());
                let views =
                    [View::whole(&gy), View::whole(&gc), View::whole(&gda), View::whole(&gdx), View::whole(&gt)];
                run(gpu, k.subsample_backward(gpu, s, (squared, Some(f)), views).unwrap());
                let label = format!("subsample_backward through {f:?} {s:?} squared {squared}");
                assert_close(&format!("{label} dx"), &read(gpu, &gdx, want_dx.len()), &want_dx, ARITH);
                assert_close(&format!("{label} terms"), &read(gpu, &gt, want_terms.len()), &want_terms, ARITH);
            }
        }
    }
}

#[test]
fn subsample_gradients_match_finite_differences() {
    // L = Σ da · a(x, coef, bias); dL/dx, dL/dcoef (= Σ terms), dL/dbias (= Σ da) in f64.
    let s = PoolShape::new(2, 3, 5, 4);
    let mut r = rng(77);
    let f64s = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
    let x = f64s(uniform(&mut r, s.x_len() as usize, -1.0, 1.0));
    let coef = f64s(uniform(&mut r, s.c as usize, -1.0, 1.0));
    let bias = f64s(uniform(&mut r, s.c as usize, -1.0, 1.0));
    let da = f64s(uniform(&mut r, s.y_len() as usize, -1.0, 1.0));
    let loss = |x: &[f64], coef: &[f64], bias: &[f64]| {
        let mut a = vec![0.0; s.y_len() as usize];
        reference::subsample::subsample_forward(x, coef, bias, s, &mut a);
        a.iter().zip(&da).map(|(a, d)| a * d).sum::<f64>()
    };
    let mut dx = vec![0.0; x.len()];
    let mut terms = vec![0.0; da.len()];
    reference::subsample::subsample_backward(&x, &coef, &da, s, false, &mut dx, &mut terms);
    let h = 1e-6;
    for i in [0, 3, 7, 19, x.len() - 1] {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let numeric = (loss(&xp, &coef, &bias) - loss(&xm, &coef, &bias)) / (2.0 * h);
        assert!((dx[i] - numeric).abs() < 1e-7, "dx[{i}]: {} vs {numeric}", dx[i]);
    }
    let plane = (s.out_h() * s.out_w()) as usize;
    for c in 0..s.c as usize {
        let analytic_coef: f64 =
            (0..s.n as usize).flat_map(|n| terms[(n * s.c as usize + c) * plane..][..plane].iter().copied()).sum();
        let analytic_bias: f64 =
            (0..s.n as usize).flat_map(|n| da[(n * s.c as usize + c) * plane..][..plane].iter().copied()).sum();
        let (mut cp, mut cm) = (coef.clone(), coef.clone());
        cp[c] += h;
        cm[c] -= h;
        let numeric = (loss(&x, &cp, &bias) - loss(&x, &cm, &bias)) / (2.0 * h);
        assert!((analytic_coef - numeric).abs() < 1e-7, "dcoef[{c}]: {analytic_coef} vs {numeric}");
        let (mut bp, mut bm) = (bias.clone(), bias.clone());
        bp[c] += h;
        bm[c] -= h;
        let numeric = (loss(&x, &coef, &bp) - loss(&x, &coef, &bm)) / (2.0 * h);
        assert!((analytic_bias - numeric).abs() < 1e-7, "dbias[{c}]: {analytic_bias} vs {numeric}");
    }
}

#[test]
fn pad_normalize_matches_reference() {
    let gpu = gpu();
    let k = Pad::new(gpu).unwrap();
    for (i, s) in [
        PadShape::new(100, 28, 28, 2, -0.1, 1.175), // LeNet-1998's input
        PadShape::new(1, 1, 1, 3, -1.0, 1.0),
        PadShape::new(3, 5, 7, 0, 0.0, 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = rng(60 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, 0.0, 1.0);
        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let mut want = vec![0.0; s.y_len() as usize];
        reference::pad::pad_normalize_forward(&x, s, &mut want);
        let (gx, gy) = (gpu.storage_from("x", &x), nan_buffer(gpu, "y", want.len()));
        run(gpu, k.pad_normalize_forward(gpu, s, ConvInput::F32(View::whole(&gx)), View::whole(&gy)).unwrap());
        assert_close(&format!("pad_normalize_forward {s:?}"), &read(gpu, &gy, want.len()), &want, ARITH);
        let mut want_dx = vec![0.0; s.x_len() as usize];
        reference::pad::pad_normalize_backward(&dy, s, &mut want_dx);
        let (gdy, gdx) = (gpu.storage_from("dy", &dy), nan_buffer(gpu, "dx", want_dx.len()));
        run(gpu, k.pad_normalize_backward(gpu, s, View::whole(&gdy), View::whole(&gdx)).unwrap());
        assert_close(&format!("pad_normalize_backward {s:?}"), &read(gpu, &gdx, want_dx.len()), &want_dx, ARITH);
    }
}

#[test]
fn pad_normalize_from_bytes_equals_the_pad_of_the_gathered_batch() {
    // The batch read in place from a dataset's packed bytes through a shuffled order from
    // position `first`, against the f32 pad of the same images as gather_batch makes them:
    // the same bits. LeNet-1998's input and a small image with a wider border; NaN-filled.
    let gpu = gpu();
    let (k, gather) = (Pad::new(gpu).unwrap(), Gather::new(gpu).unwrap());
    for (i, (s, samples, first)) in
        [(PadShape::new(100, 28, 28, 2, -0.1, 1.175), 150u32, 7u32), (PadShape::new(3, 4, 8, 3, -1.0, 2.0), 11, 2)]
            .into_iter()
            .enumerate()
    {
        let mut r = rng(70 + i as u64);
        let image_len = s.h * s.w;
        let bytes: Vec<u8> = (0..samples * image_len).map(|_| r.random::<u8>()).collect();
        let mut order: Vec<u32> = (0..samples).collect();
        order.reverse();
        order.rotate_left(i + 3);
        let images = gpu.storage_from("images", &pack_bytes(&bytes));
        let gorder = gpu.storage_from("order", &order);
        let (gx, labels, all_labels) = (
            nan_buffer(gpu, "x", s.x_len() as usize),
            gpu.storage("labels", s.n as usize),
            gpu.storage("all", samples as usize),
        );
        let views = GatherViews {
            images: View::whole(&images),
            all_labels: View::whole(&all_labels),
            order: View::whole(&gorder),
            x: View::whole(&gx),
            labels: View::whole(&labels),
        };
        run(
            gpu,
            gather.gather_batch(gpu, GatherParams { offset: first, batch: s.n, image_len, _pad: 0 }, views).unwrap(),
        );
        let want = nan_buffer(gpu, "want", s.y_len() as usize);
        run(gpu, k.pad_normalize_forward(gpu, s, ConvInput::F32(View::whole(&gx)), View::whole(&want)).unwrap());
        let cursor = gpu.uniform("cursor", &BatchParams::new(s.n, first));
        let x = ConvInput::Bytes {
            images: View::whole(&images),
            order: View::whole(&gorder),
            cursor: View::whole(&cursor),
        };
        let y = nan_buffer(gpu, "y", s.y_len() as usize);
        run(gpu, k.pad_normalize_forward(gpu, s, x, View::whole(&y)).unwrap());
        let want = read(gpu, &want, s.y_len() as usize);
        assert!(want.iter().all(|v| v.is_finite()), "the gathered pad is complete");
        assert_close(&format!("pad_normalize_forward_bytes {s:?}"), &read(gpu, &y, want.len()), &want, EXACT);
    }
    // Rows that are not whole words are refused.
    let s = PadShape::new(1, 3, 6, 1, 0.0, 1.0);
    let (images, order, y) = (gpu.storage("images", 6), gpu.storage("order", 1), gpu.storage("y", s.y_len() as usize));
    let cursor = gpu.uniform("cursor", &BatchParams::new(1, 0));
    let x = ConvInput::Bytes { images: View::whole(&images), order: View::whole(&order), cursor: View::whole(&cursor) };
    let err = k.pad_normalize_forward(gpu, s, x, View::whole(&y)).err().expect("refused");
    assert!(err.to_string().contains("whole u32 words"), "{err}");
}

#[test]
fn zero_pad_and_crop_match_reference() {
    let gpu = gpu();
    let k = ZeroPad::new(gpu).unwrap();
    for (i, s) in [
        ZeroPadShape::new(100 * 6, (14, 14), (14, 16)),  // C3's input, widened
        ZeroPadShape::new(100 * 16, (10, 10), (10, 12)), // C3's output, cropped back
        ZeroPadShape::new(3, (5, 7), (9, 8)),
        ZeroPadShape::new(1, (1, 1), (1, 1)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = rng(70 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let mut want = vec![f32::NAN; s.y_len() as usize];
        reference::zero_pad::zero_pad_forward(&x, s, &mut want);
        let (gx, gy) = (gpu.storage_from("x", &x), nan_buffer(gpu, "y", want.len()));
        run(gpu, k.zero_pad_forward(gpu, s, View::whole(&gx), View::whole(&gy)).unwrap());
        assert_close(&format!("zero_pad_forward {s:?}"), &read(gpu, &gy, want.len()), &want, EXACT);
        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let mut want_dx = vec![f32::NAN; s.x_len() as usize];
        reference::zero_pad::zero_pad_backward(&dy, s, &mut want_dx);
        let (gdy, gdx) = (gpu.storage_from("dy", &dy), nan_buffer(gpu, "dx", want_dx.len()));
        run(gpu, k.zero_pad_backward(gpu, s, View::whole(&gdy), View::whole(&gdx)).unwrap());
        assert_close(&format!("zero_pad_backward {s:?}"), &read(gpu, &gdx, want_dx.len()), &want_dx, EXACT);
        // The crop is the pad's adjoint: <pad(x), dy> = <x, crop(dy)>.
        let lhs: f64 = want.iter().zip(&dy).map(|(a, b)| (a * b) as f64).sum();
        let rhs: f64 = x.iter().zip(&want_dx).map(|(a, b)| (a * b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()), "{s:?}: {lhs} vs {rhs}");
    }
    let shrink = ZeroPadShape { out_w: 1, ..ZeroPadShape::new(1, (2, 2), (2, 2)) };
    let b = gpu.storage("b", 8);
    let Err(err) = k.zero_pad_forward(gpu, shrink, View::whole(&b), View::whole(&b)) else {
        panic!("padding to a narrower plane must be refused")
    };
    assert!(err.to_string().contains("zero_pad_forward"), "{err}");
}

#[test]
fn pad_normalize_maps_background_and_ink_to_the_papers_values() {
    let s = PadShape::new(1, 2, 2, 2, -0.1, 1.175);
    let mut y = vec![0.0f32; s.y_len() as usize];
    reference::pad::pad_normalize_forward(&[0.0, 1.0, 0.5, 0.0], s, &mut y);
    assert_eq!(y.len(), 36);
    assert!((y[0] + 0.1).abs() < 1e-7, "border is background");
    assert!((y[2 * 6 + 3] - 1.175).abs() < 1e-6, "full ink");
    assert!((y[2 * 6 + 2] + 0.1).abs() < 1e-7, "blank pixel");
}

fn rbf_inputs(seed: u64, s: RbfShape) -> (Vec<f32>, Vec<f32>, Vec<u32>) {
    let mut r = rng(seed);
    let x = uniform(&mut r, s.x_len() as usize, -1.5, 1.5);
    let centers: Vec<f32> = (0..s.centers_len()).map(|_| if r.random_bool(0.5) { 1.0 } else { -1.0 }).collect();
    let labels = (0..s.n).map(|_| r.random_range(0..s.classes)).collect();
    (x, centers, labels)
}

#[test]
fn rbf_loss_matches_reference() {
    let gpu = gpu();
    let k = Rbf::new(gpu).unwrap();
    for (i, s) in [
        RbfShape::new(100, 10, 84, 1.0), // LeNet-1998's output
        RbfShape::new(1, 10, 84, 1.0),
        RbfShape::new(7, 3, 5, 0.5),
        RbfShape::new(13, 1, 1, 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        let (x, centers, labels) = rbf_inputs(80 + i as u64, s);
        for dx in [RbfDx::Gradient, RbfDx::Curvature, RbfDx::None] {
            let curvature = dx == RbfDx::Curvature;
            let want = reference::rbf::rbf_loss_forward_backward(&x, &centers, &labels, s, curvature);
            let (gx, gc, gl) =
                (gpu.storage_from("x", &x), gpu.storage_from("centers", &centers), gpu.storage_from("labels", &labels));
            let (gd, gp, gloss, gdx) = (
                nan_buffer(gpu, "dist", s.y_len() as usize),
                nan_buffer(gpu, "probs", s.y_len() as usize),
                nan_buffer(gpu, "loss", s.n as usize),
                nan_buffer(gpu, "dx", s.x_len() as usize),
            );
            let views = RbfViews {
                x: View::whole(&gx),
                centers: View::whole(&gc),
                labels: View::whole(&gl),
                dist: View::whole(&gd),
                probs: View::whole(&gp),
                loss: View::whole(&gloss),
                dx: View::whole(&gdx),
            };
            run(gpu, k.rbf_loss_forward_backward(gpu, s, dx, views).unwrap());
            let label = format!("rbf {s:?} {dx:?}");
            // Sums of 84 squares (up to ~500) in f32: relative 1e-6; exp/log as above.
            let tol = Tol { abs: 2e-6, rel: 2e-5 };
            assert_close(&format!("{label} dist"), &read(gpu, &gd, want.dist.len()), &want.dist, tol);
            assert_close(&format!("{label} probs"), &read(gpu, &gp, want.probs.len()), &want.probs, tol);
            assert_close(&format!("{label} loss"), &read(gpu, &gloss, want.loss.len()), &want.loss, tol);
            let got_dx = read(gpu, &gdx, want.dx.len());
            match dx {
                // Left as it was (NaN).
                RbfDx::None => assert!(got_dx.iter().all(|v| v.is_nan()), "{label}: dx written"),
                _ => assert_close(&format!("{label} dx"), &got_dx, &want.dx, tol),
            }
        }
    }
}

#[test]
fn rbf_loss_gradient_matches_finite_differences() {
    let s = RbfShape::new(3, 4, 6, 1.0);
    let (x, centers, labels) = rbf_inputs(5, s);
    let x: Vec<f64> = x.into_iter().map(f64::from).collect();
    let centers: Vec<f64> = centers.into_iter().map(f64::from).collect();
    let mean_loss = |x: &[f64]| {
        let out = reference::rbf::rbf_loss_forward_backward(x, &centers, &labels, s, false);
        out.loss.iter().sum::<f64>() / s.n as f64
    };
    let analytic = reference::rbf::rbf_loss_forward_backward(&x, &centers, &labels, s, false).dx;
    let h = 1e-6;
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let numeric = (mean_loss(&xp) - mean_loss(&xm)) / (2.0 * h);
        assert!((analytic[i] - numeric).abs() < 1e-7, "dx[{i}]: {} vs {numeric}", analytic[i]);
    }
    // The prediction is the nearest center: softmin's argmax is the smallest distance.
    let out = reference::rbf::rbf_loss_forward_backward(&x, &centers, &labels, s, false);
    for n in 0..s.n as usize {
        let row = |v: &[f64]| v[n * 4..(n + 1) * 4].to_vec();
        let (d, p) = (row(&out.dist), row(&out.probs));
        let argmin = (0..4).min_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap();
        let argmax = (0..4).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(argmin, argmax);
    }
}

#[test]
fn rbf_rejects_bad_shapes() {
    let gpu = gpu();
    let k = Rbf::new(gpu).unwrap();
    let b = gpu.storage("b", 4096);
    let v = View::whole(&b);
    let views = RbfViews { x: v, centers: v, labels: v, dist: v, probs: v, loss: v, dx: v };
    assert!(k.rbf_loss_forward_backward(gpu, RbfShape::new(2, 17, 4, 1.0), RbfDx::Gradient, views).is_err());
    assert!(k.rbf_loss_forward_backward(gpu, RbfShape::new(2, 10, 4, 0.0), RbfDx::Gradient, views).is_err());
}

#[test]
fn gather_indexed_matches_reference() {
    let gpu = gpu();
    let k = Table::new(gpu).unwrap();
    for (i, (src_len, len)) in [(1usize, 1usize), (1500, 2400), (37, 101)].into_iter().enumerate() {
        let mut r = rng(90 + i as u64);
        let src = uniform(&mut r, src_len, -1.0, 1.0);
        let index: Vec<u32> =
            (0..len).map(|_| if r.random_bool(0.3) { NONE } else { r.random_range(0..src_len as u32) }).collect();
        let mut want = vec![0.0; len];
        reference::table::gather_indexed(&src, &index, &mut want);
        let (gs, gi, gd) =
            (gpu.storage_from("src", &src), gpu.storage_from("index", &index), nan_buffer(gpu, "dst", len));
        run(gpu, k.gather_indexed(gpu, View::whole(&gs), View::whole(&gi), View::whole(&gd)).unwrap());
        assert_close(&format!("gather_indexed {src_len} -> {len}"), &read(gpu, &gd, len), &want, EXACT);
    }
}

#[test]
fn square_sdlm_step_and_scale_add_match_reference() {
    let gpu = gpu();
    let (e, o) = (Elementwise::new(gpu).unwrap(), Optim::new(gpu).unwrap());
    for (i, len) in [1usize, 4, 255, 260, 44_426, 44_480].into_iter().enumerate() {
        let mut r = rng(100 + i as u64);
        let (w, g) = (uniform(&mut r, len, -1.0, 1.0), uniform(&mut r, len, -1.0, 1.0));
        let h = uniform(&mut r, len, 0.0, 3.0);

        let mut want = vec![0.0; len];
        reference::elementwise::square(&w, &mut want);
        let (gw, gout) = (gpu.storage_from("w", &w), nan_buffer(gpu, "out", len));
        run(gpu, e.square(gpu, len as u32, View::whole(&gw), View::whole(&gout)).unwrap());
        assert_close(&format!("square len {len}"), &read(gpu, &gout, len), &want, EXACT);

        let p = SdlmParams { len: len as u32, lr: 0.05, mu: 0.02, scale: 0.2 };
        let (gw, gg, gh) = (gpu.storage_from("w", &w), gpu.storage_from("g", &g), gpu.storage_from("h", &h));
        if len % 4 != 0 {
            // The optimizer kernels work on vec4s of the padded parameter buffer.
            let err = o.sdlm_step(gpu, p, View::whole(&gw), View::whole(&gg), View::whole(&gh)).err().unwrap();
            assert!(err.to_string().contains("not a multiple of 4"), "{err}");
            assert!(o.scale_add(gpu, p, View::whole(&gh), View::whole(&gg)).is_err());
            continue;
        }
        let mut want = w.clone();
        reference::optim::sdlm_step(p, &mut want, &g, &h);
        run(gpu, o.sdlm_step(gpu, p, View::whole(&gw), View::whole(&gg), View::whole(&gh)).unwrap());
        assert_close(&format!("sdlm_step len {len}"), &read(gpu, &gw, len), &want, ARITH);

        let mut want = h.clone();
        reference::optim::scale_add(p, &mut want, &g);
        run(gpu, o.scale_add(gpu, p, View::whole(&gh), View::whole(&gg)).unwrap());
        assert_close(&format!("scale_add len {len}"), &read(gpu, &gh, len), &want, ARITH);
    }
}

#[test]
fn pad_normalize_gradient_matches_finite_differences() {
    // L = Σ dy · y(x): dL/dx from the twin's backward against central differences in f64.
    let s = PadShape::new(2, 3, 4, 2, -0.1, 1.175);
    let mut r = rng(61);
    let x: Vec<f64> = uniform(&mut r, s.x_len() as usize, 0.0, 1.0).into_iter().map(f64::from).collect();
    let dy: Vec<f64> = uniform(&mut r, s.y_len() as usize, -1.0, 1.0).into_iter().map(f64::from).collect();
    let loss = |x: &[f64]| {
        let mut y = vec![0.0; s.y_len() as usize];
        reference::pad::pad_normalize_forward(x, s, &mut y);
        y.iter().zip(&dy).map(|(a, b)| a * b).sum::<f64>()
    };
    let mut dx = vec![0.0; x.len()];
    reference::pad::pad_normalize_backward(&dy, s, &mut dx);
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += 1e-6;
        xm[i] -= 1e-6;
        let numeric = (loss(&xp) - loss(&xm)) / 2e-6;
        assert!((dx[i] - numeric).abs() < 1e-7, "dx[{i}]: {} vs {numeric}", dx[i]);
    }
}
