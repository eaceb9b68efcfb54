//! The generated dense-layer products against their CPU twin (the GEMM reference in each
//! product's form), and `Kernels::dense`, which falls back to the GEMM where the generated
//! kernel does not apply.

mod common;

use common::*;
use lenet_gpu::gpu::{Dispatch, View};
use lenet_gpu::kernels::conv_direct::ConvActivation;
use lenet_gpu::kernels::dense_direct::{DenseDirect, DenseProduct, StackLayer, StackViews};
use lenet_gpu::kernels::gemm::{Epilogue, GemmViews, Transpose};
use lenet_gpu::kernels::squash::SquashFn;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::reference;
use lenet_gpu::shapes::GemmShape;

/// As for the GEMM: f32 sums in another order than the reference's f64.
fn tol(k: u32) -> Tol {
    Tol { abs: 2e-7 * k as f64, rel: 1e-5 }
}

const FORWARD: DenseProduct = DenseProduct::Forward { activation: ConvActivation::Relu };
const FORWARD_LINEAR: DenseProduct = DenseProduct::Forward { activation: ConvActivation::None };
const FORWARD_TANH: DenseProduct = DenseProduct::Forward { activation: ConvActivation::Squash(SquashFn::ScaledTanh) };
const FORWARD_SIGMOID: DenseProduct = DenseProduct::Forward { activation: ConvActivation::Squash(SquashFn::Sigmoid) };
const INPUT_GRAD: DenseProduct = DenseProduct::InputGrad { relu_mask: false };
const INPUT_GRAD_MASKED: DenseProduct = DenseProduct::InputGrad { relu_mask: true };
const WEIGHT_GRAD: DenseProduct = DenseProduct::WeightGrad { bias: false };

type Run<'a> = dyn Fn(View, View, Option<View>, View) -> lenet_gpu::Result<Dispatch> + 'a;

/// C from the GPU for `p` and `s` through `product`, against the reference (then the
/// squash twin, for a squashed forward). B sits 64 floats (256 bytes) into a larger buffer,
/// as parameters do; the masked input gradient's operand (a ReLU's output) is 0 at about a
/// third of its entries.
fn check(p: DenseProduct, s: GemmShape, seed: u64, product: &Run) {
    let gpu = gpu();
    let mut r = rng(seed);
    let a = uniform(&mut r, s.a_len() as usize, -1.0, 1.0);
    let b = uniform(&mut r, s.b_len() as usize, -1.0, 1.0);
    let operand = match p {
        DenseProduct::Forward { .. } => Some(uniform(&mut r, s.n as usize, -1.0, 1.0)),
        DenseProduct::InputGrad { relu_mask: true } => {
            Some(uniform(&mut r, s.c_len() as usize, -0.5, 1.0).iter().map(|&v| v.max(0.0)).collect())
        }
        _ => None,
    };
    let mut want = vec![0.0; s.c_len() as usize];
    let (transpose, epilogue) = p.gemm_form();
    reference::gemm::gemm(transpose, epilogue, s, &a, &b, operand.as_deref(), &mut want);
    // The sums' rounding times the squash's slope (at most 1.15), plus its own few ulp.
    let mut t = tol(s.k);
    if let Some(f) = p.squash() {
        let linear = want.clone();
        reference::squash::squash_forward(f, &linear, &mut want);
        t = Tol { abs: 1.2 * t.abs + 1e-6, rel: t.rel };
    }
    let mut padded = vec![f32::NAN; 64];
    padded.extend(&b);
    padded.extend([f32::NAN; 7]);
    let (ga, gb) = (gpu.storage_from("a", &a), gpu.storage_from("b", &padded));
    let gop = operand.map(|o| gpu.storage_from("operand", &o));
    let gc = nan_buffer(gpu, "c", want.len());
    let bv = View { buffer: &gb, offset: 64, len: b.len() as u64 };
    run(gpu, product(View::whole(&ga), bv, gop.as_ref().map(View::whole), View::whole(&gc)).unwrap());
    assert_close(&format!("{p:?} {s:?}"), &read(gpu, &gc, want.len()), &want, t);
}

/// Products the generated kernel computes: LeNet-5's (batch 100) and awkward shapes.
fn cases() -> Vec<(DenseProduct, GemmShape)> {
    let g = GemmShape::new;
    vec![
        // fc1, fc2, fc3 forward (fc1's W is two uniform windows).
        (FORWARD, g(100, 120, 256)),
        (FORWARD, g(100, 84, 120)),
        (FORWARD_LINEAR, g(100, 10, 84)),
        // One row, one unit, one vec4 of inputs; rows not a multiple of the 32 a workgroup
        // takes and a prime of units; 260 inputs: 48-row windows (ending on the 256-byte
        // alignment) and a short last; three windows of fc1's width, the last of 2 rows.
        (FORWARD, g(1, 1, 4)),
        (FORWARD_LINEAR, g(37, 13, 28)),
        (FORWARD, g(33, 67, 260)),
        (FORWARD_LINEAR, g(5, 130, 256)),
        // LeNet-1998's C5 and F6 (batch 10) squashed, and a small one with the sigmoid.
        (FORWARD_TANH, g(10, 120, 400)),
        (FORWARD_TANH, g(10, 84, 120)),
        (FORWARD_SIGMOID, g(37, 13, 28)),
        // fc1's and fc2's input gradients (fc2's through fc1's ReLU).
        (INPUT_GRAD, g(100, 256, 120)),
        (INPUT_GRAD_MASKED, g(100, 120, 84)),
        // Terms split over windows: 260 = 240 + 20, and four windows of 54 rows; the
        // smallest.
        (INPUT_GRAD_MASKED, g(37, 68, 260)),
        (INPUT_GRAD, g(5, 300, 200)),
        (INPUT_GRAD_MASKED, g(1, 4, 4)),
        // fc1's and fc2's weight gradients; M a multiple of 4 but not of the 32 a workgroup
        // takes, a prime batch; one term; terms over two windows.
        (WEIGHT_GRAD, g(120, 256, 100)),
        (WEIGHT_GRAD, g(84, 120, 100)),
        (WEIGHT_GRAD, g(12, 20, 37)),
        (WEIGHT_GRAD, g(4, 4, 1)),
        (WEIGHT_GRAD, g(8, 300, 60)),
        // fc3's (10 outputs: dy read as scalars), and 3 rows: one lane.
        (WEIGHT_GRAD, g(10, 84, 100)),
        (WEIGHT_GRAD, g(3, 8, 5)),
    ]
}

/// Whether the device runs subgroups of a width the generated kernel is written for; says
/// so if not.
fn subgroups(gpu: &lenet_gpu::gpu::Gpu) -> bool {
    let yes = lenet_gpu::kernels::subgroup_lanes(gpu).is_some();
    if !yes {
        eprintln!("skipped: the generated dense products need subgroups of one fixed width");
    }
    yes
}

#[test]
fn dense_direct_matches_reference() {
    let gpu = gpu();
    let dense = DenseDirect::new(gpu);
    if !subgroups(gpu) {
        return;
    }
    for (i, (p, s)) in cases().into_iter().enumerate() {
        assert!(dense.supports(p, s), "{p:?} {s:?}");
        check(p, s, 1200 + i as u64, &|a, b, op, c| dense.dense_direct(gpu, p, s, GemmViews { a, b, operand: op, c }));
    }
}

#[test]
fn dense_falls_back_to_the_gemm() {
    // fc3's input gradient (10 outputs: K not a multiple of 4), inputs not a multiple of 4
    // (A's rows, or B's in the weight gradient), a batched product: the GEMM computes them.
    let gpu = gpu();
    let kernels = Kernels::new(gpu).unwrap();
    let g = GemmShape::new;
    let fallbacks = [(INPUT_GRAD_MASKED, g(100, 84, 10)), (FORWARD, g(9, 7, 30)), (WEIGHT_GRAD, g(12, 13, 37))];
    assert!(!kernels.dense_direct.supports(FORWARD, GemmShape::batched(9, 8, 32, 2, 0, 0)));
    for (i, (p, s)) in fallbacks.into_iter().enumerate() {
        assert!(!kernels.dense_direct.supports(p, s), "{p:?} {s:?}");
        check(p, s, 1300 + i as u64, &|a, b, op, c| kernels.dense(gpu, p, s, GemmViews { a, b, operand: op, c }));
    }
    // A squash the GEMM cannot apply: dense_activation leaves it to the layer, and
    // Kernels::dense refuses it rather than return unsquashed sums.
    let odd = g(9, 7, 30);
    assert_eq!(kernels.dense_activation(ConvActivation::Squash(SquashFn::ScaledTanh), odd), ConvActivation::None);
    let [ga, gb, gbias, gc] = [odd.a_len(), odd.b_len(), 7, odd.c_len()].map(|len| gpu.storage("v", len as usize));
    let views =
        GemmViews { a: View::whole(&ga), b: View::whole(&gb), operand: Some(View::whole(&gbias)), c: View::whole(&gc) };
    let err = kernels.dense(gpu, FORWARD_TANH, odd, views).err().expect("refused");
    assert!(err.to_string().contains("no squash"), "{err}");
    // And where it applies, Kernels::dense runs the generated kernel to the same result.
    let s = g(9, 8, 32);
    check(FORWARD_LINEAR, s, 1310, &|a, b, op, c| {
        kernels.dense(gpu, FORWARD_LINEAR, s, GemmViews { a, b, operand: op, c })
    });
}

#[test]
fn weight_gradients_come_with_the_bias_gradient_in_one_dispatch_where_generated() {
    // `Kernels::dense_weight_grad`: dW = dyᵀ·x and db = Σ over the batch of dy. fc1's,
    // fc2's and fc3's (one dispatch on subgroups), rows not a multiple of a workgroup's,
    // one row of dy, and 13 inputs (the GEMM and a reduction). db must be the bits the
    // reduction gives, which the layers used before.
    let gpu = gpu();
    let kernels = Kernels::new(gpu).unwrap();
    let g = GemmShape::new;
    let generated = subgroups(gpu);
    for (i, (s, dispatches)) in [
        (g(120, 256, 100), 1),
        (g(84, 120, 100), 1),
        (g(12, 20, 37), 1),
        (g(4, 4, 1), 1),
        (g(10, 84, 100), 1),
        (g(12, 13, 37), 2),
    ]
    .into_iter()
    .enumerate()
    {
        let dispatches = if generated { dispatches } else { 2 };
        let mut r = rng(1500 + i as u64);
        let (dy, x) = (uniform(&mut r, s.a_len() as usize, -1.0, 1.0), uniform(&mut r, s.b_len() as usize, -1.0, 1.0));
        let mut want_dw = vec![0.0; s.c_len() as usize];
        reference::gemm::gemm(Transpose::A, Epilogue::None, s, &dy, &x, None, &mut want_dw);
        let mut want_db = vec![0.0f32; s.m as usize];
        dy.chunks(s.m as usize).for_each(|row| want_db.iter_mut().zip(row).for_each(|(d, v)| *d += v));
        let (gdy, gx) = (gpu.storage_from("dy", &dy), gpu.storage_from("x", &x));
        let (gdw, gdb) = (nan_buffer(gpu, "dw", want_dw.len()), nan_buffer(gpu, "db", want_db.len()));
        let list = kernels
            .dense_weight_grad(gpu, s, View::whole(&gdy), View::whole(&gx), View::whole(&gdw), View::whole(&gdb))
            .unwrap();
        assert_eq!(list.len(), dispatches, "{s:?}");
        list.into_iter().for_each(|d| run(gpu, d));
        assert_close(&format!("dW {s:?}"), &read(gpu, &gdw, want_dw.len()), &want_dw, tol(s.k));
        let reduced = nan_buffer(gpu, "reduced", want_db.len());
        let shape = lenet_gpu::shapes::ReduceShape::new(s.k, s.m, 1);
        run(gpu, kernels.reduce.sum_reduce(gpu, shape, View::whole(&gdy), View::whole(&reduced)).unwrap());
        let db = read(gpu, &gdb, want_db.len());
        assert_close(&format!("db {s:?}"), &db, &want_db, tol(s.k));
        assert_close(&format!("db {s:?} against the reduction"), &db, &read(gpu, &reduced, want_db.len()), EXACT);
    }
}

#[test]
fn misaligned_or_missing_operands_are_refused() {
    let gpu = gpu();
    let dense = DenseDirect::new(gpu);
    if !subgroups(gpu) {
        return;
    }
    let s = GemmShape::new(4, 8, 16);
    let (x, w, b, y) = (gpu.storage("x", 80), gpu.storage("w", 256), gpu.storage("b", 8), gpu.storage("y", 32));
    let (xv, wv, bv, yv) = (View::whole(&x), View::whole(&w), View::whole(&b), View::whole(&y));
    let w_off = View { buffer: &w, offset: 1, len: 128 };
    let err = dense
        .dense_direct(gpu, FORWARD, s, GemmViews { a: xv, b: w_off, operand: Some(bv), c: yv })
        .err()
        .expect("W at 1");
    assert!(err.to_string().contains("alignment"), "{err}");
    let x_off = View { buffer: &x, offset: 2, len: 64 };
    let err = dense
        .dense_direct(gpu, FORWARD, s, GemmViews { a: x_off, b: wv, operand: Some(bv), c: yv })
        .err()
        .expect("x at 2");
    assert!(err.to_string().contains("vec4"), "{err}");
    let short = View { buffer: &w, offset: 0, len: 100 };
    assert!(dense.dense_direct(gpu, FORWARD, s, GemmViews { a: xv, b: short, operand: Some(bv), c: yv }).is_err());
    let err =
        dense.dense_direct(gpu, FORWARD, s, GemmViews { a: xv, b: wv, operand: None, c: yv }).err().expect("no bias");
    assert!(err.to_string().contains("operand"), "{err}");
    let err = dense
        .dense_direct(gpu, WEIGHT_GRAD, s, GemmViews { a: xv, b: wv, operand: Some(bv), c: yv })
        .err()
        .expect("an operand");
    assert!(err.to_string().contains("operand"), "{err}");
    let with_bias = DenseProduct::WeightGrad { bias: true };
    let err =
        dense.dense_direct(gpu, with_bias, s, GemmViews { a: xv, b: wv, operand: None, c: yv }).err().expect("no db");
    assert!(err.to_string().contains("bias gradient"), "{err}");
}

/// A dense stack's forward in one dispatch ([`DenseDirect::dense_stack_forward`]) against
/// the same layers' forwards one dispatch each: the same bits, hidden outputs stored or
/// not, and each layer within the reference's tolerance of the GEMM twin on its input.
fn check_stack(batch: u32, inputs: u32, layers: &[StackLayer], store_hidden: bool, seed: u64) {
    let gpu = gpu();
    let dense = DenseDirect::new(gpu);
    assert!(dense.supports_stack(inputs, layers), "{layers:?} on {inputs}");
    let mut r = rng(seed);
    let x = uniform(&mut r, (batch * inputs) as usize, -1.0, 1.0);
    let gx = gpu.storage_from("x", &x);
    let (mut k, mut input) = (inputs, x.clone());
    let (mut weights, mut biases, mut separate, mut stacked) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut wants = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        let s = GemmShape::new(batch, layer.outputs, k);
        let w = uniform(&mut r, s.b_len() as usize, -0.5, 0.5);
        let bias = uniform(&mut r, s.n as usize, -0.5, 0.5);
        // W 64 floats (256 bytes) into its buffer, as parameters are.
        let mut padded = vec![f32::NAN; 64];
        padded.extend(&w);
        weights.push((gpu.storage_from("w", &padded), w.len()));
        biases.push(gpu.storage_from("bias", &bias));
        separate.push(nan_buffer(gpu, "separate", s.c_len() as usize));
        let stored = store_hidden || l + 1 == layers.len();
        stacked.push(stored.then(|| nan_buffer(gpu, "stacked", s.c_len() as usize)));
        let p = DenseProduct::Forward { activation: layer.activation };
        let a = if l == 0 { View::whole(&gx) } else { View::whole(&separate[l - 1]) };
        let wv = View { buffer: &weights[l].0, offset: 64, len: w.len() as u64 };
        let views = GemmViews { a, b: wv, operand: Some(View::whole(&biases[l])), c: View::whole(&separate[l]) };
        run(gpu, dense.dense_direct(gpu, p, s, views).unwrap());
        let mut want = vec![0.0; s.c_len() as usize];
        let (transpose, epilogue) = p.gemm_form();
        reference::gemm::gemm(transpose, epilogue, s, &input, &w, Some(&bias), &mut want);
        if let Some(f) = p.squash() {
            let linear = want.clone();
            reference::squash::squash_forward(f, &linear, &mut want);
        }
        wants.push(want);
        input = read(gpu, &separate[l], s.c_len() as usize);
        k = layer.outputs;
    }
    let views: Vec<StackViews> = (0..layers.len())
        .map(|l| StackViews {
            w: View { buffer: &weights[l].0, offset: 64, len: weights[l].1 as u64 },
            bias: View::whole(&biases[l]),
            y: stacked[l].as_ref().map(View::whole),
        })
        .collect();
    run(gpu, dense.dense_stack_forward(gpu, batch, (inputs, View::whole(&gx)), layers, &views).unwrap());
    let mut k = inputs;
    for (l, layer) in layers.iter().enumerate() {
        let len = (batch * layer.outputs) as usize;
        if let Some(y) = &stacked[l] {
            let (got, label) = (read(gpu, y, len), format!("layer {l} of {layers:?}, batch {batch}"));
            assert_close(&label, &got, &read(gpu, &separate[l], len), EXACT);
            assert_close(&label, &got, &wants[l], Tol { abs: 1.2 * tol(k).abs + 1e-6, rel: 1e-5 });
        }
        k = layer.outputs;
    }
}

#[test]
fn a_dense_stack_is_its_layers_in_one_dispatch() {
    let gpu = gpu();
    if !subgroups(gpu) {
        return;
    }
    let layer = |outputs, activation| StackLayer { outputs, activation };
    let (relu, none) = (ConvActivation::Relu, ConvActivation::None);
    let lenet5 = [layer(120, relu), layer(84, relu), layer(10, none)];
    // LeNet-5's fc1 -> fc2 -> fc3 at batch 100, hidden outputs stored (training) and not
    // (evaluation), and at batch 1000.
    check_stack(100, 256, &lenet5, true, 1600);
    check_stack(100, 256, &lenet5, false, 1601);
    check_stack(1000, 256, &lenet5, false, 1602);
    // One row; a batch not a multiple of a workgroup's 32 rows; squashes; two layers; one.
    let tanh = ConvActivation::Squash(SquashFn::ScaledTanh);
    let small = [layer(12, tanh), layer(8, ConvActivation::Squash(SquashFn::Sigmoid)), layer(5, none)];
    check_stack(1, 28, &small, true, 1603);
    check_stack(37, 28, &small, false, 1604);
    check_stack(37, 260, &[layer(68, relu), layer(3, none)], true, 1605);
    check_stack(5, 8, &[layer(4, relu)], false, 1606);
}

#[test]
fn a_dense_stack_refuses_what_it_cannot_compute() {
    let gpu = gpu();
    let dense = DenseDirect::new(gpu);
    if !subgroups(gpu) {
        return;
    }
    let layer = |outputs| StackLayer { outputs, activation: ConvActivation::Relu };
    // A hidden layer of 10 (the next one's inputs not whole vec4s), inputs not whole
    // vec4s, no layer, more than 3.
    assert!(!dense.supports_stack(256, &[layer(10), layer(4)]));
    assert!(!dense.supports_stack(30, &[layer(8)]));
    assert!(!dense.supports_stack(256, &[]));
    assert!(!dense.supports_stack(16, &[layer(8), layer(8), layer(8), layer(8)]));
    let (x, w, b, y) = (gpu.storage("x", 64), gpu.storage("w", 256), gpu.storage("b", 8), gpu.storage("y", 32));
    let v = |buffer| View::whole(buffer);
    let layers = [layer(8), layer(4)];
    let hidden = StackViews { w: v(&w), bias: v(&b), y: Some(v(&y)) };
    let last = StackViews { w: v(&w), bias: v(&b), y: Some(v(&y)) };
    let no_output = StackViews { y: None, ..last };
    let misaligned = StackViews { w: View { buffer: &w, offset: 1, len: 128 }, ..hidden };
    for (views, what) in [
        (vec![hidden, no_output], "last layer's output"),
        (vec![last], "views for 2 layers"),
        (vec![misaligned, last], "alignment"),
    ] {
        let err = dense.dense_stack_forward(gpu, 4, (16, v(&x)), &layers, &views).err().expect(what);
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
}
