//! `lenet-gpu export --format onnx`: the file an independent runtime (tract, pure Rust)
//! runs gives our GPU's class scores for a batch of test images, for both networks; its
//! initializers carry the checkpoint's names and its metadata the run's.

mod common;

use common::*;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::export::onnx::{export_onnx, output_name, INPUT};
use lenet_gpu::export::pb;
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::params::Init;
use lenet_gpu::model::{Arch, Ctx, InputSource, Mode, NetSpec};
use prost::Message;
use tract_onnx::prelude::*;

const BATCH: usize = 32;

/// The first test images as pixels in [0, 1].
fn images() -> Vec<f32> {
    let test = Dataset::bundled(Split::Test).unwrap();
    (0..BATCH).flat_map(|i| test.input(i)).collect()
}

/// Our GPU's scores (LeNet-5's logits, LeNet-1998's distances) for `x`.
fn gpu_scores(net: NetSpec, params: &[f32], x: &[f32]) -> Vec<f32> {
    let gpu = gpu();
    let (k, layout) = (Kernels::new(gpu).unwrap(), net.layout());
    let buf = gpu.storage_from("params", params);
    let plan = net.plan(&Ctx::new(gpu, &k, &layout, &buf), BATCH as u32, Mode::Inference, InputSource::Buffer).unwrap();
    gpu.write(View::whole(plan.x().unwrap()), x);
    gpu.run(&plan.forward_dispatches()).unwrap();
    let tap = if net.arch == Arch::Lenet5 { "logits" } else { "dist" };
    read(gpu, &plan.tap(tap).unwrap().tensor.value, BATCH * 10)
}

/// tract's scores for `x` from the ONNX file `bytes`, at batch `BATCH`.
fn tract_scores(bytes: &[u8], x: &[f32]) -> Vec<f32> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the file")
        .with_input_fact(0, f32::fact([BATCH, 1, 28, 28]).into())
        .unwrap()
        .into_optimized()
        .expect("tract optimizes the graph")
        .into_runnable()
        .unwrap();
    let input: Tensor = tract_ndarray::Array4::from_shape_vec((BATCH, 1, 28, 28), x.to_vec()).unwrap().into();
    let out = model.run(tvec!(input.into())).expect("tract runs the graph");
    out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect()
}

#[test]
fn tract_runs_the_exported_networks_as_our_gpu_does() {
    let x = images();
    for (arch, init, seed) in [(Arch::Lenet5, Init::HeUniform, 3), (Arch::Lenet1998, Init::Lecun98, 4)] {
        let net = NetSpec { arch, ..Default::default() };
        let layout = net.layout();
        let params = layout.init(init, &mut rng(seed));
        let meta = vec![("architecture".to_string(), arch.checkpoint_name().to_string())];
        let bytes = export_onnx(net, &layout, &params, &meta).unwrap();

        let model = pb::ModelProto::decode(&bytes[..]).unwrap();
        let graph = model.graph.as_ref().unwrap();
        assert_eq!(model.opset_import[0].version, Some(13));
        assert_eq!(model.metadata_props[0].value.as_deref(), Some(arch.checkpoint_name()));
        assert_eq!(graph.input[0].name.as_deref(), Some(INPUT));
        assert_eq!(graph.output[0].name.as_deref(), Some(output_name(net)));
        let names: Vec<&str> = graph.initializer.iter().filter_map(|t| t.name.as_deref()).collect();
        for t in &layout.tensors {
            assert!(names.contains(&t.name.as_str()), "{arch:?}: initializer {} missing", t.name);
            let init = graph.initializer.iter().find(|i| i.name.as_deref() == Some(&t.name)).unwrap();
            let dims: Vec<usize> = init.dims.iter().map(|&d| d as usize).collect();
            assert_eq!(dims, t.shape, "{}: the checkpoint's shape", t.name);
        }

        let want = gpu_scores(net, &params, &x);
        let got = tract_scores(&bytes, &x);
        // Sums of up to 400 products in another order (and LeNet-1998's distances, sums
        // of 84 squares of magnitude ~10); measured max |diff|: see the assertion message.
        let max_abs = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        eprintln!("{arch:?}: max |tract - gpu| = {max_abs:e}, scores up to {scale}");
        assert!(max_abs <= 1e-5 * scale.max(1.0), "{arch:?}: max |tract - gpu| = {max_abs:e} (scores up to {scale})");
        let argmax = |v: &[f32], min: bool| {
            let cmp = |a: &f32, b: &f32| if min { b.total_cmp(a) } else { a.total_cmp(b) };
            v.chunks(10).map(|r| r.iter().enumerate().max_by(|a, b| cmp(a.1, b.1)).unwrap().0).collect::<Vec<_>>()
        };
        let nearest = arch == Arch::Lenet1998;
        assert_eq!(argmax(&got, nearest), argmax(&want, nearest), "{arch:?}: the same predictions");
    }
}
