//! `Gpu::compile_pending`: every pipeline a plan binds is compiled before the first
//! submission, with progress, and with a helper process on a cold shader cache; and the
//! helper's protocol (`lenet-gpu compile-helper`). One test: it points Mesa's shader cache
//! at an empty directory before its devices are opened, which the whole process sees.

use std::sync::{Arc, Mutex};

use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::gpu::{serve_compile_helper, AdapterChoice, CompileHelper, CompileProgress, Gpu, Profile};
use lenet_gpu::train::{Recipe, Trainer};
use pollster::FutureExt;

fn open(profile: Profile) -> Gpu {
    Gpu::open(AdapterChoice::Auto, profile).block_on().unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"))
}

#[test]
fn compile_ahead_on_a_cold_cache() {
    let cache = tempfile::tempdir().unwrap();
    // Before any device of this process: Mesa reads it when its screen is made.
    std::env::set_var("MESA_SHADER_CACHE_DIR", cache.path());
    let portable = std::env::var_os("LENET_GPU_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0");
    let profile = if portable { Profile::Portable } else { Profile::Full };
    let gpu = open(profile);
    let train = Dataset::bundled(Split::Train).unwrap().take(100);
    let mut trainer = Trainer::new(&gpu, Recipe::default_recipe(), &train).unwrap();
    let pending = gpu.pending_compiles();
    if !gpu.compiles_at_first_dispatch() {
        // A driver that compiles when a pipeline is made has nothing to do here.
        assert_eq!(pending, 0);
        trainer.run_steps(1).block_on().unwrap();
        return;
    }
    // A training step binds ~20 distinct kernels (gather/augment, convolutions, dense,
    // loss, reductions, metrics, Adam).
    assert!(pending >= 15, "only {pending} pipelines queued for compiling");

    let seen: Arc<Mutex<Vec<CompileProgress>>> = Arc::default();
    let sink = seen.clone();
    gpu.set_compile_observer(Box::new(move |p| sink.lock().unwrap().push(p.clone())));
    gpu.set_compile_helper(CompileHelper {
        program: env!("CARGO_BIN_EXE_lenet-gpu").into(),
        args: vec!["compile-helper".into()],
    });
    gpu.compile_pending().unwrap();
    assert_eq!(gpu.pending_compiles(), 0);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first().map(|p| p.done), Some(0));
    assert!(seen.iter().all(|p| p.total == pending));
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done), "progress went back");
    assert_eq!(seen.last().map(|p| p.done), Some(pending), "not every kernel was reported compiled");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        assert!(seen.iter().any(|p| p.helpers > 0), "a cold cache on {cores} cores started no helper");
    }
    assert!(std::fs::read_dir(cache.path()).unwrap().next().is_some(), "nothing was written to the shader cache");

    // Nothing is left for the step, which trains as usual.
    let before = trainer.read_params().block_on().unwrap();
    trainer.run_steps(1).block_on().unwrap();
    assert_ne!(trainer.read_params().block_on().unwrap(), before);
    drop(gpu);

    // The helper's protocol, in this process: a header, jobs, one "done" per job.
    let info = open(profile).info;
    let header =
        format!("{{\"adapter\":{:?},\"driver_info\":{:?},\"portable\":{portable}}}", info.name, info.driver_info);
    let job = r#"{"label":"t","source":"@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(1) fn main() { x[0] = 1.0; }","entry":"main","constants":[],"binding_bytes":[16]}"#;
    let input = format!("{header}\n{job}\n{job}\n");
    let mut out = Vec::new();
    serve_compile_helper(input.as_bytes(), &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "done\ndone\n");
    let err = serve_compile_helper("not json\n".as_bytes(), Vec::new()).unwrap_err().to_string();
    assert!(err.contains("compile-helper") && err.contains("header"), "{err}");
    let unknown = "{\"adapter\":\"no such GPU\",\"driver_info\":\"\",\"portable\":false}\n";
    let err = serve_compile_helper(unknown.as_bytes(), Vec::new()).unwrap_err().to_string();
    assert!(err.contains("no such GPU"), "{err}");
}
