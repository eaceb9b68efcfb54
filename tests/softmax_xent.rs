//! Softmax + cross-entropy (fused with its gradient) and the metrics counter.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::metrics::{MetricSums, Metrics, METRICS_LEN};
use lenet_gpu::kernels::softmax_xent::{SoftmaxXent, XentViews};
use lenet_gpu::reference;
use lenet_gpu::shapes::XentShape;
use rand::Rng;

/// exp/log in f32 on both sides, different libm: relative 1e-5 (measured ~1e-6 on
/// lavapipe). GPUs evaluate exp as exp2(x * log2 e) with the product rounded to f32, so the
/// result's relative error also grows with |x| <= 2 * scale (~6e-8 * 2.9 |x|); and a small
/// loss is log(sum) + max - logit, terms of size ~scale that cancel, so its absolute error
/// is a few ulp of `scale` (measured on an H200: 3.8e-6 at scale 60).
fn xent_tol(scale: f32) -> Tol {
    Tol { abs: 1e-6 + 2e-7 * scale as f64, rel: 1e-5 + 4e-7 * scale as f64 }
}

struct Batch {
    logits: Vec<f32>,
    labels: Vec<u32>,
}

fn batch(seed: u64, s: XentShape, scale: f32) -> Batch {
    let mut r = rng(seed);
    Batch {
        logits: uniform(&mut r, s.logits_len() as usize, -scale, scale),
        labels: (0..s.n).map(|_| r.random_range(0..s.classes)).collect(),
    }
}

#[test]
fn softmax_xent_forward_backward_matches_reference() {
    let gpu = gpu();
    let k = SoftmaxXent::new(gpu).unwrap();
    // LeNet's batch, a single sample, primes, 2 classes; scale 60 checks the max-shift.
    for (i, (s, scale)) in [
        (XentShape::new(100, 10), 5.0),
        (XentShape::new(1, 10), 5.0),
        (XentShape::new(13, 7), 5.0),
        (XentShape::new(1000, 10), 60.0),
        (XentShape::new(3, 2), 1.0),
    ]
    .into_iter()
    .enumerate()
    {
        let b = batch(i as u64, s, scale);
        let len = s.logits_len() as usize;
        let (mut probs, mut dlogits, mut loss) = (vec![0.0; len], vec![0.0; len], vec![0.0; s.n as usize]);
        reference::softmax_xent::softmax_xent_forward_backward(
            &b.logits,
            &b.labels,
            s,
            &mut probs,
            &mut dlogits,
            &mut loss,
        );
        let gl = gpu.storage_from("logits", &b.logits);
        let glab = gpu.storage_from("labels", &b.labels);
        let (gp, gd, gloss) =
            (nan_buffer(gpu, "p", len), nan_buffer(gpu, "d", len), nan_buffer(gpu, "l", s.n as usize));
        let views = XentViews {
            logits: View::whole(&gl),
            labels: View::whole(&glab),
            probs: View::whole(&gp),
            dlogits: View::whole(&gd),
            loss: View::whole(&gloss),
        };
        run(gpu, k.softmax_xent_forward_backward(gpu, s, views).unwrap());
        let label = format!("softmax_xent {s:?} scale {scale}");
        let tol = xent_tol(scale);
        assert_close(&format!("{label} probs"), &read(gpu, &gp, len), &probs, tol);
        assert_close(&format!("{label} dlogits"), &read(gpu, &gd, len), &dlogits, tol);
        assert_close(&format!("{label} loss"), &read(gpu, &gloss, s.n as usize), &loss, tol);
    }
}

#[test]
fn softmax_xent_gradient_matches_finite_differences() {
    // The reference's dlogits against central differences of its own mean loss, in f64.
    let s = XentShape::new(4, 5);
    let b = batch(7, s, 3.0);
    let logits: Vec<f64> = b.logits.iter().map(|&v| v as f64).collect();
    let len = logits.len();
    let (mut p, mut d, mut l) = (vec![0.0; len], vec![0.0; len], vec![0.0; 4]);
    reference::softmax_xent::softmax_xent_forward_backward(&logits, &b.labels, s, &mut p, &mut d, &mut l);
    let eps = 1e-6;
    for i in 0..len {
        let mut plus = logits.clone();
        plus[i] += eps;
        let mut minus = logits.clone();
        minus[i] -= eps;
        let fd = (reference::softmax_xent::mean_xent(&plus, &b.labels, 5)
            - reference::softmax_xent::mean_xent(&minus, &b.labels, 5))
            / (2.0 * eps);
        assert!((fd - d[i]).abs() < 1e-8, "dlogits[{i}]: analytic {} vs finite difference {fd}", d[i]);
    }
}

#[test]
fn metrics_accumulate_counts_loss_and_correct() {
    let gpu = gpu();
    let k = Metrics::new(gpu).unwrap();
    let s = XentShape::new(1000, 10);
    let b = batch(3, s, 2.0);
    let loss = uniform(&mut rng(4), s.n as usize, 0.0, 3.0);
    let mut want = MetricSums::default();
    // Two batches into one counter: the counter accumulates.
    reference::metrics::metrics_accumulate(&b.logits, &b.labels, &loss, &mut want);
    reference::metrics::metrics_accumulate(&b.logits, &b.labels, &loss, &mut want);
    let (gp, glab, gloss) =
        (gpu.storage_from("p", &b.logits), gpu.storage_from("labels", &b.labels), gpu.storage_from("loss", &loss));
    let gm = gpu.storage("metrics", METRICS_LEN);
    let d = k
        .metrics_accumulate(gpu, s, View::whole(&gp), View::whole(&glab), View::whole(&gloss), View::whole(&gm))
        .unwrap();
    gpu.run(&[&d, &d]).unwrap();
    let got = MetricSums::from_words(&read_u32(gpu, &gm, METRICS_LEN));
    assert_eq!(got.correct, want.correct);
    assert_eq!(got.samples, 2000);
    assert!(want.correct > 50 && want.correct < 400, "random logits: about 10% right, got {}", want.correct);
    assert_close("metrics loss sum", &[got.loss_sum], &[want.loss_sum], Tol { abs: 1e-3, rel: 1e-5 });
}
