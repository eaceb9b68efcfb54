//! `lenet-gpu visualize saliency | gradcam | occlusion | mistakes | confusion`: why the
//! model answers as it does, and where it is wrong.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use lenet_gpu::data::picture::{is_blank, read_picture, Preprocess};
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::eval::Evaluator;
use lenet_gpu::explain::gradcam::{grad_cam, GRAD_CAM_BATCH};
use lenet_gpu::explain::objective::ObjectivePlan;
use lenet_gpu::explain::occlusion::occlusion;
use lenet_gpu::explain::saliency::{saliency, Baseline, Method, SaliencyConfig};
use lenet_gpu::export::npy::{save_arrays, ArrayFormat, NamedArray};
use lenet_gpu::gpu::Gpu;
use lenet_gpu::kernels::objective::ClassObjective;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::lenet5::IMAGE_SIDE;
use lenet_gpu::model::{Ctx, NetSpec, ParamLayout};
use lenet_gpu::predict::{predict, Prediction};
use lenet_gpu::viz::explain::{render_attribution, render_confusion, render_mistakes, MapScale};
use lenet_gpu::viz::weights::ConvLayer;

use super::visualize::ModelFile;
use pollster::FutureExt;

/// The picture to explain: a test image or the user's own.
#[derive(Args)]
pub struct ImageArg {
    /// Index into the MNIST test set (the tutorial shows image 12).
    #[arg(long, default_value_t = 12, conflicts_with = "image")]
    index: usize,
    /// Your own picture instead (PNG or JPEG), prepared as `predict` prepares it.
    #[arg(long)]
    image: Option<PathBuf>,
}

impl ImageArg {
    /// The 28x28 input and how to name it in a title.
    pub fn load(&self) -> Result<(Vec<f32>, String)> {
        if let Some(path) = &self.image {
            let x = read_picture(path, Preprocess::Mnist).context("loading --image")?;
            if is_blank(&x) {
                bail!("--image {}: the picture is blank (no ink), so there is no digit to explain", path.display());
            }
            return Ok((x, path.display().to_string()));
        }
        let test = Dataset::bundled(Split::Test)?;
        if self.index >= test.len() {
            bail!("--index {} is out of range: the test set has images 0..={}", self.index, test.len() - 1);
        }
        let x = test.input(self.index);
        Ok((x, format!("test image {} (label {})", self.index, test.labels[self.index])))
    }
}

/// The model, the picture and the class to explain.
#[derive(Args)]
pub struct Subject {
    #[command(flatten)]
    model: ModelFile,
    #[command(flatten)]
    image: ImageArg,
    /// The class whose score is explained; default: the predicted class.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=9))]
    target: Option<u8>,
    /// Print one JSON object on stdout, with the 28x28 map as nested arrays.
    #[arg(long)]
    json: bool,
    /// Also write the numbers: the 28x28 map as a NumPy .npy, or as a .npz with the
    /// input beside it (Grad-CAM's: its layer-resolution map and weights too).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

/// `--save`'s file must say which NumPy format it wants before any work is done.
pub fn check_save(save: Option<&Path>, npz_only: bool) -> Result<()> {
    let Some(path) = save else { return Ok(()) };
    if ArrayFormat::of(path)? == ArrayFormat::Npy && npz_only {
        bail!("--save {}: one array per layer needs a .npz file", path.display());
    }
    Ok(())
}

/// A 28x28 map as JSON rows.
fn map_json(map: &[f32]) -> serde_json::Value {
    map.chunks(IMAGE_SIDE as usize).collect::<Vec<_>>().into()
}

/// A loaded subject: everything a method needs.
struct Opened {
    net: NetSpec,
    layout: ParamLayout,
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    gpu: Gpu,
    kernels: Kernels,
    x: Vec<f32>,
    label: String,
    predicted: Prediction,
    target: usize,
    /// `--save`'s file, if any.
    save: Option<PathBuf>,
}

impl Opened {
    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(&self.gpu, &self.kernels, &self.layout, &self.params).with_grads(&self.grads)
    }

    fn heading(&self, what: &str) -> String {
        let p = &self.predicted;
        format!("{what} for class {} - {}: predicted {} (p = {:.3})", self.target, self.label, p.class, p.probability)
    }

    /// `--save`: `map` (28x28) first, under `name`, then the input and `more`.
    fn save(&self, name: &str, map: &[f32], more: Vec<NamedArray>) -> Result<()> {
        let Some(path) = &self.save else { return Ok(()) };
        let side = [IMAGE_SIDE, IMAGE_SIDE];
        let mut arrays =
            vec![NamedArray::new(name, &side, map.to_vec()), NamedArray::new("input", &side, self.x.clone())];
        arrays.extend(more);
        save_arrays(path, &arrays).with_context(|| format!("writing --save {}", path.display()))
    }
}

impl Subject {
    /// Loads the model and the image and predicts it. With `gradient_batch`, the method's
    /// gradient plan at that batch size is built first (and dropped): its kernels then
    /// compile with the prediction's, before the first submission (on a cold shader cache,
    /// one parallel compile instead of two in turn); the method's own plan finds them made.
    fn open(&self, gradient_batch: Option<u32>) -> Result<Opened> {
        check_save(self.save.as_deref(), false)?;
        let (x, label) = self.image.load()?;
        let (net, layout, params, gpu, kernels) = self.model.open()?;
        let params = gpu.storage_from("params", &params);
        let grads = gpu.storage("grads", layout.padded_len);
        if let Some(batch) = gradient_batch {
            let ctx = Ctx::new(&gpu, &kernels, &layout, &params).with_grads(&grads);
            ObjectivePlan::class_score(&ctx, net, batch, ClassObjective::Logit)?;
        }
        let predicted =
            predict(&Ctx::new(&gpu, &kernels, &layout, &params), net, std::slice::from_ref(&x)).block_on()?.remove(0);
        let target = self.target.map(usize::from).unwrap_or(predicted.class);
        let save = self.save.clone();
        Ok(Opened { net, layout, params, grads, gpu, kernels, x, label, predicted, target, save })
    }
}

#[derive(Args)]
pub struct SaliencyArgs {
    #[command(flatten)]
    subject: Subject,
    #[arg(long, value_enum, default_value_t = Method::IntegratedGradients)]
    method: Method,
    /// SmoothGrad: noisy copies of the image.
    #[arg(long, default_value_t = 50)]
    samples: u32,
    /// SmoothGrad: the noise's standard deviation as a share of the image's value range.
    #[arg(long, default_value_t = 0.15)]
    noise: f32,
    /// Integrated Gradients: points on the path from the baseline.
    #[arg(long, default_value_t = 64)]
    steps: u32,
    /// Integrated Gradients: where the path starts.
    #[arg(long, value_enum, default_value_t = Baseline::Black)]
    baseline: Baseline,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG; default viz/saliency_<method>.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run_saliency(a: SaliencyArgs) -> Result<()> {
    let cfg = SaliencyConfig {
        method: a.method,
        samples: a.samples,
        noise: a.noise,
        steps: a.steps,
        baseline: a.baseline,
        seed: a.seed,
    };
    cfg.check()?;
    let o = a.subject.open(Some(cfg.batch()))?;
    let s = saliency(&o.ctx(), o.net, &o.x, o.target, &cfg).block_on()?;
    let name = serde_json::to_value(a.method)?.as_str().unwrap_or("saliency").to_string();
    let out = a.out.unwrap_or_else(|| PathBuf::from(format!("viz/saliency_{name}.png")));
    let caption = match s.output_delta() {
        Some(delta) => format!("sum {:.3}, score change {delta:.3}", s.attribution_sum()),
        None => format!("score {:.3}", s.score),
    };
    render_attribution(&o.heading(&name), &caption, &o.x, &s.attribution, MapScale::Signed).save(&out)?;
    o.save("attribution", &s.attribution, Vec::new())?;
    if a.subject.json {
        let mut j = serde_json::json!({
            "file": out, "method": a.method, "target": o.target, "predicted": o.predicted.class,
            "probability": o.predicted.probability, "score": s.score, "attribution_sum": s.attribution_sum(),
            "config": cfg, "map": map_json(&s.attribution),
        });
        if let Some(delta) = s.output_delta() {
            j["output_delta"] = delta.into();
            j["baseline_score"] = s.baseline.as_ref().map(|b| b.1).into();
        }
        println!("{j}");
    } else {
        println!("{}", out.display());
    }
    Ok(())
}

#[derive(Args)]
pub struct GradcamArgs {
    #[command(flatten)]
    subject: Subject,
    /// The conv layer whose maps are weighed (LeNet-1998: C1 or C3).
    #[arg(long, value_enum, default_value_t = ConvLayer::Conv2)]
    layer: ConvLayer,
    /// Grad-CAM++'s weights (positive gradients, weighted per pixel).
    #[arg(long)]
    plus_plus: bool,
    /// Output PNG; default viz/gradcam_<layer>.png (gradcampp_ with --plus-plus).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run_gradcam(a: GradcamArgs) -> Result<()> {
    let o = a.subject.open(Some(GRAD_CAM_BATCH))?;
    let cam = grad_cam(&o.ctx(), o.net, &o.x, o.target, a.layer, a.plus_plus).block_on()?;
    let what = if a.plus_plus { "gradcampp" } else { "gradcam" };
    let out = a.out.unwrap_or_else(|| PathBuf::from(format!("viz/{what}_{}.png", a.layer.name())));
    let (c, h, w) = cam.dims;
    let heading = o.heading(&format!("{} at {}", if a.plus_plus { "Grad-CAM++" } else { "Grad-CAM" }, a.layer.name()));
    let caption = format!("{c} maps of {h}x{w}, upsampled");
    render_attribution(&heading, &caption, &o.x, &cam.upsampled, MapScale::Positive).save(&out)?;
    let layer_arrays =
        vec![NamedArray::new("cam", &[h, w], cam.cam.clone()), NamedArray::new("weights", &[c], cam.weights.clone())];
    o.save("upsampled", &cam.upsampled, layer_arrays)?;
    if a.subject.json {
        let j = serde_json::json!({
            "file": out, "target": o.target, "predicted": o.predicted.class, "score": cam.score,
            "layer": a.layer.name(), "dims": [c, h, w], "weights": cam.weights, "cam": cam.cam,
            "map": map_json(&cam.upsampled),
        });
        println!("{j}");
    } else {
        println!("{}", out.display());
    }
    Ok(())
}

#[derive(Args)]
pub struct OcclusionArgs {
    #[command(flatten)]
    subject: Subject,
    /// The side of the square that covers the image.
    #[arg(long, default_value_t = 4)]
    patch: u32,
    /// Pixels between one patch and the next.
    #[arg(long, default_value_t = 2)]
    stride: u32,
    /// What the patch is filled with (0: MNIST's background).
    #[arg(long, default_value_t = 0.0)]
    value: f32,
    /// Output PNG; default viz/occlusion.png.
    #[arg(long, default_value = "viz/occlusion.png")]
    out: PathBuf,
}

pub fn run_occlusion(a: OcclusionArgs) -> Result<()> {
    let o = a.subject.open(None)?;
    let occ = occlusion(&o.ctx(), o.net, &o.x, o.target, (a.patch, a.stride), a.value).block_on()?;
    let caption = format!("{} patches of {}x{}, drop in p", occ.patches.len(), a.patch, a.patch);
    render_attribution(&o.heading("occlusion"), &caption, &o.x, &occ.heatmap, MapScale::Signed).save(&a.out)?;
    o.save("heatmap", &occ.heatmap, Vec::new())?;
    if a.subject.json {
        let largest = occ.patches.iter().map(|p| p.1).fold(f32::MIN, f32::max);
        let j = serde_json::json!({
            "file": a.out, "target": o.target, "probability": occ.probability, "patches": occ.patches.len(),
            "largest_drop": largest, "map": map_json(&occ.heatmap),
        });
        println!("{j}");
    } else {
        println!("{}", a.out.display());
    }
    Ok(())
}

#[derive(Args)]
pub struct MistakesArgs {
    #[command(flatten)]
    model: ModelFile,
    /// Directory with MNIST-format test files; default: the bundled MNIST.
    #[arg(long)]
    data: Option<PathBuf>,
    /// How many of the most confident mistakes to show.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    count: u32,
    /// Print the mistakes as JSON lines (index, label, predicted, probability).
    #[arg(long)]
    json: bool,
    #[arg(long, default_value = "viz/mistakes.png")]
    out: PathBuf,
}

pub fn run_mistakes(a: MistakesArgs) -> Result<()> {
    let test = Dataset::load_or_bundled(a.data.as_deref(), Split::Test).context("loading the test set")?;
    let (net, layout, params, gpu, kernels) = a.model.open()?;
    let params = gpu.storage_from("params", &params);
    let images: Vec<Vec<f32>> = (0..test.len()).map(|i| test.input(i)).collect();
    let p = predict(&Ctx::new(&gpu, &kernels, &layout, &params), net, &images).block_on()?;
    let mut wrong: Vec<usize> = (0..test.len()).filter(|&i| p[i].class != test.labels[i] as usize).collect();
    let total = wrong.len();
    wrong.sort_by(|&x, &y| p[y].probability.total_cmp(&p[x].probability));
    wrong.truncate(a.count as usize);
    let shown: Vec<Vec<f32>> = wrong.iter().map(|&i| images[i].clone()).collect();
    let captions =
        wrong.iter().map(|&i| format!("#{i}: {}→{} {:.2}", test.labels[i], p[i].class, p[i].probability)).collect();
    let title = format!(
        "the {} most confident of {total} mistakes in {} test images (#index: true→predicted, p)",
        wrong.len(),
        test.len()
    );
    render_mistakes(title, &shown, captions).save(&a.out)?;
    if a.json {
        for &i in &wrong {
            let j = serde_json::json!({
                "index": i, "label": test.labels[i], "predicted": p[i].class, "probability": p[i].probability,
            });
            println!("{j}");
        }
    } else {
        println!("{}", a.out.display());
    }
    eprintln!("{total} of {} test images are misclassified", test.len());
    Ok(())
}

#[derive(Args)]
pub struct ConfusionArgs {
    #[command(flatten)]
    model: ModelFile,
    /// Directory with MNIST-format test files; default: the bundled MNIST.
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, default_value = "viz/confusion.png")]
    out: PathBuf,
}

pub fn run_confusion(a: ConfusionArgs) -> Result<()> {
    let test = Dataset::load_or_bundled(a.data.as_deref(), Split::Test).context("loading the test set")?;
    let (net, layout, params, gpu, kernels) = a.model.open()?;
    let params = gpu.storage_from("params", &params);
    let r = Evaluator::new(&Ctx::new(&gpu, &kernels, &layout, &params), net, &test)?.run(&gpu, true).block_on()?;
    let matrix = r.confusion.expect("asked for");
    let title = format!("confusion matrix: {:.2}% of {} test images right", 100.0 * r.accuracy, r.samples);
    render_confusion(&title, &matrix).save(&a.out)?;
    println!("{}", a.out.display());
    Ok(())
}
