//! The explorer page (web/index.html, issue 32) as a visitor uses it: files chosen in its
//! file inputs, buttons clicked with WebDriver, and what it shows set against the CLI and
//! the native library on the same checkpoint. Each state is saved as a screenshot in
//! target/tmp/explorer-*.png (README's pictures are these).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lenet_gpu::checkpoint::{load_model_file, save_model};
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::explain::gradcam::grad_cam;
use lenet_gpu::explain::saliency::{saliency, Method, SaliencyConfig};
use lenet_gpu::model::{Arch, Ctx, NetSpec};
use lenet_gpu::predict::predict;
use lenet_gpu::train::{initial_params, Recipe};
use lenet_gpu::viz::features::feature_maps;
use lenet_gpu::viz::weights::ConvLayer;
use pollster::FutureExt;
use serde_json::{json, Value};

use crate::common::{briefly_trained, gpu};
use crate::driver::{floats, Browser};
use crate::page;

/// Probabilities: the page's may differ from the CLI's by this much.
const PROBABILITY_TOL: f32 = 1e-4;
/// Attribution maps: this much, relative to the map's largest magnitude.
const ATTRIBUTION_TOL: f32 = 1e-3;

fn shot(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("explorer-{name}.png"))
}

/// Waits for `condition` (a JavaScript expression) to hold, then for every panel to be done.
fn wait_for(browser: &Browser, condition: &str) {
    let script = format!(
        "const failed = () => document.querySelector('#status').className === 'failed';
        while (!({condition})) {{
            if (failed()) throw new Error(document.querySelector('#status').textContent);
            await new Promise((r) => setTimeout(r, 50));
        }}
        await window.lenetSettled();
        return true;"
    );
    browser.run(&script, json!(null));
}

/// What the input panel shows: its input's name, the 28x28 input, the probabilities and
/// the prediction's text.
fn input_panel(browser: &Browser) -> (String, Vec<f32>, Vec<f32>, String) {
    let got = browser.run(
        "return { name: window.lenetExplorer.inputName, input: Array.from(window.lenetDraw.input),
            probabilities: window.lenetDraw.probabilities,
            text: document.querySelector('[data-testid=prediction]').textContent };",
        json!(null),
    );
    let text = got["text"].as_str().unwrap().to_string();
    (got["name"].as_str().unwrap().to_string(), floats(&got["input"]), floats(&got["probabilities"]), text)
}

fn worst_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

/// `lenet-gpu ARGS` on this machine; what it printed.
fn cli(args: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_lenet-gpu")).args(args).env("LENET_GPU_KERNELS", "fast").output().unwrap();
    assert!(out.status.success(), "lenet-gpu {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `lenet-gpu ARGS --json`'s first object.
fn cli_json(args: &[&str]) -> Value {
    let out = cli(&[args, &["--json"]].concat());
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

/// How many of the 10,000 test images `lenet-gpu eval` gets right with the model `file`.
fn cli_correct(file: &Path) -> u64 {
    let cli = cli_json(&["eval", "--model", file.to_str().unwrap()]);
    (cli["accuracy"].as_f64().unwrap() * cli["samples"].as_f64().unwrap()).round() as u64
}

/// The page's "every layer" panel has a row per feature map of `maps` and in it a picture
/// per channel (one for a layer of units).
fn check_layer_rows(browser: &Browser, maps: &[lenet_gpu::viz::features::FeatureMap]) {
    let rows = browser.run(
        "return [...document.querySelectorAll('#maps .layer')].map((row) => [row.dataset.tap, row.querySelectorAll('canvas').length]);",
        json!(null),
    );
    let want: Vec<Value> = maps
        .iter()
        .map(|m| {
            let (c, h, _) = m.dims.chw();
            json!([m.name, if h > 1 { c } else { 1 }])
        })
        .collect();
    assert_eq!(rows, json!(want), "one row per layer, one picture per channel");
}

/// Clicks the download button `css` and returns the file the page offered.
fn download(browser: &Browser, css: &str) -> Vec<u8> {
    // The page downloads through a link to a blob; the test reads the blob instead.
    browser.run(
        "window.lenetDownloads = [];
        HTMLAnchorElement.prototype.click = function () { window.lenetDownloads.push(this.href); };
        return true;",
        json!(null),
    );
    browser.click(css);
    let got = browser.run(
        "while (!window.lenetDownloads.length) await new Promise((r) => setTimeout(r, 50));
        return Array.from(new Uint8Array(await (await fetch(window.lenetDownloads[0])).arrayBuffer()));",
        json!(null),
    );
    got.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect()
}

#[test]
fn a_chosen_checkpoint_is_explored_as_the_cli_explains_it() {
    let (_, params) = briefly_trained();
    let dir = tempfile::tempdir().unwrap();
    let model_file = dir.path().join("mine.safetensors");
    save_model(&model_file, Arch::Lenet5, params, HashMap::new()).unwrap();
    let net = NetSpec::default();
    let kernels = lenet_gpu::kernels::Kernels::new(gpu()).unwrap();
    let layout = net.arch.layout();
    let buffer = gpu().storage_from("params", params);
    let grads = gpu().storage("grads", layout.padded_len);
    let ctx = Ctx::new(gpu(), &kernels, &layout, &buffer).with_grads(&grads);

    // No model served: the visitor brings one. A tall window: each section fits its screenshot.
    let (_served, browser) = page(&[]);
    browser.resize(1280, 1400);
    wait_for(&browser, "document.body.dataset.ready === 'true'");
    browser.choose_file("#model-file", &model_file);
    wait_for(&browser, "document.querySelector('#model-name').textContent.startsWith('mine.safetensors')");

    // Pictures chosen in the page are classified as `lenet-gpu predict --json` does.
    let test = Dataset::bundled(Split::Test).unwrap();
    let test3 = dir.path().join("test3.png");
    let pixels: Vec<u8> = test.input(3).iter().map(|v| (v * 255.0).round() as u8).collect();
    image::GrayImage::from_raw(28, 28, pixels).unwrap().save(&test3).unwrap();
    let digits = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/digits");
    for picture in [digits.join("test12_nine_on_white.png"), digits.join("two_on_paper.jpg"), test3] {
        let name = picture.file_name().unwrap().to_str().unwrap().to_string();
        browser.choose_file("#picture-file", &picture);
        wait_for(&browser, &format!("window.lenetExplorer.inputName === {name:?}"));
        let (_, _, page, text) = input_panel(&browser);
        let want = cli_json(&["predict", "--model", model_file.to_str().unwrap(), picture.to_str().unwrap()]);
        let worst = worst_difference(&page, &floats(&want["probabilities"]));
        println!("{name}: the page says {text}; its probabilities differ from predict --json's by {worst:e}");
        assert!(worst <= PROBABILITY_TOL, "{name}: probabilities differ from predict --json's by {worst}");
        assert!(text.starts_with(&want["class"].to_string()), "{name}: page {text}, predict {}", want["class"]);
    }

    // A test image by number.
    browser.run("document.querySelector('#test-index').value = 12; return true;", json!(null));
    browser.click("#show-test");
    wait_for(&browser, "window.lenetExplorer.inputName === 'test image #12'");
    let (_, input, page, text) = input_panel(&browser);
    assert_eq!(input, test.input(12), "test image 12 is shown as it is");
    let native = &predict(&ctx, net, std::slice::from_ref(&input)).block_on().unwrap()[0];
    assert!(worst_difference(&page, &native.probabilities) <= PROBABILITY_TOL);
    assert!(text.ends_with(", labelled 9)"), "the test image's label is shown: {text}");
    let timings = browser.run("return window.lenetTimings;", json!(null));
    println!("a new input to its answers (ms, the panels at once): {timings}");
    browser.screenshot_of("#draw-section", &shot("input"));

    // Every layer: a row per feature map, a picture per channel.
    let maps = feature_maps(&ctx, net, &input).block_on().unwrap().maps;
    check_layer_rows(&browser, &maps);
    // Hover a unit of conv2's first map: its value and receptive field.
    let hovered = browser.run(
        "const map = document.querySelector('#maps .layer[data-tap=conv2] canvas');
        const r = map.getBoundingClientRect();
        map.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + r.width * 0.3, clientY: r.top + r.height * 0.6, bubbles: true }));
        return document.querySelector('#unit').textContent;",
        json!(null),
    );
    let conv2 = maps.iter().find(|m| m.name == "conv2").unwrap();
    let (_, h, w) = conv2.dims.chw();
    let (h, w) = (h as usize, w as usize);
    let (y, x) = ((0.6 * h as f32) as usize, (0.3 * w as f32) as usize);
    let field = lenet_gpu::viz::features::receptive_field(Arch::Lenet5, "conv2", y as u32, x as u32);
    let value = conv2.values[y * w + x];
    let expected = format!(
        "conv2 channel 0, ({y}, {x}): {value:.4}; sees input rows {}–{}, columns {}–{}",
        field.top,
        field.bottom - 1,
        field.left,
        field.right - 1
    );
    println!("hovered: {hovered}");
    let hovered = hovered.as_str().unwrap();
    assert!(hovered.starts_with(&format!("conv2 channel 0, ({y}, {x}): ")), "{hovered} / {expected}");
    assert!(hovered.ends_with(expected.split("; ").nth(1).unwrap()), "{hovered} / {expected}");
    browser.screenshot_of("#layers-section", &shot("layers"));
    // Click it: the large view, with conv2's kernel 0 over each of the 6 channels before it.
    browser.click("#maps .layer[data-tap=conv2] button");
    wait_for(&browser, "document.querySelectorAll('#map-view .kernels figure').length > 0");
    let kernels_shown =
        browser.run("return document.querySelectorAll('#map-view .kernels figure').length;", json!(null));
    assert_eq!(kernels_shown, 6, "conv2's kernel 0 has 6 slices");
    browser.screenshot(&shot("map-view"));
    browser.click("#map-view button");

    // Why: Integrated Gradients, then Grad-CAM, of the predicted class, as natively.
    let target = native.class;
    let why = |method: &str| {
        let script = format!(
            "const select = document.querySelector('#why-method');
            select.value = {method:?};
            select.dispatchEvent(new Event('change'));
            while (window.lenetWhy.method !== {method:?}) await new Promise((r) => setTimeout(r, 50));
            await window.lenetSettled();
            return [window.lenetWhy.class, window.lenetWhy.map, document.querySelector('#why-caption').textContent];"
        );
        let got = browser.run(&script, json!(null));
        assert_eq!(got[0], target, "{method}: of the predicted class");
        println!("{method}: {}", got[2]);
        floats(&got[1])
    };
    for (name, method) in [("smoothgrad", Method::Smoothgrad), ("integrated-gradients", Method::IntegratedGradients)] {
        let native = saliency(&ctx, net, &input, target, &SaliencyConfig::new(method)).block_on().unwrap();
        let page = why(name);
        let scale = native.attribution.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = worst_difference(&page, &native.attribution) / scale;
        println!("{name}: the page's map differs from the native one by {worst:e} of its largest");
        assert!(worst <= ATTRIBUTION_TOL, "{name}: the map differs by {worst} of its largest");
    }
    browser.screenshot_of("#why-section", &shot("why"));
    browser.run("window.scrollTo(0, 0); return true;", json!(null));
    browser.screenshot(&shot("page"));
    let cam = grad_cam(&ctx, net, &input, target, ConvLayer::Conv2, false).block_on().unwrap();
    let page_cam = why("grad-cam");
    let scale = cam.upsampled.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = worst_difference(&page_cam, &cam.upsampled) / scale;
    assert!(worst <= ATTRIBUTION_TOL, "Grad-CAM differs by {worst} of its largest");

    // The test set: as many right as `lenet-gpu eval`, a confusion matrix of all 10,000,
    // and a mistake that opens in the explorer.
    browser.click("#score-test");
    wait_for(&browser, "document.querySelector('#score-status').textContent.includes('right')");
    let scored = browser.run(
        "const cells = [...document.querySelectorAll('#confusion button')].map((b) => Number(b.textContent));
        return { status: document.querySelector('#score-status').textContent, cells,
            mistakes: document.querySelectorAll('#gallery button').length };",
        json!(null),
    );
    println!("test set: {}", scored["status"]);
    let page_correct: u64 = scored["status"].as_str().unwrap().split(' ').next().unwrap().parse().unwrap();
    let cli_right = cli_correct(&model_file);
    assert!(page_correct.abs_diff(cli_right) <= 2, "page {page_correct} right, lenet-gpu eval {cli_right}");
    let cells: Vec<u64> = scored["cells"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    assert_eq!(cells.len(), 100);
    assert_eq!(cells.iter().sum::<u64>(), 10_000);
    assert_eq!((0..10).map(|i| cells[i * 11]).sum::<u64>(), page_correct, "the diagonal is the right ones");
    assert!(scored["mistakes"].as_u64().unwrap() > 0, "a gallery of mistakes");
    browser.click("#gallery button");
    wait_for(&browser, "window.lenetExplorer.inputName !== 'test image #12'");
    let (name, input, _, text) = input_panel(&browser);
    let index: usize = name.strip_prefix("test image #").expect(&name).parse().unwrap();
    assert_eq!(input, test.input(index));
    assert!(!text.starts_with(&test.labels[index].to_string()), "a mistake: {text}");
    browser.screenshot_of("#test-section", &shot("test-set"));

    // The class images, on request.
    browser.click("#class-images");
    wait_for(&browser, "document.querySelectorAll('#classes figure').length === 10");

    // The model taken away: the same parameters, which the CLI loads.
    let saved = dir.path().join("downloaded.safetensors");
    std::fs::write(&saved, download(&browser, "#save-safetensors")).unwrap();
    assert_eq!(&load_model_file(&saved).unwrap().params, params, "the downloaded model's parameters");
    assert_eq!(cli_correct(&saved), cli_right);
    let onnx = download(&browser, "#save-onnx");
    let exported = dir.path().join("cli.onnx");
    cli(&["export", "--model", saved.to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    assert_eq!(onnx, std::fs::read(&exported).unwrap(), "the page's ONNX file is lenet-gpu export's");

    // On a phone-sized screen: nothing wider than it.
    browser.resize(390, 844);
    let widths = browser.run(
        "await new Promise((r) => setTimeout(r, 300));
        window.scrollTo(0, 0);
        const w = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1)
            .map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        return [document.documentElement.scrollWidth, w, wide.slice(0, 12)];",
        json!(null),
    );
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the page is wider than a phone: {widths}");
    browser.screenshot(&shot("phone"));
}

/// Where training in the page stands: `window.lenetTraining`.
fn training_state(browser: &Browser) -> Value {
    browser.run("return window.lenetTraining;", json!(null))
}

#[test]
fn training_in_the_page_draws_its_curves_answers_clicks_and_hands_out_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, browser) = page(&[]);
    browser.resize(1280, 1400);
    wait_for(&browser, "document.body.dataset.ready === 'true'");
    // The fast preset on 6,000 images for one epoch, batches of 50: the form's defaults.
    let form = browser.run(
        "const f = document.querySelector('#train-form');
        return [f.preset.value, f.images.value, f.epochs.value, f.seed.value, f.batch.value];",
        json!(null),
    );
    assert_eq!(form, json!(["fast", "6000", "1", "0", "50"]));
    browser.click("#train-start");
    wait_for(&browser, "window.lenetTraining.steps.length >= 3");

    // Paused, it trains no further; resumed, it goes on.
    browser.click("#train-pause");
    let paused = browser.run(
        "const speed = document.querySelector('#train-speed');
        while (!speed.textContent.startsWith('paused')) await new Promise((r) => setTimeout(r, 20));
        const at = window.lenetTraining.steps.length;
        await new Promise((r) => setTimeout(r, 1500));
        return [at, window.lenetTraining.steps.length, document.querySelector('#train-speed').textContent];",
        json!(null),
    );
    assert_eq!(paused[0], paused[1], "no steps while paused: {paused}");
    assert!(paused[2].as_str().unwrap().starts_with("paused at step"), "{paused}");
    browser.click("#train-pause");

    // A click while it trains is answered while it trains.
    browser.run("document.querySelector('#test-index').value = 5; return true;", json!(null));
    let clicked = browser.run("return performance.now();", json!(null)).as_f64().unwrap();
    browser.click("#show-test");
    let answered = browser.run(
        "while (window.lenetExplorer.inputName !== 'test image #5' || window.lenetDraw.pending) await new Promise((r) => setTimeout(r, 10));
        return [performance.now(), window.lenetTraining.running, window.lenetTraining.steps.length,
            document.querySelector('[data-testid=prediction]').textContent];",
        json!(null),
    );
    let latency = answered[0].as_f64().unwrap() - clicked;
    println!("a click during training was answered in {latency:.0} ms: {}", answered[3]);
    assert_eq!(answered[1], true, "answered while training, not after it");
    assert!(answered[3].as_str().unwrap().chars().next().unwrap().is_ascii_digit(), "{answered}");
    browser.screenshot_of("#train-section", &shot("training"));

    wait_for(&browser, "!window.lenetTraining.running");
    let state = training_state(&browser);
    assert_eq!(state["error"], Value::Null);
    let epochs = state["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 1);
    let accuracy = epochs[0]["testAccuracy"].as_f64().unwrap();
    let steps = state["steps"].as_array().unwrap();
    let peeks = steps.iter().filter(|s| !s["testAccuracy"].is_null()).count();
    println!("one epoch on 6,000 images: test accuracy {accuracy}, {} points, {peeks} with a test score", steps.len());
    println!("{}", browser.run("return document.querySelector('#train-speed').textContent;", json!(null)));
    assert!(accuracy > 0.9, "test accuracy {accuracy} after an epoch of 6,000");
    assert!(steps.len() >= 10 && peeks >= 3, "the curves have points: {} steps, {peeks} test scores", steps.len());
    let charts = browser.run(
        "return [...document.querySelectorAll('#charts .uplot')].map((c) => c.querySelector('.u-title').textContent);",
        json!(null),
    );
    assert_eq!(charts, json!(["loss", "accuracy"]));
    // The explorer follows the trained model.
    let name = browser.run("return document.querySelector('#model-name').textContent;", json!(null));
    assert!(name.as_str().unwrap().ends_with("epoch 1 of 1"), "{name}");
    browser.screenshot_of("#train-section", &shot("trained"));

    let saved = dir.path().join("trained-in-the-page.safetensors");
    std::fs::write(&saved, download(&browser, "#save-safetensors")).unwrap();
    let cli_right = cli_correct(&saved);
    let page_right = (accuracy * 10_000.0).round() as u64;
    println!("the downloaded model: {cli_right} of 10,000 right by lenet-gpu eval, {page_right} in the page");
    assert!(cli_right.abs_diff(page_right) <= 2, "page {page_right}, lenet-gpu eval {cli_right}");
}

#[test]
fn a_lenet1998_checkpoint_shows_its_layers_and_c3s_connection_table() {
    let recipe = Recipe::lenet1998();
    let net = recipe.net();
    let layout = net.arch.layout();
    let params = initial_params(&layout, &recipe);
    let dir = tempfile::tempdir().unwrap();
    let model_file = dir.path().join("lenet1998.safetensors");
    save_model(&model_file, Arch::Lenet1998, &params, HashMap::new()).unwrap();

    let (_served, browser) = page(&[]);
    browser.resize(1280, 1400);
    wait_for(&browser, "document.body.dataset.ready === 'true'");
    browser.choose_file("#model-file", &model_file);
    wait_for(&browser, "document.querySelector('#model-name').textContent.startsWith('lenet1998.safetensors')");
    browser.click("#random-test");
    wait_for(&browser, "window.lenetExplorer.inputName.startsWith('test image #')");
    let input = floats(&browser.run("return Array.from(window.lenetDraw.input);", json!(null)));

    let kernels = lenet_gpu::kernels::Kernels::new(gpu()).unwrap();
    let buffer = gpu().storage_from("params", &params);
    let ctx = Ctx::new(gpu(), &kernels, &layout, &buffer);
    check_layer_rows(&browser, &feature_maps(&ctx, net, &input).block_on().unwrap().maps);
    // A map of a convolution with a connection table: only its connected kernels.
    let network = net.network();
    let tabled: Vec<_> = network.convs().into_iter().zip(network.conv_kernels(&layout, &params)).collect();
    let (name, c3) = tabled.iter().find(|(_, k)| k.connected.is_some()).expect("a convolution with a table");
    let inputs = c3.shape[1];
    let connected = c3.connected.as_ref().unwrap()[..inputs].iter().filter(|&&c| c).count();
    browser.click(&format!("#maps .layer[data-tap=\"{name}\" i] button"));
    wait_for(&browser, "document.querySelectorAll('#map-view .kernels figure').length > 0");
    let shown = browser.run("return document.querySelectorAll('#map-view .kernels figure').length;", json!(null));
    println!("{name}'s map 0: {shown} kernels shown, of {inputs} channels before it");
    assert_eq!(shown, connected, "{name}'s map 0 is made from {connected} of the {inputs} channels");
    browser.screenshot(&shot("lenet1998-map-view"));
}
