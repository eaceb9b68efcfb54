//! GEMM on the GPU against `reference::gemm::gemm`, for every transpose and epilogue, with
//! every kernel that can compute the shape on this device (`Gemm::kernels_for`).

mod common;

use common::*;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::gemm::{Epilogue, Gemm, GemmKernel, GemmViews, Transpose};
use lenet_gpu::reference;
use lenet_gpu::shapes::GemmShape;

/// Different summation order over K in f32 (the reference sums in f64): the error grows
/// with K. Operands are in [-1, 1]; at K = 576 the measured max diff was ~2e-6.
fn tol(k: u32) -> Tol {
    Tol { abs: 2e-7 * k as f64, rel: 1e-5 }
}

const TRANSPOSES: [Transpose; 3] = [Transpose::None, Transpose::A, Transpose::B];

/// Checks every kernel that applies; returns which ran.
fn check(seed: u64, t: Transpose, e: Epilogue, s: GemmShape) -> Vec<GemmKernel> {
    check_kernels(seed, t, e, s, None)
}

/// [`check`] for `only` where it applies (each kernel variant is a compile of a second or
/// more on a cold Mesa cache, so tests of one kernel leave the others out).
fn check_kernels(seed: u64, t: Transpose, e: Epilogue, s: GemmShape, only: Option<GemmKernel>) -> Vec<GemmKernel> {
    let gpu = gpu();
    let gemm = Gemm::new(gpu).unwrap();
    let mut rng = rng(seed);
    let a = uniform(&mut rng, s.a_len() as usize, -1.0, 1.0);
    let b = uniform(&mut rng, s.b_len() as usize, -1.0, 1.0);
    let operand_len = match e {
        Epilogue::BiasRow { .. } => s.m as u64,
        Epilogue::ReluMask => s.c_len(),
        _ => s.n as u64,
    };
    let mut bias = uniform(&mut rng, operand_len as usize, -1.0, 1.0);
    if e == Epilogue::ReluMask {
        // A ReLU's output: about half exact zeros.
        bias.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    let with_bias = e != Epilogue::None;

    let mut want = vec![0.0f32; s.c_len() as usize];
    reference::gemm::gemm(t, e, s, &a, &b, with_bias.then_some(&bias[..]), &mut want);

    let (ga, gb, gbias) = (gpu.storage_from("a", &a), gpu.storage_from("b", &b), gpu.storage_from("bias", &bias));
    let mut kernels = gemm.kernels_for(t, s, View::whole(&ga), View::whole(&gb));
    kernels.retain(|&k| only.is_none_or(|o| o == k));
    for &kernel in &kernels {
        let gc = nan_buffer(gpu, "c", s.c_len() as usize);
        let d = gemm
            .gemm_with(
                gpu,
                kernel,
                t,
                e,
                s,
                GemmViews {
                    a: View::whole(&ga),
                    b: View::whole(&gb),
                    operand: with_bias.then(|| View::whole(&gbias)),
                    c: View::whole(&gc),
                },
            )
            .unwrap();
        run(gpu, d);
        let got = read(gpu, &gc, want.len());
        assert_close(&format!("{kernel:?}[{t:?},{e:?}] {s:?} seed {seed}"), &got, &want, tol(s.k));
    }
    kernels
}

#[test]
fn gemm_matches_reference_at_awkward_shapes() {
    // 1, primes, and sizes that are neither multiples of 4 nor of the 32x32 workgroup tile.
    let shapes = [(1, 1, 1), (1, 7, 13), (7, 1, 13), (13, 7, 1), (5, 33, 17), (37, 65, 29), (64, 32, 4)];
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        for (j, t) in TRANSPOSES.into_iter().enumerate() {
            check((i * 10 + j) as u64, t, Epilogue::None, GemmShape::new(m, n, k));
        }
    }
}

#[test]
fn gemm_epilogues_add_bias_and_relu_or_mask() {
    let s = GemmShape::new(13, 7, 11);
    for (i, e) in [
        Epilogue::BiasRow { relu: false },
        Epilogue::BiasRow { relu: true },
        Epilogue::BiasCol { relu: false },
        Epilogue::BiasCol { relu: true },
        Epilogue::ReluMask,
    ]
    .into_iter()
    .enumerate()
    {
        for (j, t) in TRANSPOSES.into_iter().enumerate() {
            check(100 + (i * 10 + j) as u64, t, e, s);
        }
    }
}

#[test]
fn gemm_batched_with_strides_and_broadcast() {
    // A shared between items (stride 0), B per item: the conv forward's pattern.
    check(200, Transpose::None, Epilogue::BiasRow { relu: true }, GemmShape::batched(5, 9, 7, 3, 0, 63));
    // Both per item, transposed B: the conv weight gradient's pattern.
    check(201, Transpose::B, Epilogue::None, GemmShape::batched(3, 11, 6, 4, 18, 66));
    // Shared transposed A: the conv input gradient's pattern.
    check(202, Transpose::A, Epilogue::None, GemmShape::batched(11, 6, 3, 5, 0, 18));
}

#[test]
fn gemm_at_lenet_shapes() {
    for batch in [100, 1] {
        // conv1 forward, conv1 dW (per image), conv1 dcol; conv2 likewise.
        check(
            300,
            Transpose::None,
            Epilogue::BiasRow { relu: true },
            GemmShape::batched(6, 576, 25, batch, 0, 25 * 576),
        );
        check(301, Transpose::B, Epilogue::None, GemmShape::batched(6, 25, 576, batch, 6 * 576, 25 * 576));
        check(
            302,
            Transpose::None,
            Epilogue::BiasRow { relu: true },
            GemmShape::batched(16, 64, 150, batch, 0, 150 * 64),
        );
        check(303, Transpose::B, Epilogue::None, GemmShape::batched(16, 150, 64, batch, 16 * 64, 150 * 64));
        check(304, Transpose::A, Epilogue::None, GemmShape::batched(150, 64, 16, batch, 0, 16 * 64));
        // fc1 forward, dW, dX.
        check(305, Transpose::B, Epilogue::BiasCol { relu: true }, GemmShape::new(batch, 120, 256));
        check(306, Transpose::A, Epilogue::None, GemmShape::new(120, 256, batch));
        check(307, Transpose::None, Epilogue::None, GemmShape::new(batch, 256, 120));
        // fc2's and fc3's dX, masked by the ReLU before them.
        check(308, Transpose::None, Epilogue::ReluMask, GemmShape::new(batch, 120, 84));
        check(309, Transpose::None, Epilogue::ReluMask, GemmShape::new(batch, 84, 10));
    }
}

#[test]
fn gemm_rejects_short_buffers() {
    let gpu = gpu();
    let gemm = Gemm::new(gpu).unwrap();
    let small = gpu.storage("small", 4);
    let s = GemmShape::new(3, 3, 3);
    let err = gemm
        .gemm(
            gpu,
            Transpose::None,
            Epilogue::None,
            s,
            GemmViews::plain(View::whole(&small), View::whole(&small), View::whole(&small)),
        )
        .err()
        .expect("a 4-element A cannot hold 3x3");
    assert!(err.to_string().contains("gemm"), "{err}");
}

#[test]
fn gemm_vec4_path_matches_reference() {
    use lenet_gpu::kernels::gemm::vec4_ok;
    // Shapes the 128-bit-load kernel takes, for each transpose: aligned K (and M or N),
    // with rows/columns that are not a multiple of the 32x32 workgroup tile.
    let shapes = [
        (Transpose::None, GemmShape::new(13, 20, 8)),
        (Transpose::None, GemmShape::batched(6, 576, 28, 3, 0, 28 * 576)),
        (Transpose::A, GemmShape::new(120, 256, 100)),
        (Transpose::A, GemmShape::new(4, 36, 12)),
        (Transpose::B, GemmShape::new(100, 120, 256)),
        (Transpose::B, GemmShape::batched(16, 150, 64, 5, 16 * 64, 150 * 64)),
        (Transpose::B, GemmShape::new(7, 9, 4)),
    ];
    let gpu = gpu();
    for (i, (t, s)) in shapes.into_iter().enumerate() {
        let a = gpu.storage("a", s.a_len() as usize);
        let b = gpu.storage("b", s.b_len() as usize);
        assert!(vec4_ok(t, s, View::whole(&a), View::whole(&b)), "{t:?} {s:?} should take the vec4 path");
        let vec4 = Some(GemmKernel::Vec4);
        assert_eq!(check_kernels(400 + i as u64, t, Epilogue::BiasCol { relu: true }, s, vec4), [GemmKernel::Vec4]);
        assert_eq!(check_kernels(450 + i as u64, t, Epilogue::None, s, vec4), [GemmKernel::Vec4]);
    }
    // And ones it must not take: K not a multiple of 4, or a transposed A with M % 4 != 0.
    let a = gpu.storage("a", 4096);
    assert!(!vec4_ok(Transpose::None, GemmShape::new(6, 576, 25), View::whole(&a), View::whole(&a)));
    assert!(!vec4_ok(Transpose::A, GemmShape::new(150, 64, 16), View::whole(&a), View::whole(&a)));
}

#[test]
fn gemm_subgroup_path_at_awkward_shapes() {
    // Shapes `gemm_sg` takes (B readable as vec4s: N % 4 == 0, or K % 4 == 0 when B is
    // transposed) with M, K or N of 1, primes, partial 16-row tiles, partial K chunks (of
    // the subgroup width) and partial column tiles (4 or 8 columns per lane).
    let shapes = [
        (Transpose::None, GemmShape::new(1, 4, 1)),
        (Transpose::None, GemmShape::new(5, 36, 13)),
        (Transpose::None, GemmShape::batched(37, 68, 29, 3, 37 * 29, 29 * 68)),
        (Transpose::None, GemmShape::batched(6, 576, 25, 2, 0, 25 * 576)),
        (Transpose::A, GemmShape::new(37, 36, 13)),
        (Transpose::A, GemmShape::new(1, 8, 3)),
        (Transpose::A, GemmShape::batched(150, 64, 16, 2, 0, 16 * 64)),
        (Transpose::B, GemmShape::new(1, 1, 4)),
        (Transpose::B, GemmShape::new(5, 7, 12)),
        (Transpose::B, GemmShape::batched(37, 13, 20, 2, 37 * 20, 13 * 20)),
    ];
    let expect_sg = lenet_gpu::kernels::subgroup_lanes(gpu()).is_some();
    for (i, (t, s)) in shapes.into_iter().enumerate() {
        for (j, e) in
            [Epilogue::None, Epilogue::BiasRow { relu: true }, Epilogue::BiasCol { relu: false }, Epilogue::ReluMask]
                .into_iter()
                .enumerate()
        {
            let ran = check_kernels(500 + (i * 10 + j) as u64, t, e, s, Some(GemmKernel::Subgroup));
            assert_eq!(ran.contains(&GemmKernel::Subgroup), expect_sg, "{t:?} {s:?}: {ran:?}");
        }
    }
}

#[test]
fn gemm_subgroup_vec4_a_path_at_awkward_shapes() {
    // Shapes `gemm_sg_a4` takes (A readable as vec4s: K % 4 == 0, or M % 4 == 0 when A is
    // transposed) with 1 row, partial 16-row tiles, a last chunk of K holding one quad
    // (K = 36 on 8 lanes) or one value (K = 9, 17), and partial column tiles.
    let shapes = [
        (Transpose::None, GemmShape::new(1, 4, 4)),
        (Transpose::None, GemmShape::new(17, 36, 36)),
        (Transpose::None, GemmShape::batched(37, 68, 44, 3, 37 * 44, 44 * 68)),
        (Transpose::A, GemmShape::new(4, 8, 9)),
        (Transpose::A, GemmShape::new(36, 100, 17)),
        (Transpose::A, GemmShape::batched(20, 12, 16, 2, 0, 16 * 12)),
        (Transpose::B, GemmShape::new(1, 1, 4)),
        (Transpose::B, GemmShape::new(19, 7, 36)),
        (Transpose::B, GemmShape::batched(37, 13, 20, 2, 37 * 20, 13 * 20)),
    ];
    let expect = lenet_gpu::kernels::subgroup_lanes(gpu()).is_some();
    let epilogues =
        [Epilogue::None, Epilogue::BiasRow { relu: true }, Epilogue::BiasCol { relu: false }, Epilogue::ReluMask];
    for (i, (t, s)) in shapes.into_iter().enumerate() {
        // One epilogue per shape, in turn: the epilogue is the same code as gemm_sg's.
        let e = epilogues[i % epilogues.len()];
        let ran = check_kernels(600 + i as u64, t, e, s, Some(GemmKernel::SubgroupA4));
        assert_eq!(ran.contains(&GemmKernel::SubgroupA4), expect, "{t:?} {s:?}: {ran:?}");
    }
}
