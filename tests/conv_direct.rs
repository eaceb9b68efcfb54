//! The generated direct convolutions (forward, input gradient, weight gradient) against
//! their CPU twins, and the twins against im2col + GEMM (+ col2im): two independent routes
//! to the same numbers.

mod common;

use common::*;
use lenet_gpu::gpu::{validate_wgsl, Gpu, View};
use lenet_gpu::kernels::conv_direct::{
    self, ConvActivation, ConvDirect, ConvInput, DyViews, ForwardOutputs, ForwardVariant, InputFormat, LoadSharing,
    PoolViews, SubsampleOutput, WeightGradViews,
};
use lenet_gpu::kernels::gemm::{Epilogue, Transpose};
use lenet_gpu::kernels::squash::SquashFn;
use lenet_gpu::kernels::SUBGROUP_WIDTHS;
use lenet_gpu::reference;
use lenet_gpu::shapes::{BatchParams, ConvShape, PoolShape};

/// Shapes the generator takes (rows of whole vec4s): LeNet's two convolutions at batch 100
/// and 1 (one source: the batch is a uniform), then a 1-pixel-high output, an output height
/// that is not a multiple of the block, a 1x1 and a 9x9 kernel, prime channel counts, and a
/// batch whose block count is not a multiple of the 64-invocation workgroup. Small, because
/// each distinct shape is compiled (seconds on lavapipe with a cold shader cache).
fn cases() -> Vec<ConvShape> {
    let mut cases = lenet5_conv_shapes().to_vec();
    cases.extend([
        ConvShape::new(3, 1, 5, 8, 1, 5),
        ConvShape::new(2, 3, 13, 12, 7, 5),
        ConvShape::new(3, 7, 4, 4, 3, 1),
        ConvShape::new(2, 2, 9, 16, 3, 9),
        ConvShape::new(37, 1, 11, 8, 11, 5),
        // 14 output rows in blocks of 12: a pooled last block that is cut short.
        ConvShape::new(2, 2, 18, 12, 3, 5),
    ]);
    cases
}

/// Whether case `i` of [`cases`] is one of LeNet's shapes (they come first).
fn is_lenet(i: usize) -> bool {
    i < lenet5_conv_shapes().len()
}

/// The ways of loading weights to test: this device's, and the portable one where they
/// differ. LeNet's shapes only in the device's (each is seconds of cold compile).
fn variants(gpu: &Gpu, lenet: bool) -> Vec<ConvDirect> {
    let device = LoadSharing::for_device(gpu);
    let mut out = vec![ConvDirect { sharing: device }];
    if !lenet && device != LoadSharing::PerInvocation {
        out.push(ConvDirect { sharing: LoadSharing::PerInvocation });
    }
    out
}

/// The forward's outputs without y: the pool only.
fn pool_only<'a>(pooled: &'a wgpu::Buffer, argmax: &'a wgpu::Buffer) -> ForwardOutputs<'a> {
    ForwardOutputs {
        y: None,
        pool: Some(PoolViews { pooled: View::whole(pooled), argmax: View::whole(argmax) }),
        y_width: None,
        subsample: None,
    }
}

/// The weight gradient of f32 x for dy as it is.
fn weight_grad_views<'a>(
    x: &'a wgpu::Buffer,
    dy: &'a wgpu::Buffer,
    dw: &'a wgpu::Buffer,
    db: Option<View<'a>>,
) -> WeightGradViews<'a> {
    WeightGradViews { x: ConvInput::F32(View::whole(x)), dy: DyViews::Dy(View::whole(dy)), dw: View::whole(dw), db }
}

/// Every way of loading: per invocation and on subgroups of every width the kernels are
/// written for (validated here without a device; each runs where the device has it).
fn every_sharing() -> impl Iterator<Item = LoadSharing> {
    std::iter::once(LoadSharing::PerInvocation).chain(SUBGROUP_WIDTHS.map(|lanes| LoadSharing::Subgroup { lanes }))
}

fn tol(s: ConvShape) -> Tol {
    // Sums of C·K·K (forward) or OC·K·K (input gradient) terms in another order.
    Tol { abs: 2e-7 * (s.c.max(s.oc) * s.kh * s.kw) as f64, rel: 1e-5 }
}

#[test]
fn generated_sources_validate_with_naga() {
    for s in cases() {
        assert!(conv_direct::supports(s), "{s:?}");
        for relu in [false, true] {
            for pool in [false, conv_direct::supports_pool(s)] {
                for sharing in every_sharing() {
                    for write_y in [true, false].into_iter().filter(|&y| y || pool) {
                        for input in [InputFormat::F32, InputFormat::Bytes] {
                            let activation = ConvActivation::relu(relu);
                            let variant = ForwardVariant {
                                activation,
                                y_width: s.out_w(),
                                write_y,
                                pool,
                                subsample: None,
                                input,
                            };
                            let source = conv_direct::forward_source(s, variant, sharing).source;
                            let name =
                                format!("conv_forward_direct {s:?} y {write_y} pool {pool} {sharing:?} {input:?}");
                            if let Err(message) = validate_wgsl(&name, &source) {
                                panic!("{message}");
                            }
                        }
                    }
                }
            }
        }
        assert!(conv_direct::supports_weight_grad(s), "{s:?}");
        for sharing in every_sharing() {
            let source = conv_direct::weight_grad_source(s, sharing).source;
            if let Err(message) = validate_wgsl(&format!("conv_weight_grad_direct {s:?} {sharing:?}"), &source) {
                panic!("{message}");
            }
        }
        for lanes in SUBGROUP_WIDTHS.into_iter().filter(|&l| conv_direct::supports_weight_grad_through_pool(s, l)) {
            for input in [InputFormat::F32, InputFormat::Bytes] {
                let source = conv_direct::weight_grad_through_pool_source(s, input, lanes).source;
                let name = format!("conv_weight_grad_direct {s:?} through the pool, {input:?}, {lanes} lanes");
                if let Err(message) = validate_wgsl(&name, &source) {
                    panic!("{message}");
                }
            }
        }
        assert!(conv_direct::supports_input_grad(s), "{s:?}");
        for sharing in every_sharing() {
            let source = conv_direct::input_grad_source(s, sharing).source;
            if let Err(message) = validate_wgsl(&format!("conv_input_grad_direct {s:?} {sharing:?}"), &source) {
                panic!("{message}");
            }
        }
    }
}

#[test]
fn shapes_without_whole_vec4_rows_are_refused() {
    // A 13-wide input, and a 3x3 kernel on 12-wide rows (10-wide output).
    for s in [ConvShape::new(1, 1, 13, 13, 2, 5), ConvShape::new(1, 1, 12, 12, 2, 3)] {
        assert!(!conv_direct::supports(s), "{s:?}");
        let gpu = gpu();
        let b = gpu.storage("b", 4096);
        let out = gpu.storage("out", 4096);
        let out = ForwardOutputs { y: Some(View::whole(&out)), pool: None, y_width: None, subsample: None };
        let err = ConvDirect::new(gpu)
            .conv_forward_direct(
                gpu,
                s,
                ConvActivation::Relu,
                ConvInput::F32(View::whole(&b)),
                [View::whole(&b), View::whole(&b)],
                out,
            )
            .err()
            .expect("rows are not whole vec4s");
        assert!(err.to_string().contains("conv_forward_direct"), "{err}");
    }
}

#[test]
fn twins_match_im2col_gemm_and_col2im() {
    for (i, s) in cases().into_iter().chain([ConvShape::new(7, 3, 13, 11, 5, 3)]).enumerate() {
        let mut r = rng(700 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let w = uniform(&mut r, s.w_len() as usize, -1.0, 1.0);
        let b = uniform(&mut r, s.oc as usize, -1.0, 1.0);
        for relu in [false, true] {
            let mut y = vec![f32::NAN; s.y_len() as usize];
            reference::conv_direct::conv_forward_direct(s, relu, &x, &w, &b, &mut y);
            let mut col = vec![0.0; s.col_len() as usize];
            reference::im2col::im2col_forward(&x, s, &mut col);
            let mut want = vec![0.0; s.y_len() as usize];
            let e = Epilogue::BiasRow { relu };
            reference::gemm::gemm(Transpose::None, e, s.forward_gemm(), &w, &col, Some(&b), &mut want);
            assert_close(&format!("relu {relu} {s:?}"), &y, &want, tol(s));
        }

        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let mut dx = vec![f32::NAN; s.x_len() as usize];
        reference::conv_direct::conv_input_grad_direct(s, &dy, &w, &mut dx);
        let mut dcol = vec![0.0; s.col_len() as usize];
        reference::gemm::gemm(Transpose::A, Epilogue::None, s.input_grad_gemm(), &w, &dy, None, &mut dcol);
        let mut want = vec![0.0; s.x_len() as usize];
        reference::im2col::col2im_backward(&dcol, s, &mut want);
        assert_close(&format!("input grad {s:?}"), &dx, &want, tol(s));

        // Per-image weight gradients: dW_n = dy_n · col_nᵀ.
        let mut col = vec![0.0; s.col_len() as usize];
        reference::im2col::im2col_forward(&x, s, &mut col);
        let mut dw = vec![f32::NAN; (s.n as u64 * s.w_len()) as usize];
        reference::conv_direct::conv_weight_grad_direct(s, &x, &dy, &mut dw);
        let mut want = vec![0.0; dw.len()];
        reference::gemm::gemm(Transpose::B, Epilogue::None, s.weight_grad_gemm(), &dy, &col, None, &mut want);
        let terms = Tol { abs: 2e-7 * s.out_pixels() as f64, rel: 1e-5 };
        assert_close(&format!("weight grad {s:?}"), &dw, &want, terms);
    }
}

#[test]
fn conv_forward_direct_matches_reference() {
    // With the pool fused where the output height is even (LeNet's, and the 1x1 kernel
    // case): pooled values and argmax indices must equal maxpool2x2_forward's exactly.
    // LeNet's shapes (the first four cases) in the one variant the model runs; each variant
    // is a separate compile of seconds on a cold Mesa cache, and the small shapes cover the
    // others.
    let gpu = gpu();
    for (i, s) in cases().into_iter().enumerate() {
        let lenet = is_lenet(i);
        for relu in [false, true].into_iter().filter(|&relu| relu || !lenet) {
            let mut r = rng(800 + 2 * i as u64 + relu as u64);
            let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
            let w = uniform(&mut r, s.w_len() as usize, -1.0, 1.0);
            let b = uniform(&mut r, s.oc as usize, -1.0, 1.0);
            let mut want = vec![0.0; s.y_len() as usize];
            reference::conv_direct::conv_forward_direct(s, relu, &x, &w, &b, &mut want);

            // The weights sit at an aligned offset inside a larger buffer, as in the
            // parameters, followed by padding up to whole vec4s.
            let mut params = vec![f32::NAN; 64];
            params.extend(&w);
            params.extend([f32::NAN; 3]);
            let (gx, gp, gb) =
                (gpu.storage_from("x", &x), gpu.storage_from("params", &params), gpu.storage_from("b", &b));
            let gw = View { buffer: &gp, offset: 64, len: w.len() as u64 };
            let pools = match (lenet, relu && conv_direct::supports_pool(s)) {
                (true, _) => vec![true],
                (false, true) => vec![false, true],
                (false, false) => vec![false],
            };
            for (pool, conv) in pools.into_iter().flat_map(|p| variants(gpu, lenet).into_iter().map(move |v| (p, v))) {
                let gy = nan_buffer(gpu, "y", want.len());
                let ps = PoolShape::new(s.n, s.oc, s.out_h(), s.out_w());
                let (gpooled, gargmax) =
                    (nan_buffer(gpu, "pooled", ps.y_len() as usize), gpu.storage("argmax", ps.y_len() as usize));
                let pool_views =
                    pool.then(|| PoolViews { pooled: View::whole(&gpooled), argmax: View::whole(&gargmax) });
                let sharing = conv.sharing;
                let out =
                    ForwardOutputs { y: Some(View::whole(&gy)), pool: pool_views, y_width: None, subsample: None };
                let d = conv
                    .conv_forward_direct(
                        gpu,
                        s,
                        ConvActivation::relu(relu),
                        ConvInput::F32(View::whole(&gx)),
                        [gw, View::whole(&gb)],
                        out,
                    )
                    .unwrap();
                run(gpu, d);
                let got = read(gpu, &gy, want.len());
                assert_close(&format!("relu {relu} pool {pool} {sharing:?} {s:?}"), &got, &want, tol(s));
                if pool {
                    // Pool what the GPU computed, so the comparison is exact.
                    let mut pooled = vec![0.0; ps.y_len() as usize];
                    let mut argmax = vec![0u32; ps.y_len() as usize];
                    reference::pool::maxpool2x2_forward(&got, ps, &mut pooled, &mut argmax);
                    assert_close(&format!("pooled {s:?}"), &read(gpu, &gpooled, pooled.len()), &pooled, EXACT);
                    assert_eq!(read_u32(gpu, &gargmax, argmax.len()), argmax, "argmax {s:?}");
                    // Without y stored: the same pool, bit for bit.
                    let (gpooled, gargmax) =
                        (nan_buffer(gpu, "pooled", ps.y_len() as usize), gpu.storage("argmax", ps.y_len() as usize));
                    let views = pool_only(&gpooled, &gargmax);
                    let d = conv.conv_forward_direct(
                        gpu,
                        s,
                        ConvActivation::relu(relu),
                        ConvInput::F32(View::whole(&gx)),
                        [gw, View::whole(&gb)],
                        views,
                    );
                    run(gpu, d.unwrap());
                    assert_close(&format!("pool only {s:?}"), &read(gpu, &gpooled, pooled.len()), &pooled, EXACT);
                    assert_eq!(read_u32(gpu, &gargmax, argmax.len()), argmax, "pool only: argmax {s:?}");
                }
            }
        }
    }
}

#[test]
fn conv_forward_direct_with_squash_and_cropped_y_matches_reference() {
    // LeNet-1998's C3 as it runs (its 14-wide input widened to 16, y cropped from 12 back
    // to 10 columns) and a small shape cropped by 3, with each squashing function: against
    // the twin's convolution, then the squash twin, then the crop.
    let gpu = gpu();
    let cases = [(ConvShape::new(3, 6, 14, 16, 16, 5), 10), (ConvShape::new(2, 2, 9, 12, 3, 5), 5)];
    for (i, (s, y_width)) in cases.into_iter().enumerate() {
        let mut r = rng(950 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let w = uniform(&mut r, s.w_len().next_multiple_of(4) as usize, -0.5, 0.5);
        let b = uniform(&mut r, s.oc as usize, -1.0, 1.0);
        let mut y = vec![0.0; s.y_len() as usize];
        reference::conv_direct::conv_forward_direct(s, false, &x, &w, &b, &mut y);
        let (gx, gw, gb) = (gpu.storage_from("x", &x), gpu.storage_from("w", &w), gpu.storage_from("b", &b));
        for f in [SquashFn::ScaledTanh, SquashFn::Sigmoid] {
            let mut squashed = vec![0.0; y.len()];
            reference::squash::squash_forward(f, &y, &mut squashed);
            let ow = s.out_w() as usize;
            let want: Vec<f32> = squashed.chunks(ow).flat_map(|row| row[..y_width as usize].iter().copied()).collect();
            for conv in variants(gpu, false) {
                let gy = nan_buffer(gpu, "y", want.len());
                let out =
                    ForwardOutputs { y: Some(View::whole(&gy)), pool: None, y_width: Some(y_width), subsample: None };
                let xv = ConvInput::F32(View::whole(&gx));
                let d = conv.conv_forward_direct(
                    gpu,
                    s,
                    ConvActivation::Squash(f),
                    xv,
                    [View::whole(&gw), View::whole(&gb)],
                    out,
                );
                run(gpu, d.unwrap());
                let label = format!("{f:?} crop {y_width} {:?} {s:?}", conv.sharing);
                // The conv's rounding (tol) times f' <= 1.15, plus the squash's few ulp.
                let t = Tol { abs: 1.2 * tol(s).abs + 1e-6, rel: 1e-5 };
                assert_close(&label, &read(gpu, &gy, want.len()), &want, t);
            }
        }
        // A cropped y cannot be pooled, nor be wider than the output.
        let conv = ConvDirect::new(gpu);
        let gy = gpu.storage("y", y.len());
        let xv = ConvInput::F32(View::whole(&gx));
        let wide =
            ForwardOutputs { y: Some(View::whole(&gy)), pool: None, y_width: Some(s.out_w() + 1), subsample: None };
        let err =
            conv.conv_forward_direct(gpu, s, ConvActivation::None, xv, [View::whole(&gw), View::whole(&gb)], wide);
        assert!(err.err().expect("wider than the output").to_string().contains("conv_forward_direct"));
    }
}

#[test]
fn conv_forward_direct_with_fused_subsampling_matches_reference() {
    // LeNet-1998's C1 + S2 (S2's rows stored 14 wide, and 16 wide with zeros for C3) and
    // C3 + S4 as it runs (widened, cropped to 10 columns, subsampled into rows of 5), and a
    // small cropped shape into wider rows: against the twins' convolution, squash, crop,
    // subsampling and squash, the output NaN-filled (so the padding must be written).
    let gpu = gpu();
    let (c1, c3) = (ConvShape::new(3, 1, 32, 32, 6, 5), ConvShape::new(3, 6, 14, 16, 16, 5));
    let cases = [(c1, 28, 14), (c1, 28, 16), (c3, 10, 5), (ConvShape::new(2, 3, 10, 16, 5, 5), 10, 7)];
    for (i, (s, y_width, row_width)) in cases.into_iter().enumerate() {
        let mut r = rng(970 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let w = uniform(&mut r, s.w_len().next_multiple_of(4) as usize, -0.5, 0.5);
        let b = uniform(&mut r, s.oc as usize, -1.0, 1.0);
        let (coef, sub_bias) = (uniform(&mut r, s.oc as usize, -1.0, 1.0), uniform(&mut r, s.oc as usize, -0.5, 0.5));
        let f = SquashFn::ScaledTanh;
        let mut y = vec![0.0; s.y_len() as usize];
        reference::conv_direct::conv_forward_direct(s, false, &x, &w, &b, &mut y);
        let mut squashed = vec![0.0; y.len()];
        reference::squash::squash_forward(f, &y, &mut squashed);
        let ow = s.out_w() as usize;
        let cropped: Vec<f32> = squashed.chunks(ow).flat_map(|row| row[..y_width as usize].iter().copied()).collect();
        let p = PoolShape::new(s.n, s.oc, s.out_h(), y_width);
        let mut pre = vec![0.0; p.y_len() as usize];
        reference::subsample::subsample_forward(&cropped, &coef, &sub_bias, p, &mut pre);
        let mut sub = vec![0.0; pre.len()];
        reference::squash::squash_forward(f, &pre, &mut sub);
        let pad = (row_width - p.out_w()) as usize;
        let want: Vec<f32> = sub
            .chunks(p.out_w() as usize)
            .flat_map(|row| row.iter().copied().chain(std::iter::repeat_n(0.0, pad)))
            .collect();
        let (gx, gw, gb) = (gpu.storage_from("x", &x), gpu.storage_from("w", &w), gpu.storage_from("b", &b));
        let (gc, gsb) = (gpu.storage_from("coef", &coef), gpu.storage_from("sub_bias", &sub_bias));
        for conv in variants(gpu, i < 3) {
            let gsub = nan_buffer(gpu, "sub", want.len());
            let subsample = Some(SubsampleOutput {
                coef: View::whole(&gc),
                bias: View::whole(&gsb),
                out: View::whole(&gsub),
                activation: ConvActivation::Squash(f),
                row_width,
            });
            let out = ForwardOutputs { y: None, pool: None, y_width: Some(y_width), subsample };
            let xv = ConvInput::F32(View::whole(&gx));
            let d = conv.conv_forward_direct(
                gpu,
                s,
                ConvActivation::Squash(f),
                xv,
                [View::whole(&gw), View::whole(&gb)],
                out,
            );
            run(gpu, d.unwrap());
            let label = format!("subsampled into rows of {row_width}, crop {y_width} {:?} {s:?}", conv.sharing);
            // Four of the conv's roundings (tol), times f' twice and the coefficient.
            let t = Tol { abs: 4.0 * 1.2 * 1.2 * tol(s).abs + 1e-6, rel: 1e-5 };
            assert_close(&label, &read(gpu, &gsub, want.len()), &want, t);
        }
    }
}

#[test]
fn conv_forward_direct_at_a_prime_batch_matches_reference() {
    // 257 images (a last workgroup part full): LeNet's conv2 (input rows loaded in a loop)
    // pool only and with y, and 7 output rows in one block cut short.
    let gpu = gpu();
    let n = 257;
    let conv = ConvDirect::new(gpu);
    for (i, s) in [ConvShape::new(n, 6, 12, 12, 16, 5), ConvShape::new(n, 1, 11, 8, 11, 5)].into_iter().enumerate() {
        let mut r = rng(900 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let w = uniform(&mut r, s.w_len().next_multiple_of(4) as usize, -1.0, 1.0);
        let b = uniform(&mut r, s.oc as usize, -1.0, 1.0);
        let mut want = vec![0.0; s.y_len() as usize];
        reference::conv_direct::conv_forward_direct(s, true, &x, &w[..s.w_len() as usize], &b, &mut want);
        let (gx, gw, gb) = (gpu.storage_from("x", &x), gpu.storage_from("w", &w), gpu.storage_from("b", &b));
        let gw = View { buffer: &gw, offset: 0, len: s.w_len() };
        let gy = nan_buffer(gpu, "y", want.len());
        let out = ForwardOutputs { y: Some(View::whole(&gy)), pool: None, y_width: None, subsample: None };
        let d = conv.conv_forward_direct(
            gpu,
            s,
            ConvActivation::Relu,
            ConvInput::F32(View::whole(&gx)),
            [gw, View::whole(&gb)],
            out,
        );
        run(gpu, d.unwrap());
        let got = read(gpu, &gy, want.len());
        assert_close(&format!("{s:?}"), &got, &want, tol(s));
        if conv_direct::supports_pool(s) {
            let ps = PoolShape::new(s.n, s.oc, s.out_h(), s.out_w());
            let mut pooled = vec![0.0; ps.y_len() as usize];
            let mut argmax = vec![0u32; ps.y_len() as usize];
            reference::pool::maxpool2x2_forward(&got, ps, &mut pooled, &mut argmax);
            let (gpooled, gargmax) =
                (nan_buffer(gpu, "pooled", ps.y_len() as usize), gpu.storage("argmax", ps.y_len() as usize));
            let views = pool_only(&gpooled, &gargmax);
            let x = ConvInput::F32(View::whole(&gx));
            run(gpu, conv.conv_forward_direct(gpu, s, ConvActivation::Relu, x, [gw, View::whole(&gb)], views).unwrap());
            assert_close(&format!("pool only {s:?}"), &read(gpu, &gpooled, pooled.len()), &pooled, EXACT);
            assert_eq!(read_u32(gpu, &gargmax, argmax.len()), argmax, "pool only: argmax {s:?}");
        }
    }
}

#[test]
fn conv_forward_from_bytes_equals_the_forward_of_the_gathered_batch() {
    // The batch read in place from a dataset's packed bytes through a shuffled order, from
    // position `first`, against the f32 forward of the same images as gather_batch makes
    // them: the same pooled values and argmaxes, bit for bit. LeNet's conv1 (inference
    // batches) and a multi-channel, two-block shape whose input rows are loaded in a loop,
    // the latter also with the portable weight loads (what GPUs without subgroups
    // run).
    let gpu = gpu();
    let gather = lenet_gpu::kernels::data::Gather::new(gpu).unwrap();
    for (i, (s, samples, first)) in
        [(ConvShape::new(100, 1, 28, 28, 6, 5), 150u32, 7u32), (ConvShape::new(3, 3, 12, 8, 5, 5), 11, 2)]
            .into_iter()
            .enumerate()
    {
        let mut r = rng(950 + i as u64);
        let image_len = s.c * s.h * s.w;
        let bytes: Vec<u8> =
            uniform(&mut r, (samples * image_len) as usize, 0.0, 255.99).iter().map(|&v| v as u8).collect();
        let mut order: Vec<u32> = (0..samples).collect();
        order.reverse();
        order.rotate_left(i + 3);
        let w = uniform(&mut r, s.w_len().next_multiple_of(4) as usize, -1.0, 1.0);
        let b = uniform(&mut r, s.oc as usize, -1.0, 1.0);
        let images = gpu.storage_from("images", &lenet_gpu::kernels::data::pack_bytes(&bytes));
        let (gorder, gw, gb) =
            (gpu.storage_from("order", &order), gpu.storage_from("w", &w), gpu.storage_from("b", &b));
        let gw = View { buffer: &gw, offset: 0, len: s.w_len() };
        let ps = PoolShape::new(s.n, s.oc, s.out_h(), s.out_w());
        let outputs = || (nan_buffer(gpu, "pooled", ps.y_len() as usize), gpu.storage("argmax", ps.y_len() as usize));

        // The gathered batch (gather_batch wants whole 16-byte chunks: pad the image).
        let x = if image_len % 16 == 0 {
            let (gx, labels, all_labels) = (
                nan_buffer(gpu, "x", s.x_len() as usize),
                gpu.storage("labels", s.n as usize),
                gpu.storage("all", samples as usize),
            );
            let views = lenet_gpu::kernels::data::GatherViews {
                images: View::whole(&images),
                all_labels: View::whole(&all_labels),
                order: View::whole(&gorder),
                x: View::whole(&gx),
                labels: View::whole(&labels),
            };
            let p = lenet_gpu::shapes::GatherParams { offset: first, batch: s.n, image_len, _pad: 0 };
            run(gpu, gather.gather_batch(gpu, p, views).unwrap());
            gx
        } else {
            let x: Vec<f32> = order[first as usize..(first + s.n) as usize]
                .iter()
                .flat_map(|&o| &bytes[(o * image_len) as usize..((o + 1) * image_len) as usize])
                .map(|&v| v as f32 / 255.0)
                .collect();
            gpu.storage_from("x", &x)
        };
        for conv in variants(gpu, i == 0) {
            let (want_pooled, want_argmax) = outputs();
            let views = pool_only(&want_pooled, &want_argmax);
            let xv = ConvInput::F32(View::whole(&x));
            run(
                gpu,
                conv.conv_forward_direct(gpu, s, ConvActivation::Relu, xv, [gw, View::whole(&gb)], views).unwrap(),
            );

            let (pooled, argmax) = outputs();
            let cursor = gpu.uniform("cursor", &BatchParams::new(s.n, first));
            let bytes_input = ConvInput::Bytes {
                images: View::whole(&images),
                order: View::whole(&gorder),
                cursor: View::whole(&cursor),
            };
            let views = pool_only(&pooled, &argmax);
            let d = conv
                .conv_forward_direct(gpu, s, ConvActivation::Relu, bytes_input, [gw, View::whole(&gb)], views)
                .unwrap();
            run(gpu, d);
            let len = ps.y_len() as usize;
            assert_close(&format!("pooled {s:?}"), &read(gpu, &pooled, len), &read(gpu, &want_pooled, len), EXACT);
            assert_eq!(
                read_u32(gpu, &argmax, len),
                read_u32(gpu, &want_argmax, len),
                "argmax {s:?} {:?}",
                conv.sharing
            );
        }
    }
}

#[test]
fn conv_input_grad_direct_matches_reference() {
    let gpu = gpu();
    // A padding that is not a multiple of 4 (3x3 kernel) is refused.
    assert!(!conv_direct::supports_input_grad(ConvShape::new(1, 1, 12, 12, 2, 3)));
    // Beyond the common cases: 11 input channels, two groups of 8 lanes per image where the
    // input gradient runs by image.
    for (i, s) in cases().into_iter().chain([ConvShape::new(3, 11, 8, 8, 2, 5)]).enumerate() {
        let mut r = rng(900 + i as u64);
        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let w = uniform(&mut r, s.w_len() as usize, -1.0, 1.0);
        let mut want = vec![0.0; s.x_len() as usize];
        reference::conv_direct::conv_input_grad_direct(s, &dy, &w, &mut want);

        let mut params = vec![f32::NAN; 64];
        params.extend(&w);
        params.extend([f32::NAN; 3]);
        let (gdy, gp) = (gpu.storage_from("dy", &dy), gpu.storage_from("params", &params));
        let gw = View { buffer: &gp, offset: 64, len: w.len() as u64 };
        for conv in variants(gpu, is_lenet(i)) {
            let gdx = nan_buffer(gpu, "dx", want.len());
            let sharing = conv.sharing;
            let conv = conv.conv_input_grad_direct(gpu, s, View::whole(&gdy), gw, View::whole(&gdx)).unwrap();
            run(gpu, conv);
            let got = read(gpu, &gdx, want.len());
            assert_close(&format!("input grad {sharing:?} {s:?}"), &got, &want, tol(s));
        }
    }
}

#[test]
fn weights_that_end_inside_a_vec4_are_refused() {
    // conv1's 150 weights in a buffer of exactly 150: the uniform binding reads whole vec4s.
    let gpu = gpu();
    let s = ConvShape::new(1, 1, 28, 28, 6, 5);
    let (x, w, b, y) = (gpu.storage("x", 784), gpu.storage("w", 150), gpu.storage("b", 6), gpu.storage("y", 3456));
    let out = ForwardOutputs { y: Some(View::whole(&y)), pool: None, y_width: None, subsample: None };
    let err = ConvDirect::new(gpu)
        .conv_forward_direct(
            gpu,
            s,
            ConvActivation::Relu,
            ConvInput::F32(View::whole(&x)),
            [View::whole(&w), View::whole(&b)],
            out,
        )
        .err()
        .expect("150 weights end inside a vec4");
    assert!(err.to_string().contains("whole vec4s"), "{err}");
}

#[test]
fn conv_weight_grad_direct_matches_reference() {
    let gpu = gpu();
    for (i, s) in cases().into_iter().enumerate() {
        let mut r = rng(950 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
        let mut want = vec![0.0; (s.n as u64 * s.w_len()) as usize];
        reference::conv_direct::conv_weight_grad_direct(s, &x, &dy, &mut want);
        let (gx, gdy) = (gpu.storage_from("x", &x), gpu.storage_from("dy", &dy));
        for conv in variants(gpu, is_lenet(i)) {
            // Partial sums over runs of consecutive images, as the kernel documents them.
            let partials = conv.weight_grad_partials(s) as usize;
            let (per_image, images) = (s.w_len() as usize, (s.n as usize).div_ceil(partials));
            let mut expected = vec![0.0; partials * per_image];
            for (image, dw) in want.chunks(per_image).enumerate() {
                let partial = &mut expected[image / images * per_image..][..per_image];
                partial.iter_mut().zip(dw).for_each(|(e, d)| *e += d);
            }
            // The bias gradient's partials where the kernel writes them: Σ dy per channel.
            let mut expected_db = vec![0.0; partials * s.oc as usize];
            for (plane, dy) in dy.chunks(s.out_pixels() as usize).enumerate() {
                let (image, o) = (plane / s.oc as usize, plane % s.oc as usize);
                expected_db[image / images * s.oc as usize + o] += dy.iter().map(|&v| v as f64).sum::<f64>() as f32;
            }
            let gdw = nan_buffer(gpu, "dw", expected.len());
            let gdb = nan_buffer(gpu, "db", expected_db.len());
            let (sharing, writes_db) = (conv.sharing, conv.writes_bias_grad(s));
            let db = writes_db.then(|| View::whole(&gdb));
            let d = conv.conv_weight_grad_direct(gpu, s, weight_grad_views(&gx, &gdy, &gdw, db));
            run(gpu, d.unwrap());
            // Sums of OH·OW terms (times the images per partial) in another order.
            let tol = Tol { abs: 2e-7 * (s.out_pixels() * images as u32) as f64, rel: 1e-5 };
            let got = read(gpu, &gdw, expected.len());
            assert_close(&format!("weight grad {sharing:?} {s:?}"), &got, &expected, tol);
            if writes_db {
                let got = read(gpu, &gdb, expected_db.len());
                assert_close(&format!("bias grad {sharing:?} {s:?}"), &got, &expected_db, tol);
            }
            // Asking a kernel for what it does not write is an error, not a silent skip.
            let wrong = (!writes_db).then(|| View::whole(&gdb));
            let err = conv.conv_weight_grad_direct(gpu, s, weight_grad_views(&gx, &gdy, &gdw, wrong));
            assert!(err.is_err(), "db {} for {sharing:?}", if writes_db { "missing" } else { "extra" });
        }
    }
}

#[test]
fn conv_weight_grad_through_pool_matches_pool_backward_then_weight_grad() {
    // dy read through ReLU + 2x2 max-pool must give what maxpool2x2_backward (of the pool's
    // gradient, masked where the pool's output is 0) followed by the weight gradient gives.
    let gpu = gpu();
    let conv = ConvDirect::new(gpu);
    // Of LeNet's shapes only conv1's (the model reads only conv1's dy through its pool;
    // conv2's is a long compile on a cold Mesa cache) that 8 lanes take: where this device's
    // kernels cannot read them through the pool (no subgroups, or wider ones), they must fail.
    let lanes = 8;
    let shapes: Vec<ConvShape> = cases()
        .into_iter()
        .enumerate()
        .filter(|&(i, s)| conv_direct::supports_weight_grad_through_pool(s, lanes) && (!is_lenet(i) || s.c == 1))
        .map(|(_, s)| s)
        .collect();
    assert!(shapes.len() >= 4, "{shapes:?}");
    for (i, s) in shapes.into_iter().enumerate() {
        let mut r = rng(1300 + i as u64);
        let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
        // The conv's output after its ReLU, with every 5th pool window all zero (masked).
        let (oh, ow) = (s.out_h() as usize, s.out_w() as usize);
        let mut y: Vec<f32> = uniform(&mut r, s.y_len() as usize, -1.0, 1.0).iter().map(|v| v.max(0.0)).collect();
        for (i, v) in y.iter_mut().enumerate() {
            let (plane, row, col) = (i / (oh * ow), i / ow % oh, i % ow);
            if ((plane * oh / 2 + row / 2) * (ow / 2) + col / 2).is_multiple_of(5) {
                *v = 0.0;
            }
        }
        let ps = PoolShape::new(s.n, s.oc, s.out_h(), s.out_w());
        let mut pooled = vec![0.0f32; ps.y_len() as usize];
        let mut argmax = vec![0u32; ps.y_len() as usize];
        reference::pool::maxpool2x2_forward(&y, ps, &mut pooled, &mut argmax);
        assert!(pooled.contains(&0.0) && pooled.iter().any(|&p| p > 0.0), "{s:?}: no masked window");
        let dpool = uniform(&mut r, ps.y_len() as usize, -1.0, 1.0);
        let masked: Vec<f32> = dpool.iter().zip(&pooled).map(|(&g, &p)| if p > 0.0 { g } else { 0.0 }).collect();
        let mut dy = vec![0.0f32; s.y_len() as usize];
        reference::pool::maxpool2x2_backward(&masked, &argmax, ps, &mut dy);
        let mut want = vec![0.0; (s.n as u64 * s.w_len()) as usize];
        reference::conv_direct::conv_weight_grad_direct(s, &x, &dy, &mut want);

        let buffers = [("x", &x), ("dpool", &dpool), ("pooled", &pooled)].map(|(n, d)| gpu.storage_from(n, d));
        let gargmax = gpu.storage_from("argmax", &argmax);
        let partials = conv.weight_grad_partials(s) as usize;
        let gdw = nan_buffer(gpu, "dw", partials * s.w_len() as usize);
        let gdb = nan_buffer(gpu, "db", partials * s.oc as usize);
        let through_pool = DyViews::Pool {
            dpool: View::whole(&buffers[1]),
            argmax: View::whole(&gargmax),
            pooled: View::whole(&buffers[2]),
        };
        let x = ConvInput::F32(View::whole(&buffers[0]));
        let views = WeightGradViews { x, dy: through_pool, dw: View::whole(&gdw), db: Some(View::whole(&gdb)) };
        let d = conv.conv_weight_grad_direct(gpu, s, views);
        if !conv.reads_dy_through_pool(s) {
            assert!(d.is_err(), "only the by-image subgroup kernel reads dy through the pool");
            continue;
        }
        run(gpu, d.unwrap());
        // The partials summed over images: the full dW and db.
        let per_image = s.w_len() as usize;
        let mut want_dw = vec![0.0f32; per_image];
        want.chunks(per_image).for_each(|w| want_dw.iter_mut().zip(w).for_each(|(a, b)| *a += b));
        let mut want_db = vec![0.0f32; s.oc as usize];
        for (plane, g) in dy.chunks(s.out_pixels() as usize).enumerate() {
            want_db[plane % s.oc as usize] += g.iter().sum::<f32>();
        }
        let sum = |v: Vec<f32>, len: usize| {
            let mut out = vec![0.0f32; len];
            v.chunks(len).for_each(|p| out.iter_mut().zip(p).for_each(|(a, b)| *a += b));
            out
        };
        let got_dw = sum(read(gpu, &gdw, partials * per_image), per_image);
        let got_db = sum(read(gpu, &gdb, partials * s.oc as usize), s.oc as usize);
        let tol = Tol { abs: 2e-7 * (s.out_pixels() * s.n) as f64, rel: 1e-5 };
        assert_close(&format!("weight grad through the pool {s:?}"), &got_dw, &want_dw, tol);
        assert_close(&format!("bias grad through the pool {s:?}"), &got_db, &want_db, tol);

        // The same from a dataset's packed bytes through a shuffled order, from position 2:
        // bit for bit what the f32 kernel gives for those images as f32.
        let image_len = (s.c * s.h * s.w) as usize;
        if !image_len.is_multiple_of(4) {
            continue;
        }
        let samples = s.n as usize + 3;
        let bytes: Vec<u8> = uniform(&mut r, samples * image_len, 0.0, 255.99).iter().map(|&v| v as u8).collect();
        let order: Vec<u32> = (0..samples as u32).rev().collect();
        let x: Vec<f32> = order[2..2 + s.n as usize]
            .iter()
            .flat_map(|&o| &bytes[o as usize * image_len..(o as usize + 1) * image_len])
            .map(|&v| v as f32 / 255.0)
            .collect();
        let (gx, images, gorder) = (
            gpu.storage_from("x", &x),
            gpu.storage_from("images", &lenet_gpu::kernels::data::pack_bytes(&bytes)),
            gpu.storage_from("order", &order),
        );
        let mut outputs = Vec::new();
        for from_bytes in [false, true] {
            let (gdw, gdb) =
                (nan_buffer(gpu, "dw", partials * per_image), nan_buffer(gpu, "db", partials * s.oc as usize));
            let through_pool = DyViews::Pool {
                dpool: View::whole(&buffers[1]),
                argmax: View::whole(&gargmax),
                pooled: View::whole(&buffers[2]),
            };
            let cursor = gpu.uniform("cursor", &BatchParams::new(s.n, 2));
            let x = if from_bytes {
                ConvInput::Bytes {
                    images: View::whole(&images),
                    order: View::whole(&gorder),
                    cursor: View::whole(&cursor),
                }
            } else {
                ConvInput::F32(View::whole(&gx))
            };
            let views = WeightGradViews { x, dy: through_pool, dw: View::whole(&gdw), db: Some(View::whole(&gdb)) };
            let d = conv.conv_weight_grad_direct(gpu, s, views).unwrap();
            run(gpu, d);
            outputs.push((read(gpu, &gdw, partials * per_image), read(gpu, &gdb, partials * s.oc as usize)));
        }
        assert_close(&format!("dW from bytes {s:?}"), &outputs[1].0, &outputs[0].0, EXACT);
        assert_close(&format!("db from bytes {s:?}"), &outputs[1].1, &outputs[0].1, EXACT);
    }
}

#[test]
fn weight_grad_with_too_many_accumulators_per_lane_falls_back_to_per_invocation() {
    // 8 input channels and a 9x9 kernel: ⌈3/lanes⌉·8·81 = 648 accumulators per lane in the
    // by-image kernel, past its bound, so every device runs the per-invocation kernel: one
    // partial per image, no bias partials, and nothing read through the pool.
    let s = ConvShape::new(2, 8, 12, 12, 3, 9);
    assert!(conv_direct::supports_weight_grad(s));
    assert!(SUBGROUP_WIDTHS.iter().all(|&lanes| !conv_direct::supports_weight_grad_through_pool(s, lanes)));
    let gpu = gpu();
    let conv = ConvDirect::new(gpu);
    assert_eq!(conv.weight_grad_partials(s), s.n);
    assert!(!conv.writes_bias_grad(s));
    for lanes in SUBGROUP_WIDTHS {
        assert_eq!(
            conv_direct::weight_grad_source(s, LoadSharing::Subgroup { lanes }),
            conv_direct::weight_grad_source(s, LoadSharing::PerInvocation)
        );
    }
    let mut r = rng(1400);
    let x = uniform(&mut r, s.x_len() as usize, -1.0, 1.0);
    let dy = uniform(&mut r, s.y_len() as usize, -1.0, 1.0);
    let mut want = vec![0.0; (s.n as u64 * s.w_len()) as usize];
    reference::conv_direct::conv_weight_grad_direct(s, &x, &dy, &mut want);
    let (gx, gdy, gdw) = (gpu.storage_from("x", &x), gpu.storage_from("dy", &dy), nan_buffer(gpu, "dw", want.len()));
    let d = conv.conv_weight_grad_direct(gpu, s, weight_grad_views(&gx, &gdy, &gdw, None));
    run(gpu, d.unwrap());
    let tol = Tol { abs: 2e-7 * s.out_pixels() as f64, rel: 1e-5 };
    assert_close(&format!("weight grad {s:?}"), &read(gpu, &gdw, want.len()), &want, tol);
}
