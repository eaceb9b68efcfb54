//! The library in a web page (web/, issue 31): headless Chromium's WebGPU (SwiftShader)
//! runs the page's wasm and its answers are set against the native library's on this
//! machine's adapter (lavapipe), for checkpoints trained natively, and a model trained in
//! the page is checked by `lenet-gpu eval`. Different adapters round differently: the
//! tolerances say how far apart they may be, and each test prints how far apart they were.

#[path = "../common/mod.rs"]
mod common;
mod driver;
mod explorer;
mod served;

use std::collections::HashMap;
use std::path::Path;

use common::{briefly_trained, gpu};
use driver::{floats, Browser};
use lenet_gpu::checkpoint::save_model;
use lenet_gpu::data::picture::{decode_picture, read_picture, Preprocess};
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::eval::Evaluator;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::{Arch, Ctx, NetSpec};
use lenet_gpu::predict::predict;
use lenet_gpu::train::{Recipe, Trainer};
use lenet_gpu::viz::features::feature_maps;
use pollster::FutureExt;
use serde_json::{json, Value};
use served::Served;

/// The page's logits may differ from the native ones by this much (float rounding).
const LOGIT_TOL: f32 = 1e-4;
/// Feature maps: this much, relative to max(1, |value|).
const MAP_TOL: f32 = 1e-5;

/// The page as `lenet-gpu serve` serves it (with `args`).
fn page(args: &[&str]) -> (Served, Browser) {
    let served = Served::start(&[&["--port", "0"], args].concat());
    let browser = Browser::open(&format!("{}/web/index.html", served.origin));
    (served, browser)
}

/// What the native library answers for a model: the scores of the first `n` test images,
/// how many of the first `eval_n` it gets right, and the feature maps of test image 12.
struct Native {
    scores: Vec<f32>,
    classes: Vec<usize>,
    correct: u32,
    maps: Vec<(String, Vec<f32>)>,
}

fn native(net: NetSpec, params: &[f32], n: usize, eval_n: usize) -> Native {
    let kernels = Kernels::new(gpu()).unwrap();
    let layout = net.arch.layout();
    let buffer = gpu().storage_from("params", params);
    let ctx = Ctx::new(gpu(), &kernels, &layout, &buffer);
    let test = Dataset::bundled(Split::Test).unwrap();
    let images: Vec<Vec<f32>> = (0..n).map(|i| test.input(i)).collect();
    let p = predict(&ctx, net, &images).block_on().unwrap();
    let r = Evaluator::new(&ctx, net, &test.take(eval_n)).unwrap().run(gpu(), false).block_on().unwrap();
    let fm = feature_maps(&ctx, net, &test.input(12)).block_on().unwrap();
    Native {
        scores: p.iter().flat_map(|p| p.scores.clone()).collect(),
        classes: p.iter().map(|p| p.class).collect(),
        correct: (r.accuracy as f64 * r.samples as f64).round() as u32,
        maps: fm.maps.into_iter().map(|m| (m.name, m.values)).collect(),
    }
}

/// The page's answers for the model at `url`: the same as [`native`]'s, plus Integrated
/// Gradients' sum and score difference for test image 12's predicted class.
const PAGE_ANSWERS: &str = r#"
    const [url, n, evalN] = args;
    const model = lenet.Model.fromSafetensors(lab, await lenet.fetchBytes(url));
    const test = await lenet.mnist("test");
    const inputs = new Float32Array(n * 784);
    for (let i = 0; i < n; i++) inputs.set(test.input(i), i * 784);
    const p = await model.predict(inputs);
    const evaluation = await model.evaluate(test.take(evalN));
    const image = test.input(12);
    const fm = await model.featureMaps(image);
    const maps = [];
    for (let i = 0; i < fm.length; i++) maps.push([fm.name(i), Array.from(fm.values(i))]);
    const target = (await model.predict(image)).classes[0];
    const ig = await model.saliency(image, target, "integrated-gradients");
    return {
        arch: model.arch,
        scores: Array.from(p.scores),
        classes: Array.from(p.classes),
        correct: evaluation.correct,
        maps,
        igSum: ig.map.reduce((a, b) => a + b, 0),
        igDelta: ig.outputDelta,
    };
"#;

/// Sets the page's answers against the native ones for `net` with `params`.
fn check_page_against_native(name: &str, net: NetSpec, params: &[f32], n: usize, eval_n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.safetensors"));
    save_model(&file, net.arch, params, HashMap::new()).unwrap();
    let want = native(net, params, n, eval_n);
    // The model preloaded by `lenet-gpu serve --model`, where the page finds it.
    let (_served, browser) = page(&["--model", file.to_str().unwrap()]);
    let got = browser.run(PAGE_ANSWERS, json!(["/model.safetensors", n, eval_n]));
    assert_eq!(got["arch"], net.arch.checkpoint_name());

    let scores = floats(&got["scores"]);
    assert_eq!(scores.len(), want.scores.len());
    let worst = scores.iter().zip(&want.scores).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    println!("{name}: scores of {n} test images differ by at most {worst:e}");
    assert!(worst <= LOGIT_TOL, "{name}: the page's scores differ from the native ones by {worst}");
    let classes: Vec<usize> = got["classes"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as usize).collect();
    let differ = classes.iter().zip(&want.classes).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{name}: {differ} of {n} predicted classes differ");

    let correct = got["correct"].as_u64().unwrap() as u32;
    println!("{name}: {correct} of {eval_n} right in the page, {} natively", want.correct);
    assert!(correct.abs_diff(want.correct) <= 2, "{name}: page {correct} right, native {}", want.correct);

    let maps = got["maps"].as_array().unwrap();
    assert_eq!(maps.len(), want.maps.len(), "{name}: feature maps");
    for (page_map, (map_name, values)) in maps.iter().zip(&want.maps) {
        assert_eq!(page_map[0], map_name.as_str());
        let page_values = floats(&page_map[1]);
        assert_eq!(page_values.len(), values.len(), "{name}: {map_name}");
        let worst = page_values.iter().zip(values).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max);
        assert!(worst <= MAP_TOL, "{name}: feature map {map_name} differs by {worst} (relative)");
    }

    let (sum, delta) = (got["igSum"].as_f64().unwrap(), got["igDelta"].as_f64().unwrap());
    println!("{name}: Integrated Gradients sum to {sum}, score(x) - score(baseline) = {delta}");
    assert!((sum - delta).abs() <= 0.01 * delta.abs(), "{name}: completeness off: sum {sum}, delta {delta}");
}

#[test]
fn a_lenet5_checkpoint_answers_in_the_page_as_natively() {
    let (_, params) = briefly_trained();
    check_page_against_native("lenet5", NetSpec::default(), params, 1000, 10_000);
}

#[test]
fn a_lenet1998_checkpoint_answers_in_the_page_as_natively() {
    // The RBF head and the connection table; briefly trained so that its classes mean something.
    let train = Dataset::bundled(Split::Train).unwrap().take(1000);
    let recipe = Recipe { epochs: 1, batch_size: 10, ..Recipe::lenet1998() };
    let mut trainer = Trainer::new(gpu(), recipe.clone(), &train).unwrap();
    trainer.train_epoch(&mut |_| {}).block_on().unwrap();
    let params = trainer.read_params().block_on().unwrap();
    check_page_against_native("lenet1998", recipe.net(), &params, 200, 1000);
}

/// Trains `steps` batches of 100 in the page from `seed`; returns the test loss before
/// and after (first 1,000 test images), the parameters, their safetensors file and the
/// page's accuracy on the whole test set.
const PAGE_TRAINING: &str = r#"
    const [seed, steps] = args;
    const train = (await lenet.mnist("train")).take(steps * 100);
    const test = await lenet.mnist("test");
    const before = await lenet.Model.fromPreset(lab, "fast", seed).evaluate(test.take(1000));
    const run = async () => {
        const training = lenet.Training.new(lab, "fast", seed, 1, 100, train);
        const progress = [];
        while (training.epoch < 1) {
            const p = await training.trainSteps(10);
            progress.push([p.step, p.loss]);
        }
        return [await training.model(), progress];
    };
    const [model, progress] = await run();
    const [again] = await run();
    const params = await model.parameters();
    const paramsAgain = await again.parameters();
    const after = await model.evaluate(test.take(1000));
    const all = await model.evaluate(test);
    return {
        before: before.loss, after: after.loss, accuracy: all.accuracy, correct: all.correct,
        progress,
        finite: params.every(Number.isFinite),
        identical: params.length === paramsAgain.length && params.every((v, i) => Object.is(v, paramsAgain[i])),
        file: Array.from(await model.safetensors()),
    };
"#;

#[test]
fn training_in_the_page_learns_repeats_and_hands_out_a_model_the_cli_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, browser) = page(&[]);
    let got = browser.run(PAGE_TRAINING, json!([7, 100]));
    let (before, after) = (got["before"].as_f64().unwrap(), got["after"].as_f64().unwrap());
    println!("page: test loss {before} before 100 steps, {after} after; progress {}", got["progress"]);
    assert!(after < before * 0.5, "the loss did not fall: {before} -> {after}");
    assert_eq!(got["finite"], true, "non-finite weights after training");
    assert_eq!(got["identical"], true, "two runs from the same seed gave different weights");
    assert!(!got["progress"].as_array().unwrap().is_empty(), "no progress reported");

    let file = dir.path().join("page.safetensors");
    let bytes: Vec<u8> = got["file"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
        .args(["eval", "--json", "--model"])
        .arg(&file)
        .env("LENET_GPU_KERNELS", "fast")
        .output()
        .unwrap();
    assert!(out.status.success(), "lenet-gpu eval: {}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli_correct = (cli["accuracy"].as_f64().unwrap() * cli["samples"].as_f64().unwrap()).round() as u64;
    let page_correct = got["correct"].as_u64().unwrap();
    println!("the page's model: {page_correct} of 10,000 right in the page, {cli_correct} by lenet-gpu eval");
    assert!(page_correct.abs_diff(cli_correct) <= 2, "page {page_correct}, CLI {cli_correct}");
}

/// A picture drawn on a canvas, its RGBA pixels prepared in the page (`prepareRgba`).
const PAGE_PICTURE: &str = r#"
    const [png] = args;
    const blob = new Blob([new Uint8Array(png)], { type: "image/png" });
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return Array.from(lenet.prepareRgba(bitmap.width, bitmap.height, new Uint8Array(rgba.buffer), "mnist"));
"#;

#[test]
fn a_canvas_picture_is_prepared_in_the_page_as_predict_prepares_the_file() {
    let (_served, browser) = page(&[]);
    // Ink on white, and ink on transparency (where the alpha is the ink).
    for name in ["test12_nine_on_white.png", "seven_on_transparency.png"] {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/digits").join(name);
        let want = read_picture(&file, Preprocess::Mnist).unwrap();
        let got = floats(&browser.run(PAGE_PICTURE, json!([std::fs::read(&file).unwrap()])));
        assert_eq!(got.len(), want.len(), "{name}");
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-6, "{name}: the page's 28x28 differs from predict's by {worst}");
    }
}

/// After the strokes: the prediction's text, the 28x28 input, the probabilities and the
/// drawing as a PNG, once the page has classified it.
const PAGE_DRAWN: &str = r#"
    while (!window.lenetDraw || window.lenetDraw.pending) await new Promise((r) => setTimeout(r, 20));
    await window.lenetSettled();
    const canvas = document.querySelector("[data-testid=draw]");
    const png = new Uint8Array(await (await new Promise((r) => canvas.toBlob(r, "image/png"))).arrayBuffer());
    return {
        text: document.querySelector("[data-testid=prediction]").textContent,
        bars: document.querySelectorAll("[data-testid=probabilities] meter").length,
        input: Array.from(window.lenetDraw.input),
        probabilities: window.lenetDraw.probabilities,
        png: Array.from(png),
        predictMs: window.lenetTimings.predict,
    };
"#;

/// Points around an ellipse centred on (0, 0).
fn ellipse(rx: f64, ry: f64) -> Vec<(i32, i32)> {
    (0..=24)
        .map(|i| i as f64 * std::f64::consts::TAU / 24.0)
        .map(|t| ((rx * t.sin()) as i32, (-ry * t.cos()) as i32))
        .collect()
}

#[test]
fn digits_drawn_with_the_pointer_are_read_as_drawn() {
    let (_, params) = briefly_trained();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lenet5.safetensors");
    save_model(&file, Arch::Lenet5, params, HashMap::new()).unwrap();
    let (_served, browser) = page(&["--model", file.to_str().unwrap()]);
    let ready = "while (document.body.dataset.ready !== 'true') await new Promise((r) => setTimeout(r, 50));
        return document.querySelector('[data-testid=prediction]').textContent;";
    assert_eq!(browser.run(ready, json!(null)), "draw a digit", "an empty canvas names no class");
    let kernels = Kernels::new(gpu()).unwrap();
    let layout = Arch::Lenet5.layout();
    let buffer = gpu().storage_from("params", params);
    let ctx = Ctx::new(gpu(), &kernels, &layout, &buffer);
    let digits = [
        (7, vec![vec![(-70, -85), (70, -85), (-5, 95)]]),
        (1, vec![vec![(5, -95), (0, 0), (-5, 95)]]),
        (0, vec![ellipse(55.0, 90.0)]),
    ];
    for (digit, strokes) in digits {
        browser.run("document.querySelector('#clear').click(); return true;", json!(null));
        browser.draw("[data-testid=draw]", &strokes);
        let got = browser.run(PAGE_DRAWN, json!(null));
        let text = got["text"].as_str().unwrap();
        println!("drew a {digit}: the page says {text} ({:.0} ms to the answer)", got["predictMs"].as_f64().unwrap());
        assert!(text.starts_with(&digit.to_string()), "drew a {digit}, the page says {text}");
        browser.screenshot(&Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("page-drawn-{digit}.png")));
        assert_eq!(got["bars"], 10);
        // The page's input is lenet-gpu predict's preparation of the drawing as a PNG file.
        let input = floats(&got["input"]);
        let png: Vec<u8> = got["png"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        let want = decode_picture(Path::new("drawing.png"), &png, Preprocess::Mnist).unwrap();
        let worst = input.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-6, "drew a {digit}: the page's input differs from predict's by {worst}");
        // And its probabilities are the native ones for that input.
        let native = &predict(&ctx, NetSpec::default(), &[input]).block_on().unwrap()[0];
        let page = floats(&got["probabilities"]);
        let worst = page.iter().zip(&native.probabilities).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-4, "drew a {digit}: probabilities differ from the native ones by {worst}");
    }
}
