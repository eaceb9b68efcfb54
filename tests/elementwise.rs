//! Channel sums (bias gradients) and the optimizer steps against their CPU twins.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::{optim::Optim, reduce::Reduce};
use lenet_gpu::reference;
use lenet_gpu::shapes::{AdamParams, ReduceShape, SgdParams};

#[test]
fn sum_reduce_matches_reference() {
    let gpu = gpu();
    let k = Reduce::new(gpu).unwrap();
    let cases = [
        ReduceShape::new(100, 6, 576),  // conv1 bias gradient
        ReduceShape::new(100, 16, 64),  // conv2 bias gradient
        ReduceShape::new(100, 2400, 1), // conv2 weight gradient, summed over images
        ReduceShape::new(100, 120, 1),  // fc1 bias gradient
        ReduceShape::new(1, 1, 1),
        ReduceShape::new(7, 13, 3),
        ReduceShape::new(7, 63, 3),
        ReduceShape::new(29, 63, 9), // the last shape that sum_reduce takes
        ReduceShape::new(3, 64, 5),  // the first that sum_reduce_serial takes for its width
        ReduceShape::new(5, 257, 1),
        ReduceShape::new(25, 2400, 1), // conv2 weight-gradient partials (sum_reduce_rows4)
        ReduceShape::new(100, 10, 1),  // fc3 bias gradient (sum_reduce_serial: few terms)
        ReduceShape::new(1, 4, 1),
        ReduceShape::new(3, 68, 1),
        ReduceShape::new(7, 4 * 601, 1), // a prime count of quads
        ReduceShape::new(1, 70_000, 1),  // more channels than one grid row holds
    ];
    for (i, s) in cases.into_iter().enumerate() {
        let x = uniform(&mut rng(i as u64), s.x_len() as usize, -1.0, 1.0);
        let mut want = vec![0.0; s.channels as usize];
        reference::reduce::sum_reduce(&x, s, &mut want);
        let gx = gpu.storage_from("x", &x);
        let gy = nan_buffer(gpu, "y", want.len());
        run(gpu, k.sum_reduce(gpu, s, View::whole(&gx), View::whole(&gy)).unwrap());
        // f32 partial sums in a tree vs the reference's f64: error grows with the count.
        let terms = (s.outer * s.inner) as f64;
        let tol = Tol { abs: 1e-7 * terms.max(8.0), rel: 1e-6 };
        assert_close(&format!("sum_reduce {s:?}"), &read(gpu, &gy, want.len()), &want, tol);
        let staged = nan_buffer(gpu, "y", want.len());
        for d in k.sum_reduce_staged(gpu, s, View::whole(&gx), View::whole(&staged)).unwrap() {
            run(gpu, d);
        }
        assert_close(&format!("sum_reduce_staged {s:?}"), &read(gpu, &staged, want.len()), &want, tol);
    }
}

#[test]
fn sum_reduce_pair_gives_the_bits_of_two_sums() {
    // A convolution's weight- and bias-gradient partials: conv2's (25 partials of 2,400 and
    // 16: vec4s), conv1's (150 and 6), and odd counts either side of a workgroup.
    let gpu = gpu();
    let k = Reduce::new(gpu).unwrap();
    for (i, (outer, a, b)) in
        [(25, 2400, 16), (25, 150, 6), (1, 1, 1), (3, 63, 2), (7, 4, 64 * 4 + 4), (2, 65, 0)].into_iter().enumerate()
    {
        let mut r = rng(900 + i as u64);
        let (xa, xb) =
            (uniform(&mut r, (outer * a) as usize, -1.0, 1.0), uniform(&mut r, (outer * b) as usize, -1.0, 1.0));
        let (gxa, gxb) = (gpu.storage_from("x_a", &xa), gpu.storage_from("x_b", &xb));
        let (gya, gyb) = (nan_buffer(gpu, "y_a", a as usize), nan_buffer(gpu, "y_b", b.max(1) as usize));
        let s = lenet_gpu::shapes::ReducePairShape::new(outer, a, b);
        let (a_views, b_views) = ([View::whole(&gxa), View::whole(&gya)], [View::whole(&gxb), View::whole(&gyb)]);
        run(gpu, k.sum_reduce_pair(gpu, s, a_views, b_views).unwrap());
        for (name, x, y, channels) in [("a", &gxa, &gya, a), ("b", &gxb, &gyb, b)] {
            if channels == 0 {
                continue;
            }
            let single = nan_buffer(gpu, "single", channels as usize);
            let shape = ReduceShape::new(outer, channels, 1);
            run(gpu, k.sum_reduce(gpu, shape, View::whole(x), View::whole(&single)).unwrap());
            let (got, want) = (read(gpu, y, channels as usize), read(gpu, &single, channels as usize));
            assert_close(&format!("sum_reduce_pair {name} ({outer}, {a}, {b})"), &got, &want, EXACT);
        }
    }
}

#[test]
fn sgd_step_matches_reference() {
    let gpu = gpu();
    let k = Optim::new(gpu).unwrap();
    for (i, (len, momentum, wd)) in
        [(44_480, 0.0, 0.0), (44_480, 0.9, 5e-4), (4, 0.5, 0.1), (4 * 67, 0.9, 0.0)].into_iter().enumerate()
    {
        let mut r = rng(i as u64);
        let p = SgdParams { len, lr: 0.01, momentum, weight_decay: wd };
        let w = uniform(&mut r, len as usize, -1.0, 1.0);
        let g = uniform(&mut r, len as usize, -1.0, 1.0);
        let v = uniform(&mut r, len as usize, -1.0, 1.0);
        let (mut want_w, mut want_v) = (w.clone(), v.clone());
        // Two steps, so the velocity carried between steps is checked too.
        reference::optim::sgd_step(p, &mut want_w, &g, &mut want_v);
        reference::optim::sgd_step(p, &mut want_w, &g, &mut want_v);
        let (gw, gg, gv) = (gpu.storage_from("w", &w), gpu.storage_from("g", &g), gpu.storage_from("v", &v));
        let d = k.sgd_step(gpu, p, View::whole(&gw), View::whole(&gg), View::whole(&gv)).unwrap();
        gpu.run(&[&d, &d]).unwrap();
        // Same formula, same order; only FMA contraction may differ.
        let tol = Tol { abs: 1e-7, rel: 1e-6 };
        assert_close("sgd_step params", &read(gpu, &gw, len as usize), &want_w, tol);
        assert_close("sgd_step velocity", &read(gpu, &gv, len as usize), &want_v, tol);
    }
}

#[test]
fn adam_step_matches_reference() {
    let gpu = gpu();
    let k = Optim::new(gpu).unwrap();
    for (i, (len, wd)) in [(44_480u32, 0.0), (4, 1e-2), (4 * 67, 5e-4)].into_iter().enumerate() {
        let mut r = rng(10 + i as u64);
        let w = uniform(&mut r, len as usize, -1.0, 1.0);
        let g = uniform(&mut r, len as usize, -1.0, 1.0);
        let m = uniform(&mut r, len as usize, -0.1, 0.1);
        let v = uniform(&mut r, len as usize, 0.0, 0.01);
        let (mut want_w, mut want_m, mut want_v) = (w.clone(), m.clone(), v.clone());
        let p = AdamParams {
            len,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: wd,
            bias_correction1: 1.0 - 0.9f32.powi(3),
            bias_correction2: 1.0 - 0.999f32.powi(3),
        };
        reference::optim::adam_step(p, &mut want_w, &g, &mut want_m, &mut want_v);
        let bufs = [("w", &w), ("g", &g), ("m", &m), ("v", &v)].map(|(name, x)| gpu.storage_from(name, x));
        let [gw, gg, gm, gv] = &bufs;
        run(gpu, k.adam_step(gpu, p, View::whole(gw), View::whole(gg), View::whole(gm), View::whole(gv)).unwrap());
        let tol = Tol { abs: 1e-7, rel: 1e-5 };
        assert_close("adam_step params", &read(gpu, gw, len as usize), &want_w, tol);
        assert_close("adam_step m", &read(gpu, gm, len as usize), &want_m, tol);
        assert_close("adam_step v", &read(gpu, gv, len as usize), &want_v, tol);
    }
}

#[test]
fn optimizer_steps_reject_a_length_not_a_multiple_of_4() {
    let gpu = gpu();
    let k = Optim::new(gpu).unwrap();
    let b = gpu.storage("b", 8);
    let p = SgdParams { len: 7, lr: 0.01, momentum: 0.0, weight_decay: 0.0 };
    let err = k.sgd_step(gpu, p, View::whole(&b), View::whole(&b), View::whole(&b)).err().unwrap();
    assert!(err.to_string().contains("not a multiple of 4"), "{err}");
}
