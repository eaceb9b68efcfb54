//! The generated dense forward against its CPU twin (the GEMM reference with
//! `Transpose::B` and a per-column bias), and `Kernels::dense_forward`, which falls back
//! to the GEMM where the generated kernel does not apply.

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::dense_direct::DenseDirect;
use lenet_gpu::kernels::gemm::{Epilogue, Transpose};
use lenet_gpu::kernels::Kernels;
use lenet_gpu::reference;
use lenet_gpu::shapes::GemmShape;

/// As for the GEMM: f32 sums in another order than the reference's f64.
fn tol(k: u32) -> Tol {
    Tol { abs: 2e-7 * k as f64, rel: 1e-5 }
}

/// y from the GPU for `s` through `forward`, against the reference; W sits 64 floats (256
/// bytes) into a larger buffer, as in the parameters.
fn check(
    s: GemmShape,
    relu: bool,
    seed: u64,
    forward: impl Fn(View, View, View, View) -> lenet_gpu::Result<lenet_gpu::gpu::Dispatch>,
) {
    let gpu = gpu();
    let mut r = rng(seed);
    let x = uniform(&mut r, s.a_len() as usize, -1.0, 1.0);
    let w = uniform(&mut r, s.b_len() as usize, -1.0, 1.0);
    let b = uniform(&mut r, s.n as usize, -1.0, 1.0);
    let mut want = vec![0.0; s.c_len() as usize];
    reference::gemm::gemm(Transpose::B, Epilogue::BiasCol { relu }, s, &x, &w, Some(&b), &mut want);
    let mut params = vec![f32::NAN; 64];
    params.extend(&w);
    params.extend([f32::NAN; 7]);
    let (gx, gp, gb) = (gpu.storage_from("x", &x), gpu.storage_from("params", &params), gpu.storage_from("b", &b));
    let gw = View { buffer: &gp, offset: 64, len: w.len() as u64 };
    let gy = nan_buffer(gpu, "y", want.len());
    run(gpu, forward(View::whole(&gx), gw, View::whole(&gb), View::whole(&gy)).unwrap());
    assert_close(&format!("{s:?} relu {relu}"), &read(gpu, &gy, want.len()), &want, tol(s.k));
}

#[test]
fn dense_forward_direct_matches_reference() {
    let gpu = gpu();
    let dense = DenseDirect::new(gpu);
    if gpu.subgroup_size() != Some(8) {
        eprintln!("skipped: the generated dense forward needs 8-wide subgroups");
        return;
    }
    let shapes = [
        // LeNet-5's fc1, fc2, fc3 at batch 100 (fc1's W is two uniform windows).
        (GemmShape::new(100, 120, 256), true),
        (GemmShape::new(100, 84, 120), true),
        (GemmShape::new(100, 10, 84), false),
        // One row, one unit, one vec4 of inputs.
        (GemmShape::new(1, 1, 4), true),
        // Rows that are not a multiple of the 32 a workgroup takes; a prime of units.
        (GemmShape::new(37, 13, 28), false),
        // 260 inputs: windows of 48 rows (to end on the 256-byte alignment) and a short last.
        (GemmShape::new(33, 67, 260), true),
        // Three windows of fc1's width, the last of 2 rows.
        (GemmShape::new(5, 130, 256), false),
    ];
    for (i, (s, relu)) in shapes.into_iter().enumerate() {
        assert!(dense.supports(s), "{s:?}");
        check(s, relu, 1200 + i as u64, |x, w, b, y| dense.dense_forward_direct(gpu, s, relu, x, w, b, y));
    }
}

#[test]
fn dense_forward_falls_back_to_the_gemm() {
    // Inputs not a multiple of 4, and a batched product: the GEMM computes them.
    let gpu = gpu();
    let kernels = Kernels::new(gpu).unwrap();
    let s = GemmShape::new(9, 7, 30);
    assert!(!kernels.dense_direct.supports(s));
    assert!(!kernels.dense_direct.supports(GemmShape::batched(9, 8, 32, 2, 0, 0)));
    check(s, true, 1300, |x, w, b, y| kernels.dense_forward(gpu, s, true, x, w, b, y));
    let s = GemmShape::new(9, 8, 32);
    check(s, false, 1301, |x, w, b, y| kernels.dense_forward(gpu, s, false, x, w, b, y));
}

#[test]
fn misaligned_operands_are_refused() {
    let gpu = gpu();
    let dense = DenseDirect::new(gpu);
    if gpu.subgroup_size() != Some(8) {
        eprintln!("skipped: the generated dense forward needs 8-wide subgroups");
        return;
    }
    let s = GemmShape::new(4, 8, 16);
    let (x, w, b, y) = (gpu.storage("x", 80), gpu.storage("w", 256), gpu.storage("b", 8), gpu.storage("y", 32));
    let (bv, yv) = (View::whole(&b), View::whole(&y));
    let w_off = View { buffer: &w, offset: 1, len: 128 };
    let err = dense.dense_forward_direct(gpu, s, true, View::whole(&x), w_off, bv, yv).err().expect("W at 1");
    assert!(err.to_string().contains("alignment"), "{err}");
    let x_off = View { buffer: &x, offset: 2, len: 64 };
    let err = dense.dense_forward_direct(gpu, s, true, x_off, View::whole(&w), bv, yv).err().expect("x at 2");
    assert!(err.to_string().contains("vec4"), "{err}");
    let short = View { buffer: &w, offset: 0, len: 100 };
    assert!(dense.dense_forward_direct(gpu, s, true, View::whole(&x), short, bv, yv).is_err());
}
