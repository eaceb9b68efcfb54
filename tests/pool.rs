//! 2x2 max-pooling on the GPU against its CPU twin.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::pool::MaxPool2x2;
use lenet_gpu::reference;
use lenet_gpu::shapes::PoolShape;

fn cases() -> Vec<PoolShape> {
    vec![
        PoolShape::new(100, 6, 24, 24),
        PoolShape::new(100, 16, 8, 8),
        PoolShape::new(1, 6, 24, 24),
        PoolShape::new(1, 1, 2, 2),
        PoolShape::new(1, 1, 2, 4),   // the smallest that the backward routes in pairs
        PoolShape::new(3, 5, 6, 20),  // in pairs, 5 a row of windows
        PoolShape::new(2, 3, 4, 6),   // even sizes, but a pair would straddle two rows
        PoolShape::new(3, 7, 13, 11), // odd sizes: the last row/column is dropped
        PoolShape::new(2, 5, 3, 2),
        PoolShape::new(2, 3, 5, 7), // both odd: the dropped corner too
    ]
}

#[test]
fn maxpool2x2_forward_matches_reference() {
    let gpu = gpu();
    let k = MaxPool2x2::new(gpu).unwrap();
    for (i, s) in cases().into_iter().enumerate() {
        let x = distinct(&mut rng(i as u64), s.x_len() as usize);
        let mut want = vec![0.0; s.y_len() as usize];
        let mut want_arg = vec![0u32; s.y_len() as usize];
        reference::pool::maxpool2x2_forward(&x, s, &mut want, &mut want_arg);
        let gx = gpu.storage_from("x", &x);
        let gy = nan_buffer(gpu, "y", want.len());
        let garg = gpu.storage_from("argmax", &vec![u32::MAX; want.len()]);
        run(gpu, k.maxpool2x2_forward(gpu, s, View::whole(&gx), View::whole(&gy), View::whole(&garg)).unwrap());
        assert_close(&format!("maxpool2x2_forward {s:?}"), &read(gpu, &gy, want.len()), &want, EXACT);
        assert_eq!(read_u32(gpu, &garg, want.len()), want_arg, "argmax {s:?}");
    }
}

#[test]
fn maxpool2x2_ties_go_to_the_first_element() {
    let gpu = gpu();
    let k = MaxPool2x2::new(gpu).unwrap();
    let s = PoolShape::new(1, 1, 2, 4);
    let x = [1.0f32, 1.0, 0.0, 2.0, 1.0, 1.0, 2.0, 2.0];
    let gx = gpu.storage_from("x", &x);
    let gy = nan_buffer(gpu, "y", 2);
    let garg = gpu.storage("argmax", 2);
    run(gpu, k.maxpool2x2_forward(gpu, s, View::whole(&gx), View::whole(&gy), View::whole(&garg)).unwrap());
    let mut want_arg = [0u32; 2];
    reference::pool::maxpool2x2_forward(&x, s, &mut [0.0; 2], &mut want_arg);
    assert_eq!(want_arg, [0, 3]);
    assert_eq!(read_u32(gpu, &garg, 2), want_arg);
}

#[test]
fn maxpool2x2_backward_matches_reference() {
    let gpu = gpu();
    let k = MaxPool2x2::new(gpu).unwrap();
    for (i, s) in cases().into_iter().enumerate() {
        let mut r = rng(20 + i as u64);
        let x = distinct(&mut r, s.x_len() as usize);
        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let mut y = vec![0.0; s.y_len() as usize];
        let mut arg = vec![0u32; s.y_len() as usize];
        reference::pool::maxpool2x2_forward(&x, s, &mut y, &mut arg);
        let mut want = vec![0.0; s.x_len() as usize];
        reference::pool::maxpool2x2_backward(&dy, &arg, s, &mut want);
        let gdy = gpu.storage_from("dy", &dy);
        let garg = gpu.storage_from("argmax", &arg);
        let gdx = nan_buffer(gpu, "dx", want.len());
        run(gpu, k.maxpool2x2_backward(gpu, s, View::whole(&gdy), View::whole(&garg), View::whole(&gdx)).unwrap());
        assert_close(&format!("maxpool2x2_backward {s:?}"), &read(gpu, &gdx, want.len()), &want, EXACT);
    }
}

#[test]
fn maxpool2x2_relu_backward_is_pool_backward_then_relu_mask() {
    // The pool's input is a ReLU's output: zeros (some whole windows of them) and positives.
    let gpu = gpu();
    let k = MaxPool2x2::new(gpu).unwrap();
    for (i, s) in cases().into_iter().enumerate() {
        let mut r = rng(40 + i as u64);
        let mut x: Vec<f32> = distinct(&mut r, s.x_len() as usize).into_iter().map(|v| v.max(0.0)).collect();
        x.iter_mut().take(8).for_each(|v| *v = 0.0);
        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let mut y = vec![0.0; s.y_len() as usize];
        let mut arg = vec![0u32; s.y_len() as usize];
        reference::pool::maxpool2x2_forward(&x, s, &mut y, &mut arg);
        let mut want = vec![0.0; s.x_len() as usize];
        reference::pool::maxpool2x2_backward(&dy, &arg, s, &mut want);
        reference::elementwise::relu_backward(&x, &mut want);
        let (gdy, garg, gy) =
            (gpu.storage_from("dy", &dy), gpu.storage_from("argmax", &arg), gpu.storage_from("y", &y));
        let gdx = nan_buffer(gpu, "dx", want.len());
        let d = k
            .maxpool2x2_relu_backward(
                gpu,
                s,
                View::whole(&gdy),
                View::whole(&garg),
                View::whole(&gy),
                View::whole(&gdx),
            )
            .unwrap();
        run(gpu, d);
        assert_close(&format!("maxpool2x2_relu_backward {s:?}"), &read(gpu, &gdx, want.len()), &want, EXACT);
    }
}

#[test]
fn maxpool2x2_rejects_inputs_without_a_window() {
    let gpu = gpu();
    let k = MaxPool2x2::new(gpu).unwrap();
    let s = PoolShape::new(1, 1, 1, 4);
    let b = gpu.storage("b", 8);
    let err = k.maxpool2x2_backward(gpu, s, View::whole(&b), View::whole(&b), View::whole(&b)).err().unwrap();
    assert!(err.to_string().contains("no 2x2 window"), "{err}");
    assert!(k.maxpool2x2_forward(gpu, s, View::whole(&b), View::whole(&b), View::whole(&b)).is_err());
}
