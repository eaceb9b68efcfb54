//! The `lenet-gpu` binary as a user runs it.

mod common;

use std::process::Command;

/// The binary on the fast kernels: `auto` would take the quick ones, and start a warm-up in
/// the background, whenever the shared shader cache lacks the note (the cold-cache test
/// below runs `auto` on a cache of its own).
fn lenet_gpu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
        .args(args)
        .env_remove("LENET_GPU_ADAPTER")
        .env("LENET_GPU_KERNELS", "fast")
        .output()
        .expect("the binary runs")
}

#[test]
fn adapters_lists_lavapipe_and_marks_the_auto_choice() {
    let out = lenet_gpu(&["adapters"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    // CI and every development machine here run Mesa's lavapipe ("llvmpipe" adapter).
    assert!(stdout.contains("llvmpipe"), "{stdout}");
    assert!(stdout.contains("Vulkan"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with('*')).count(), 1, "{stdout}");
}

#[test]
fn an_unavailable_backend_is_a_clear_error_not_a_panic() {
    // No DX12 on Linux: the error names the choice and says how to get an adapter.
    let dir = tempfile::tempdir().unwrap();
    let out = lenet_gpu(&["train", "--adapter", "dx12", "--epochs", "1", "--out", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(windows) {
        return;
    }
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("dx12") && stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_adapter_names_are_rejected_by_the_parser() {
    let out = lenet_gpu(&["train", "--adapter", "cuda"]);
    assert!(!out.status.success());
}

#[test]
fn summary_prints_the_keras_table() {
    let out = lenet_gpu(&["summary"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in ["conv1", "(None, 6, 24, 24)", "2,416", "30,840", "10,164", "Total params: 44,426", "Mult-Adds"] {
        assert!(stdout.contains(needle), "missing {needle}:\n{stdout}");
    }
    let out = lenet_gpu(&["summary", "--json", "--batch", "100"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary --json prints JSON");
    assert_eq!(json["total_mult_adds"], 281_640);
    assert_eq!(json["batch_mult_adds"], 28_164_000);
    assert_eq!(json["layers"][0]["layer"], "conv1");
    let out = lenet_gpu(&["summary", "--batch", "0"]);
    assert!(!out.status.success(), "a batch of 0 is refused");
}

#[test]
fn bad_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), b"\0\0\x08\x03short").unwrap();
    std::fs::write(dir.path().join("train-labels-idx1-ubyte"), b"\0\0\x08\x01\0\0\0\x01\x05").unwrap();
    let out = lenet_gpu(&[
        "train",
        "--epochs",
        "1",
        "--data",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("train-images-idx3-ubyte") && stderr.contains("truncated"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn eval_of_a_file_that_is_not_a_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let out = lenet_gpu(&["eval", "--model", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("model.safetensors") && stderr.contains("not a safetensors file"), "{stderr}");
}

#[test]
fn train_then_eval_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let out = lenet_gpu(&[
        "train",
        "--epochs",
        "1",
        "--train-limit",
        "500",
        "--batch-size",
        "50",
        "--out",
        out_dir,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let epoch: serde_json::Value =
        serde_json::from_str(stdout.lines().next().unwrap()).expect("one JSON object per epoch");
    assert_eq!(epoch["epoch"], 1);
    let acc = epoch["test_accuracy"].as_f64().unwrap();
    let model = dir.path().join("model.safetensors");
    let out = lenet_gpu(&["eval", "--model", model.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(eval["samples"], 10_000);
    assert!((eval["accuracy"].as_f64().unwrap() - acc).abs() < 1e-6, "eval agrees with training's last test pass");
}

fn assert_clear_error(args: &[&str], needles: &[&str]) {
    let out = lenet_gpu(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{args:?} should fail");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: missing {n:?} in:\n{stderr}");
    }
}

#[test]
fn visualize_rejects_bad_input_clearly() {
    assert_clear_error(
        &["visualize", "features", "--model", "/nonexistent/model.safetensors"],
        &["no checkpoint at /nonexistent/model.safetensors"],
    );
    assert_clear_error(&["visualize", "classes", "--model", "/nonexistent/m.safetensors"], &["no checkpoint"]);
    assert_clear_error(&["visualize", "features", "--index", "10000"], &["--index 10000 is out of range", "0..=9999"]);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("digit.png");
    std::fs::write(&bad, b"not a png").unwrap();
    assert_clear_error(
        &["visualize", "features", "--image", bad.to_str().unwrap()],
        &["digit.png", "cannot read image"],
    );
    assert_clear_error(&["visualize", "kernels", "--layer", "conv3"], &["conv3"]);
}

#[test]
fn visualize_model_needs_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("model");
    let out = lenet_gpu(&["visualize", "model", "--out", stem.to_str().unwrap(), "--rankdir", "LR"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stem.with_extension("svg").is_file() && stem.with_extension("png").is_file());
    let out = lenet_gpu(&["visualize", "model", "--out", stem.to_str().unwrap(), "--format", "dot"]);
    assert!(out.status.success());
    assert!(std::fs::read_to_string(stem.with_extension("dot")).unwrap().starts_with("digraph lenet5"));
}

#[test]
fn summary_of_the_1998_network_shows_the_papers_counts() {
    let out = lenet_gpu(&["summary", "--arch", "lenet1998"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in ["C3 (Conv 5x5, table", "1,516", "48,120", "10,164", "840", "Trainable params: 60,000"] {
        assert!(stdout.contains(needle), "missing {needle}:\n{stdout}");
    }
}

#[test]
fn lenet1998_recipes_and_pictures_from_the_command_line() {
    // A LeNet-5 preset with the 1998 network is refused before any GPU work.
    assert_clear_error(&["train", "--arch", "lenet1998", "--preset", "keras-seed"], &["keras-seed", "Lenet1998"]);
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    assert_clear_error(
        &["train", "--optimizer", "sdlm", "--epochs", "1", "--out", run.to_str().unwrap()],
        &["sdlm", "lenet1998"],
    );
    assert!(!run.exists(), "a recipe that cannot run creates no run directory");
    let out = lenet_gpu(&["train", "--lr", "nan", "--out", run.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--lr"), "{stderr}");
    assert!(!stderr.contains("checkpoint"), "no run started, so no checkpoint to speak of: {stderr}");
    assert!(!run.exists(), "--lr nan creates no run directory");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("rbf.png");
    let out = lenet_gpu(&["visualize", "rbf", "--out", png.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = image::open(&png).unwrap();
    assert!(
        img.width() > 10 * 7 * 12 && img.height() > 12 * 12,
        "ten 7x12 bitmaps at 12x: {}x{}",
        img.width(),
        img.height()
    );
    let stem = dir.path().join("m98");
    let out = lenet_gpu(&["visualize", "model", "--arch", "lenet1998", "--out", stem.to_str().unwrap()]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(svg.contains("C3: Conv 5x5, table") && svg.contains("840 (fixed)"), "{svg}");
}

/// A checkpoint of random LeNet-5 weights with `fc1.weight[0]` set to NaN, the bytes
/// patched in place (the library refuses to write one).
fn nan_checkpoint(path: &std::path::Path) {
    use lenet_gpu::model::{params::Init, Arch, ParamLayout};
    use rand::SeedableRng;
    let layout = ParamLayout::lenet5();
    let params = layout.init(Init::HeUniform, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    lenet_gpu::checkpoint::save_model(path, Arch::Lenet5, &params, Default::default()).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let start = header["fc1.weight"]["data_offsets"][0].as_u64().unwrap() as usize + 8 + header_len;
    bytes[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_checkpoint_with_a_nan_weight_is_refused_naming_the_tensor() {
    // Before: accepted, and evaluated to 99.01% because WGSL's max() drops the NaN.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.safetensors");
    nan_checkpoint(&path);
    assert_clear_error(
        &["eval", "--model", path.to_str().unwrap()],
        &["nan.safetensors", "fc1.weight", "1 non-finite"],
    );
    assert_clear_error(&["visualize", "kernels", "--model", path.to_str().unwrap()], &["fc1.weight", "non-finite"]);
}

#[test]
fn train_out_that_is_a_file_says_so() {
    // Before: "File exists (os error 17)".
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    assert_clear_error(
        &["train", "--epochs", "1", "--train-limit", "100", "--out", file.to_str().unwrap()],
        &["--out", "afile", "a file is there"],
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x", "the file is left alone");
}

#[test]
fn ascent_options_out_of_range_name_the_option() {
    // Before: a Debug dump of the whole AscentConfig.
    assert_clear_error(&["visualize", "classes", "--steps", "0"], &["--steps must be at least 1"]);
    assert_clear_error(&["visualize", "filters", "--lr", "0"], &["--lr must be a positive number"]);
    assert_clear_error(&["visualize", "filters", "--l2", "1.5"], &["--l2 must be in [0, 1)"]);
    let out = lenet_gpu(&["visualize", "classes", "--steps", "0"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("AscentConfig"));
}

#[test]
fn a_second_train_into_the_same_out_is_refused_while_the_first_runs() {
    // Before: both ran, the last writer won. The lock is the OS's, held by the running
    // process: here this test process holds it.
    let dir = tempfile::tempdir().unwrap();
    let lock = lenet_gpu::run::lock_run_dir(dir.path()).unwrap();
    let args = ["train", "--epochs", "1", "--train-limit", "100", "--out", dir.path().to_str().unwrap()];
    let pid = std::process::id().to_string();
    assert_clear_error(&args, &["another `lenet-gpu train`", &pid, "choose another --out"]);
    drop(lock);
    // Released (as when the first run exits, however it exits): the next run proceeds.
    let out = lenet_gpu(&[&args[..], &["--quiet"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn eval_reads_a_half_precision_state_dict_without_metadata() {
    // PyTorch's save_file(model.half().state_dict()): F16, no metadata.
    use lenet_gpu::model::{params::Init, ParamLayout};
    let layout = ParamLayout::lenet5();
    let params = layout.init(Init::HeUniform, &mut common::rng(2));
    let tensors: Vec<_> =
        layout.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), params[t.range()].to_vec())).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.safetensors");
    common::write_state_dict(&path, &tensors, "F16");
    let out = lenet_gpu(&["eval", "--model", path.to_str().unwrap(), "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("F16 tensors read as f32"), "{stderr}");
    let eval: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(eval["samples"], 10_000);
    let png = dir.path().join("k.png");
    let out = lenet_gpu(&["visualize", "kernels", "--model", path.to_str().unwrap(), "--out", png.to_str().unwrap()]);
    assert!(out.status.success() && png.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = lenet_gpu(&["predict", png.to_str().unwrap(), "--model", path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["probabilities"].as_array().unwrap().len(), 10, "{p}");
    // And a LeNet-5 checkpoint cannot seed LeNet-1998's training.
    assert_clear_error(
        &["train", "--arch", "lenet1998", "--epochs", "1", "--init-from", path.to_str().unwrap()],
        &["--init-from", "lenet5-keras", "lenet1998"],
    );
}

/// A state dict of random weights for `layout`, as PyTorch writes it (F32, no metadata).
fn random_checkpoint(path: &std::path::Path, layout: &lenet_gpu::model::ParamLayout) {
    let params = layout.init(lenet_gpu::model::params::Init::HeUniform, &mut common::rng(3));
    let tensors: Vec<_> =
        layout.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), params[t.range()].to_vec())).collect();
    common::write_state_dict(path, &tensors, "F32");
}

#[test]
fn predict_reads_a_directory_and_prints_json_or_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let pictures = dir.path().join("digits");
    std::fs::create_dir(&pictures).unwrap();
    let test = lenet_gpu::data::Dataset::bundled(lenet_gpu::data::Split::Test).unwrap();
    for i in [12, 0] {
        let img = image::GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap();
        img.save(pictures.join(format!("test{i:02}.png"))).unwrap();
    }
    std::fs::write(pictures.join("notes.txt"), "not a picture").unwrap();
    for (arch, layout, scores) in [
        ("lenet5", lenet_gpu::model::ParamLayout::lenet5(), "logits"),
        ("lenet1998", lenet_gpu::model::ParamLayout::lenet1998(), "distances"),
    ] {
        let model = dir.path().join(format!("{arch}.safetensors"));
        random_checkpoint(&model, &layout);
        let shown = dir.path().join(format!("seen-{arch}"));
        let out = lenet_gpu(&[
            "predict",
            pictures.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--json",
            "--top",
            "2",
            "--show-input",
            shown.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "the two PNGs, in name order; the .txt is skipped");
        assert!(lines[0]["file"].as_str().unwrap().ends_with("test00.png"), "{}", lines[0]);
        for j in &lines {
            let p: Vec<f64> = j["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(p.len(), 10);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{j}");
            let class = j["class"].as_u64().unwrap() as usize;
            assert_eq!(j["probability"].as_f64().unwrap(), p[class]);
            assert!(p.iter().all(|&q| q <= p[class]), "the class is the most probable: {j}");
            assert_eq!(j[scores].as_array().unwrap().len(), 10, "{arch}: {j}");
            assert_eq!(j["top"].as_array().unwrap().len(), 2);
            assert_eq!(j["top"][0]["class"].as_u64().unwrap() as usize, class);
        }
        let seen = image::open(shown.join("test12.png")).unwrap();
        assert_eq!((seen.width(), seen.height()), (28, 28), "what the network saw");
    }
    let out = lenet_gpu(&[
        "predict",
        pictures.join("test12.png").to_str().unwrap(),
        "--model",
        dir.path().join("lenet5.safetensors").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("file") && stdout.contains("test12.png"), "{stdout}");
}

#[test]
fn predict_rejects_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    random_checkpoint(&model, &lenet_gpu::model::ParamLayout::lenet5());
    let m = model.to_str().unwrap();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n then nothing").unwrap();
    assert_clear_error(&["predict", broken.to_str().unwrap(), "--model", m], &["broken.png", "cannot read image"]);
    assert_clear_error(&["predict", "/nonexistent/seven.png", "--model", m], &["seven.png", "no such file"]);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_clear_error(&["predict", empty.to_str().unwrap(), "--model", m], &["no .png, .jpg or .jpeg"]);
    assert_clear_error(&["predict", broken.to_str().unwrap(), "--top", "11"], &["--top", "11"]);
    assert_clear_error(&["predict"], &["IMAGE"]);
    // A blank picture is not a digit: said so beside the others, an error when all are.
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(40, 40, image::Luma([255])).save(&blank).unwrap();
    assert_clear_error(&["predict", blank.to_str().unwrap(), "--model", m], &["blank.png", "no ink"]);
    let test = lenet_gpu::data::Dataset::bundled(lenet_gpu::data::Split::Test).unwrap();
    let digit = dir.path().join("digit.png");
    image::GrayImage::from_raw(28, 28, test.image(12).to_vec()).unwrap().save(&digit).unwrap();
    let out = lenet_gpu(&["predict", blank.to_str().unwrap(), digit.to_str().unwrap(), "--model", m, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((lines[0]["blank"].as_bool(), lines[0]["class"].is_null()), (Some(true), true), "{}", lines[0]);
    assert!(lines[1]["class"].is_u64(), "{}", lines[1]);
    let out = lenet_gpu(&["predict", blank.to_str().unwrap(), digit.to_str().unwrap(), "--model", m]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no digit"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_clear_error(&["visualize", "saliency", "--image", blank.to_str().unwrap(), "--model", m], &["blank"]);
}

#[test]
fn every_explanation_runs_from_the_command_line_for_both_networks() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, layout) in
        [("lenet5", lenet_gpu::model::ParamLayout::lenet5()), ("lenet1998", lenet_gpu::model::ParamLayout::lenet1998())]
    {
        let model = dir.path().join(format!("{arch}.safetensors"));
        random_checkpoint(&model, &layout);
        let m = model.to_str().unwrap();
        let png = |name: &str| dir.path().join(format!("{arch}-{name}.png"));
        let runs: Vec<(&str, Vec<&str>)> = vec![
            ("ig", vec!["saliency", "--method", "integrated-gradients", "--steps", "128", "--target", "3"]),
            ("smoothgrad", vec!["saliency", "--method", "smoothgrad", "--samples", "4", "--index", "7"]),
            ("gradcam", vec!["gradcam", "--layer", "conv1", "--plus-plus"]),
            ("occlusion", vec!["occlusion", "--patch", "7", "--stride", "7"]),
        ];
        for (name, args) in runs {
            let out_png = png(name);
            let all =
                [&["visualize"], &args[..], &["--model", m, "--json", "--out", out_png.to_str().unwrap()]].concat();
            let out = lenet_gpu(&all);
            assert!(out.status.success(), "{all:?}: {}", String::from_utf8_lossy(&out.stderr));
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(image::open(&out_png).is_ok(), "{name}: {j}");
            if name == "ig" {
                assert_eq!(j["target"], 3);
                let (sum, delta) = (j["attribution_sum"].as_f64().unwrap(), j["output_delta"].as_f64().unwrap());
                assert!((sum - delta).abs() <= 0.01 * delta.abs().max(1e-3), "{arch}: completeness {j}");
            }
        }
    }
    let m = dir.path().join("lenet5.safetensors");
    for what in ["mistakes", "confusion"] {
        let out_png = dir.path().join(format!("{what}.png"));
        let out = lenet_gpu(&["visualize", what, "--model", m.to_str().unwrap(), "--out", out_png.to_str().unwrap()]);
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(image::open(&out_png).is_ok(), "{what}");
    }
}

#[test]
fn explanations_reject_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    random_checkpoint(&model, &lenet_gpu::model::ParamLayout::lenet5());
    let m = model.to_str().unwrap();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"not an image").unwrap();
    let b = broken.to_str().unwrap();
    assert_clear_error(&["visualize", "saliency", "--model", m, "--method", "lime"], &["lime", "--method"]);
    assert_clear_error(&["visualize", "saliency", "--model", m, "--steps", "0"], &["--steps", "0"]);
    assert_clear_error(&["visualize", "saliency", "--model", m, "--samples", "0"], &["--samples"]);
    assert_clear_error(&["visualize", "saliency", "--model", m, "--target", "10"], &["--target", "10"]);
    assert_clear_error(&["visualize", "gradcam", "--model", m, "--image", b], &["broken.png", "cannot read image"]);
    assert_clear_error(&["visualize", "occlusion", "--model", m, "--patch", "29"], &["--patch", "29"]);
    assert_clear_error(&["visualize", "occlusion", "--model", m, "--index", "10000"], &["--index", "out of range"]);
    assert_clear_error(&["visualize", "mistakes", "--model", m, "--count", "0"], &["--count"]);
}

#[test]
fn train_validates_on_a_split_and_reports_keras_names() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = run.to_str().unwrap();
    let base = ["train", "--epochs", "2", "--train-limit", "200", "--out", out];
    assert_clear_error(&[&base[..], &["--keep", "best"]].concat(), &["--keep best", "--validation-split"]);
    assert_clear_error(&[&base[..], &["--validation-split", "1.5"]].concat(), &["--validation-split", "[0, 1)"]);
    assert!(!run.exists(), "refused options create no run directory");
    let out = lenet_gpu(&[&base[..], &["--validation-split", "0.25", "--keep", "best", "--json"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("validation: the last 50 training images"), "{stderr}");
    assert!(stderr.contains("training on 150 images"), "{stderr}");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let epoch: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(epoch["val_loss"].is_f64() && epoch["val_accuracy"].is_f64(), "{epoch}");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("epoch,seconds,lr,train_loss,train_accuracy,val_loss,val_accuracy,"), "{csv}");
}

/// The first `train` and `test` images of the bundled MNIST as the four raw IDX files a
/// user's --data directory holds.
fn idx_dir(dir: &std::path::Path, train: usize, test: usize) {
    use lenet_gpu::data::{Dataset, Split};
    for (split, n, prefix) in [(Split::Train, train, "train"), (Split::Test, test, "t10k")] {
        let d = Dataset::bundled(split).unwrap().take(n);
        let mut images = [0x803u32, n as u32, 28, 28].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        images.extend(&d.images);
        let mut labels = [0x801u32, n as u32].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        labels.extend(&d.labels);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

#[test]
fn a_users_own_data_trains_without_digit_augmentation_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    idx_dir(&data, 100, 50);
    let run = |extra: &[&str]| {
        let out = dir.path().join("run");
        let args = [&["train", "--epochs", "1", "--json", "--out", out.to_str().unwrap()], extra].concat();
        let out = lenet_gpu(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr.lines().find(|l| l.starts_with("augmentation:")).unwrap_or_else(|| panic!("{stderr}")).to_string()
    };
    let own = run(&["--data", data.to_str().unwrap()]);
    assert!(own.starts_with("augmentation: none (--data brings your own pictures"), "{own}");
    let asked = run(&["--data", data.to_str().unwrap(), "--augment", "affine"]);
    assert!(asked.starts_with("augmentation: affine (shift 1.5 px") && asked.ends_with("(as asked)"), "{asked}");
    let digits = run(&["--train-limit", "100"]);
    assert!(digits.contains("affine") && digits.contains("the default preset's, tuned on MNIST's digits"), "{digits}");
}

/// On an empty shader cache, eval and predict answer on the quick kernels and say so; the
/// warm-up they start in the background compiles the fast ones and leaves its note in the
/// cache, after which the same commands run the fast kernels and agree with the quick ones.
#[test]
fn a_cold_cache_answers_on_the_quick_kernels_and_warms_up_the_fast_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = lenet_gpu(&["train", "--epochs", "1", "--train-limit", "500", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = dir.path().join("model.safetensors");
    let cache = tempfile::tempdir().unwrap();
    let digits = ["assets/digits/seven_on_transparency.png", "assets/digits/two_on_paper.jpg"];
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
            .args(args)
            .arg("--model")
            .arg(&model)
            .env_remove("LENET_GPU_ADAPTER")
            .env_remove("LENET_GPU_KERNELS")
            .env("MESA_SHADER_CACHE_DIR", cache.path())
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        let answers: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (answers, stderr.contains("runs on the quick kernels"))
    };
    let eval = ["eval", "--json", "--confusion"];
    let predict = [&["predict", "--json"][..], &digits].concat();
    let (cold_eval, quick) = run(&eval);
    assert!(quick, "a cold cache runs eval on the quick kernels");
    let (cold_predict, quick) = run(&predict);
    assert!(quick, "and predict, until the warm-up is done");

    let notes = |suffix: &str| {
        std::fs::read_dir(cache.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.starts_with("lenet-gpu-fast-kernels-") && name.ends_with(suffix)
            })
            .count()
    };
    let started = std::time::Instant::now();
    while notes("") != 1 || notes(".warming") != 0 {
        assert!(started.elapsed().as_secs() < 300, "no warm-up note after 5 minutes");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    println!("warm-up done {:.0} s after the first command", started.elapsed().as_secs_f64());

    let (warm_eval, quick) = run(&eval);
    assert!(!quick, "once warmed up, eval runs the fast kernels");
    let (warm_predict, quick) = run(&predict);
    assert!(!quick, "and so does predict");
    let (cold, warm) = (&cold_eval[0], &warm_eval[0]);
    assert_eq!(cold["confusion"], warm["confusion"], "the same classes for the whole test set");
    assert!((cold["loss"].as_f64().unwrap() - warm["loss"].as_f64().unwrap()).abs() < 1e-5, "{cold} {warm}");
    for (q, f) in cold_predict.iter().zip(&warm_predict) {
        assert_eq!(q["class"], f["class"]);
        let (q, f) = (q["probabilities"].as_array().unwrap(), f["probabilities"].as_array().unwrap());
        for (a, b) in q.iter().zip(f) {
            assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-5, "{q:?} {f:?}");
        }
    }
}
