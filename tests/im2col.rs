//! im2col / col2im on the GPU against their CPU twins.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::im2col::Im2col;
use lenet_gpu::reference;
use lenet_gpu::shapes::ConvShape;

/// LeNet's two convolutions at batch 100 and 1, then awkward ones: a 1x1 output, primes,
/// a kernel as large as the input, non-square inputs.
fn cases() -> Vec<ConvShape> {
    let mut cases = lenet5_conv_shapes().to_vec();
    cases.extend([
        ConvShape::new(1, 1, 5, 5, 1, 5),
        ConvShape::new(7, 3, 13, 11, 5, 3),
        ConvShape::new(2, 13, 7, 9, 1, 7),
        ConvShape::new(3, 2, 6, 17, 4, 1),
    ]);
    cases
}

#[test]
fn im2col_forward_matches_reference() {
    let gpu = gpu();
    let k = Im2col::new(gpu).unwrap();
    for (i, s) in cases().into_iter().enumerate() {
        let x = uniform(&mut rng(i as u64), s.x_len() as usize, -1.0, 1.0);
        let mut want = vec![0.0; s.col_len() as usize];
        reference::im2col::im2col_forward(&x, s, &mut want);
        let gx = gpu.storage_from("x", &x);
        let gcol = nan_buffer(gpu, "col", want.len());
        run(gpu, k.im2col_forward(gpu, s, View::whole(&gx), View::whole(&gcol)).unwrap());
        assert_close(&format!("im2col_forward {s:?}"), &read(gpu, &gcol, want.len()), &want, EXACT);
    }
}

#[test]
fn col2im_backward_matches_reference() {
    let gpu = gpu();
    let k = Im2col::new(gpu).unwrap();
    for (i, s) in cases().into_iter().enumerate() {
        let dcol = uniform(&mut rng(50 + i as u64), s.col_len() as usize, -1.0, 1.0);
        let mut want = vec![0.0; s.x_len() as usize];
        reference::im2col::col2im_backward(&dcol, s, &mut want);
        let gdcol = gpu.storage_from("dcol", &dcol);
        let gdx = nan_buffer(gpu, "dx", want.len());
        run(gpu, k.col2im_backward(gpu, s, View::whole(&gdcol), View::whole(&gdx)).unwrap());
        // Up to KH*KW terms summed in a different order.
        let tol = Tol { abs: 1e-6 * (s.kh * s.kw) as f64, rel: 1e-6 };
        assert_close(&format!("col2im_backward {s:?}"), &read(gpu, &gdx, want.len()), &want, tol);
    }
}

#[test]
fn col2im_is_the_adjoint_of_im2col() {
    // <im2col(x), c> == <x, col2im(c)> for the reference: what makes it the right gradient.
    let s = ConvShape::new(2, 3, 9, 8, 4, 3);
    let mut r = rng(99);
    let x: Vec<f64> = uniform(&mut r, s.x_len() as usize, -1.0, 1.0).into_iter().map(f64::from).collect();
    let c: Vec<f64> = uniform(&mut r, s.col_len() as usize, -1.0, 1.0).into_iter().map(f64::from).collect();
    let mut col = vec![0.0; c.len()];
    reference::im2col::im2col_forward(&x, s, &mut col);
    let mut back = vec![0.0; x.len()];
    reference::im2col::col2im_backward(&c, s, &mut back);
    let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
    let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
    assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
}
