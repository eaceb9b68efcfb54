//! lenet-gpu in a web page: the library's networks, training and explanations on the
//! browser's WebGPU, for JavaScript. As thin over the library as the CLI is: each method
//! converts JavaScript's values (typed arrays, strings) and calls one library function.
//!
//! ```js
//! import init, { Lab, Model, Images } from "./pkg/lenet_gpu_web.js";
//! await init();
//! const lab = await Lab.open();
//! const model = Model.fromSafetensors(lab, new Uint8Array(await (await fetch("m.safetensors")).arrayBuffer()));
//! const answer = await model.predict(pixels);   // 28·28 values in [0, 1]
//! ```
//!
//! The device is opened once per page and lives as long as it (`Lab` hands out a
//! `'static` reference): the library's models and trainers borrow it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use clap::ValueEnum;
use lenet_gpu::checkpoint::{model_bytes, parse_model_file};
use lenet_gpu::data::picture::{prepare_rgba, Preprocess};
use lenet_gpu::data::Dataset;
use lenet_gpu::eval::{EvalResult, Evaluator};
use lenet_gpu::explain::gradcam::grad_cam;
use lenet_gpu::explain::saliency::{saliency, Method, SaliencyConfig};
use lenet_gpu::export::onnx::{export_onnx, onnx_metadata};
use lenet_gpu::gpu::{AdapterChoice, Gpu, Profile, View};
use lenet_gpu::kernels::objective::ClassObjective;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::lenet5::IMAGE_LEN;
use lenet_gpu::model::summary::summary_table;
use lenet_gpu::model::{Arch, Ctx, NetSpec, ParamLayout};
use lenet_gpu::predict::predict;
use lenet_gpu::train::{initial_params, Recipe, StepProgress, Trainer};
use lenet_gpu::viz::ascent::{gradient_ascent, AscentConfig, AscentTarget};
use lenet_gpu::viz::diagram::{svg, RankDir};
use lenet_gpu::viz::features::{feature_maps, receptive_field};
use lenet_gpu::viz::weights::ConvLayer;
use wasm_bindgen::prelude::*;

type JsResult<T> = Result<T, JsError>;

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// The page's GPU: WebGPU's default limits and no optional feature, so the kernels are
/// the portable set the CLI runs with `LENET_GPU_PORTABLE=1`.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct Lab {
    gpu: &'static Gpu,
    kernels: &'static Kernels,
}

#[wasm_bindgen]
impl Lab {
    /// Opens the browser's WebGPU adapter. Fails with a message naming the browsers that
    /// have WebGPU where this one does not.
    pub async fn open() -> JsResult<Lab> {
        let gpu = Gpu::open(AdapterChoice::Auto, Profile::Portable).await.map_err(|e| {
            js(format!(
                "this browser gave the page no WebGPU device ({e}); WebGPU is in Chrome and Edge 113+, \
                 Safari 26+ and Firefox 141+ on Windows"
            ))
        })?;
        let gpu: &'static Gpu = Box::leak(Box::new(gpu));
        let kernels = Box::leak(Box::new(Kernels::new(gpu).map_err(js)?));
        Ok(Lab { gpu, kernels })
    }

    /// The adapter, as `lenet-gpu adapters` describes it.
    pub fn adapter(&self) -> String {
        self.gpu.describe()
    }
}

/// Pictures with labels: MNIST's gzip IDX files, as fetched.
#[wasm_bindgen]
pub struct Images(Dataset);

#[wasm_bindgen]
impl Images {
    /// From an images file and a labels file (IDX, gzip or not).
    #[wasm_bindgen(js_name = fromIdx)]
    pub fn from_idx(images: &[u8], labels: &[u8]) -> JsResult<Images> {
        Dataset::from_bytes(Path::new("images"), images, Path::new("labels"), labels).map(Images).map_err(js)
    }

    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.0.len()
    }

    /// The first `n` pictures.
    pub fn take(&self, n: usize) -> Images {
        Images(self.0.take(n))
    }

    /// Picture `i` as the networks take it: 784 values in [0, 1].
    pub fn input(&self, i: usize) -> JsResult<Vec<f32>> {
        self.check(i)?;
        Ok(self.0.input(i))
    }

    /// Every label, in order.
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<u8> {
        self.0.labels.clone()
    }

    pub fn label(&self, i: usize) -> JsResult<u8> {
        self.check(i)?;
        Ok(self.0.labels[i])
    }

    fn check(&self, i: usize) -> JsResult<()> {
        match i < self.0.len() {
            true => Ok(()),
            false => Err(js(format!("no picture {i}: there are {}", self.0.len()))),
        }
    }
}

/// A picture's RGBA pixels (a canvas's `ImageData.data`) prepared as `lenet-gpu predict`
/// prepares a file: `mnist` (cropped to the ink, 20x20, centred by mass) or `as-is`.
#[wasm_bindgen(js_name = prepareRgba)]
pub fn prepare_rgba_picture(width: u32, height: u32, rgba: Vec<u8>, preprocess: &str) -> JsResult<Vec<f32>> {
    let preprocess = match preprocess {
        "mnist" => Preprocess::Mnist,
        "as-is" => Preprocess::AsIs,
        other => return Err(js(format!("no preprocessing {other:?}: mnist or as-is"))),
    };
    prepare_rgba(width, height, rgba, preprocess).map_err(js)
}

/// A network and its parameters on the GPU, with the metadata its file will carry.
#[wasm_bindgen]
pub struct Model {
    lab: Lab,
    net: NetSpec,
    layout: ParamLayout,
    params: wgpu::Buffer,
    /// Where the explanations' backward passes write (laid out as `params`).
    grads: wgpu::Buffer,
    /// A cell: training updates it (`Training.copyTo`) while the page may be using the
    /// model, and wasm-bindgen refuses a `&mut` borrow of an object in use.
    metadata: RefCell<HashMap<String, String>>,
}

#[wasm_bindgen]
impl Model {
    /// A checkpoint from `lenet-gpu train` or PyTorch (either network; F32, F16, BF16 or
    /// F64; with or without metadata), read by the CLI's loader.
    #[wasm_bindgen(js_name = fromSafetensors)]
    pub fn from_safetensors(lab: &Lab, bytes: &[u8]) -> JsResult<Model> {
        let m = parse_model_file(Path::new("the model file"), bytes).map_err(js)?;
        Ok(Model::new(*lab, m.net, &m.params, m.metadata))
    }

    /// A preset's untrained network, initialized from `seed` as `train` would.
    #[wasm_bindgen(js_name = fromPreset)]
    pub fn from_preset(lab: &Lab, preset: &str, seed: u32) -> JsResult<Model> {
        let recipe = Recipe { seed: seed.into(), ..Recipe::preset(preset).map_err(js)? };
        let params = initial_params(&recipe.arch.layout(), &recipe);
        Ok(Model::new(*lab, recipe.net(), &params, recipe_metadata(&recipe, 0)))
    }

    fn new(lab: Lab, net: NetSpec, params: &[f32], metadata: HashMap<String, String>) -> Model {
        let layout = net.arch.layout();
        let grads = lab.gpu.storage("grads", layout.padded_len);
        let params = lab.gpu.storage_from("params", params);
        Model { lab, net, params, grads, layout, metadata: RefCell::new(metadata) }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(self.lab.gpu, self.lab.kernels, &self.layout, &self.params).with_grads(&self.grads)
    }

    /// `lenet5-keras` or `lenet1998`, as checkpoints name them.
    #[wasm_bindgen(getter)]
    pub fn arch(&self) -> String {
        self.net.arch.checkpoint_name().to_string()
    }

    /// Every picture in `images` (784 values in [0, 1] each, one after the other).
    pub async fn predict(&self, images: Vec<f32>) -> JsResult<Predictions> {
        let pictures: Vec<Vec<f32>> = images.chunks(IMAGE_LEN as usize).map(<[f32]>::to_vec).collect();
        if pictures.last().is_some_and(|p| p.len() != IMAGE_LEN as usize) {
            return Err(js(format!("{} values are not whole 28x28 pictures", images.len())));
        }
        self.predict_pictures(&pictures).await
    }

    /// Every picture of `images` (a test set, for its confusion matrix and mistakes).
    #[wasm_bindgen(js_name = predictImages)]
    pub async fn predict_images(&self, images: &Images) -> JsResult<Predictions> {
        let pictures: Vec<Vec<f32>> = (0..images.0.len()).map(|i| images.0.input(i)).collect();
        self.predict_pictures(&pictures).await
    }

    async fn predict_pictures(&self, pictures: &[Vec<f32>]) -> JsResult<Predictions> {
        let p = predict(&self.ctx(), self.net, pictures).await.map_err(js)?;
        Ok(Predictions {
            classes: p.iter().map(|p| p.class as u32).collect(),
            probabilities: p.iter().flat_map(|p| p.probabilities.clone()).collect(),
            scores: p.iter().flat_map(|p| p.scores.clone()).collect(),
        })
    }

    /// Loss, accuracy and number right on `images`, as `lenet-gpu eval` computes them.
    pub async fn evaluate(&self, images: &Images) -> JsResult<Evaluation> {
        let evaluator = Evaluator::new(&self.ctx(), self.net, &images.0).map_err(js)?;
        Ok(Evaluation::from(evaluator.run(self.lab.gpu, false).await.map_err(js)?))
    }

    /// Every layer's output for one picture, as `lenet-gpu visualize features` draws them.
    #[wasm_bindgen(js_name = featureMaps)]
    pub async fn feature_maps(&self, image: Vec<f32>) -> JsResult<FeatureMaps> {
        let fm = feature_maps(&self.ctx(), self.net, &image).await.map_err(js)?;
        Ok(FeatureMaps(
            fm.maps
                .into_iter()
                .map(|m| {
                    let (c, h, w) = m.dims.chw();
                    (m.name, vec![c, h, w], m.values)
                })
                .collect(),
        ))
    }

    /// One picture's attribution to class `target` by `method` (`gradient`,
    /// `gradient-x-input`, `smoothgrad`, `integrated-gradients`), with `lenet-gpu
    /// saliency`'s defaults.
    pub async fn saliency(&self, image: Vec<f32>, target: usize, method: &str) -> JsResult<Attribution> {
        let method = Method::from_str(method, false).map_err(js)?;
        let s = saliency(&self.ctx(), self.net, &image, target, &SaliencyConfig::new(method)).await.map_err(js)?;
        Ok(Attribution { output_delta: s.output_delta(), map: s.attribution, score: s.score })
    }

    /// Grad-CAM of class `target` at `layer` (`conv1`, `conv2`), resampled onto 28x28.
    #[wasm_bindgen(js_name = gradCam)]
    pub async fn grad_cam(
        &self,
        image: Vec<f32>,
        target: usize,
        layer: &str,
        plus_plus: bool,
    ) -> JsResult<Attribution> {
        let layer = ConvLayer::from_str(layer, false).map_err(js)?;
        let cam = grad_cam(&self.ctx(), self.net, &image, target, layer, plus_plus).await.map_err(js)?;
        Ok(Attribution { map: cam.upsampled, score: cam.score, output_delta: None })
    }

    /// The parameters in PyTorch's layout (what a checkpoint holds).
    pub async fn parameters(&self) -> JsResult<Vec<f32>> {
        self.lab.gpu.read(View::whole(&self.params)).await.map_err(js)
    }

    /// The model as a `.safetensors` file that `lenet-gpu` and PyTorch load.
    pub async fn safetensors(&self) -> JsResult<Vec<u8>> {
        let flat = self.parameters().await?;
        model_bytes(Path::new("the page's model"), self.net.arch, &flat, self.metadata.borrow().clone()).map_err(js)
    }

    /// The model as an `.onnx` file, as `lenet-gpu export --format onnx` writes it.
    pub async fn onnx(&self) -> JsResult<Vec<u8>> {
        let flat = self.parameters().await?;
        export_onnx(self.net, &self.layout, &flat, &onnx_metadata(self.net.arch, &self.metadata.borrow())).map_err(js)
    }

    /// The convolutions' kernels, as `lenet-gpu visualize filters` draws them.
    #[wasm_bindgen(js_name = convKernels)]
    pub async fn conv_kernels(&self) -> JsResult<Vec<ConvKernels>> {
        let flat = self.parameters().await?;
        let names = self.net.network().convs();
        let kernels = self.net.network().conv_kernels(&self.layout, &flat);
        Ok(names
            .into_iter()
            .zip(kernels)
            .map(|(name, k)| ConvKernels {
                name: name.to_string(),
                shape: k.shape.map(|d| d as u32).to_vec(),
                weights: k.weights,
                connected: k.connected.map(|c| c.into_iter().map(u8::from).collect()),
            })
            .collect())
    }

    /// One picture per class that the model scores highest for it, by gradient ascent
    /// (`lenet-gpu visualize classes`' defaults): 10 pictures of 28·28 values.
    #[wasm_bindgen(js_name = classImages)]
    pub async fn class_images(&self) -> JsResult<Vec<f32>> {
        let flat = self.parameters().await?;
        let target = AscentTarget::Classes(ClassObjective::Logit);
        let (gpu, kernels) = (self.lab.gpu, self.lab.kernels);
        let r = gradient_ascent(
            gpu,
            kernels,
            (self.net, &self.layout, &flat),
            target,
            &AscentConfig::regularized(),
            &mut |_, _| {},
        )
        .await
        .map_err(js)?;
        Ok(r.images)
    }

    /// `lenet-gpu summary`'s table.
    pub fn summary(&self) -> String {
        summary_table(self.net.arch, None)
    }

    /// `lenet-gpu visualize model`'s diagram, as SVG.
    pub fn diagram(&self) -> String {
        svg(self.net.arch, RankDir::Lr)
    }
}

/// The pixels of the 28x28 picture that unit (`y`, `x`) of feature map `tap` of network
/// `arch` depends on: [top, left, bottom, right), bottom and right exclusive.
#[wasm_bindgen(js_name = receptiveField)]
pub fn receptive_field_of(arch: &str, tap: &str, y: u32, x: u32) -> JsResult<Vec<u32>> {
    let arch = Arch::from_checkpoint_name(arch)
        .ok_or_else(|| js(format!("no network {arch:?}: lenet5-keras or lenet1998")))?;
    let f = receptive_field(arch, tap, y, x);
    Ok(vec![f.top, f.left, f.bottom, f.right])
}

/// One convolution's kernels: `shape` (out, in, k, k), `weights` in that order, and which
/// (out, in) pairs are connected (LeNet-1998's C3 table; empty: all).
#[wasm_bindgen(getter_with_clone)]
pub struct ConvKernels {
    pub name: String,
    pub shape: Vec<u32>,
    pub weights: Vec<f32>,
    pub connected: Option<Vec<u8>>,
}

/// What `lenet-gpu train` writes into a model file of `recipe` after `epoch` epochs; the
/// recipe carries the network's options (squashing function, input scale).
fn recipe_metadata(recipe: &Recipe, epoch: u32) -> HashMap<String, String> {
    HashMap::from([
        ("recipe".to_string(), serde_json::to_string(recipe).expect("a recipe serializes")),
        ("epoch".to_string(), epoch.to_string()),
        ("producer".to_string(), format!("lenet-gpu-web {}", env!("CARGO_PKG_VERSION"))),
    ])
}

/// Answers for a batch of pictures; `probabilities` and `scores` hold 10 values a picture.
#[wasm_bindgen(getter_with_clone)]
pub struct Predictions {
    pub classes: Vec<u32>,
    pub probabilities: Vec<f32>,
    /// LeNet-5's logits, LeNet-1998's RBF distances.
    pub scores: Vec<f32>,
}

#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct Evaluation {
    pub loss: f32,
    pub accuracy: f32,
    pub correct: u32,
    pub samples: u32,
}

impl From<EvalResult> for Evaluation {
    fn from(r: EvalResult) -> Self {
        let correct = (r.accuracy as f64 * r.samples as f64).round() as u32;
        Evaluation { loss: r.loss, accuracy: r.accuracy, correct, samples: r.samples }
    }
}

/// A map over the 28x28 input and the class's score; for Integrated Gradients also
/// score(x) - score(baseline), what the map sums to (completeness).
#[wasm_bindgen(getter_with_clone)]
pub struct Attribution {
    pub map: Vec<f32>,
    pub score: f32,
    #[wasm_bindgen(js_name = outputDelta)]
    pub output_delta: Option<f32>,
}

/// Every layer's output: names, dimensions (channels, height, width) and values.
#[wasm_bindgen]
pub struct FeatureMaps(Vec<(String, Vec<u32>, Vec<f32>)>);

#[wasm_bindgen]
impl FeatureMaps {
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.0.len()
    }

    pub fn name(&self, i: usize) -> Option<String> {
        self.0.get(i).map(|m| m.0.clone())
    }

    pub fn dims(&self, i: usize) -> Option<Vec<u32>> {
        self.0.get(i).map(|m| m.1.clone())
    }

    pub fn values(&self, i: usize) -> Option<Vec<f32>> {
        self.0.get(i).map(|m| m.2.clone())
    }
}

/// Where training stands after a slice: epoch (0-based) and step within it, the epoch's
/// running mean loss and accuracy.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct Progress {
    pub epoch: u32,
    pub step: u32,
    pub steps: u32,
    pub loss: f32,
    pub accuracy: f32,
}

impl From<StepProgress> for Progress {
    fn from(p: StepProgress) -> Self {
        Progress { epoch: p.epoch, step: p.step, steps: p.steps, loss: p.loss, accuracy: p.accuracy }
    }
}

/// Training in the page, a slice of steps at a time, with a recipe from `train --preset`.
#[wasm_bindgen]
pub struct Training {
    lab: Lab,
    trainer: Trainer<'static>,
}

#[wasm_bindgen]
impl Training {
    /// `preset`'s recipe with `seed`, `epochs` and (when non-zero) `batch_size`, on `images`.
    pub fn new(
        lab: &Lab,
        preset: &str,
        seed: u32,
        epochs: u32,
        batch_size: u32,
        images: &Images,
    ) -> JsResult<Training> {
        let base = Recipe::preset(preset).map_err(js)?;
        let batch_size = if batch_size == 0 { base.batch_size } else { batch_size };
        let recipe = Recipe { seed: seed.into(), epochs, batch_size, ..base };
        Ok(Training { lab: *lab, trainer: Trainer::new(lab.gpu, recipe, &images.0).map_err(js)? })
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> u32 {
        self.trainer.steps_per_epoch
    }

    /// Epochs done.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> u32 {
        self.trainer.epoch
    }

    /// Steps done, all epochs together.
    #[wasm_bindgen(getter)]
    pub fn step(&self) -> u32 {
        self.trainer.step as u32
    }

    /// Trains up to `steps` more steps of the current epoch (an epoch's last slice ends
    /// at its end), then resolves to where training stands: the epoch's running loss and
    /// accuracy. Slices train exactly as `lenet-gpu train`'s epochs do; between them the
    /// page draws, answers clicks or stops.
    #[wasm_bindgen(js_name = trainSteps)]
    pub async fn train_steps(&mut self, steps: u32) -> JsResult<Progress> {
        Ok(Progress::from(self.trainer.train_steps(steps).await.map_err(js)?))
    }

    /// Loss and accuracy of the parameters as they are now on `images`.
    pub async fn evaluate(&self, images: &Images) -> JsResult<Evaluation> {
        let evaluator = Evaluator::new(&self.trainer.ctx(), self.trainer.recipe.net(), &images.0).map_err(js)?;
        Ok(Evaluation::from(evaluator.run(self.lab.gpu, false).await.map_err(js)?))
    }

    /// Copies the parameters as they are now into `model` (one of this training's
    /// `model()`s): how the page's explorer follows the model as it learns, without a new
    /// model (and its GPU buffers) each time.
    #[wasm_bindgen(js_name = copyTo)]
    pub fn copy_to(&self, model: &Model) -> JsResult<()> {
        if model.net.arch != self.trainer.recipe.arch {
            return Err(js(format!(
                "a {} model cannot take this training's {}",
                model.arch(),
                self.trainer.recipe.arch.checkpoint_name()
            )));
        }
        let gpu = self.lab.gpu;
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.trainer.params, 0, &model.params, 0, model.params.size());
        gpu.submit(encoder.finish()).map_err(js)?;
        *model.metadata.borrow_mut() = recipe_metadata(&self.trainer.recipe, self.trainer.epoch);
        Ok(())
    }

    /// The model as it is now (a copy: training goes on without it).
    pub async fn model(&self) -> JsResult<Model> {
        let flat = self.trainer.read_params().await.map_err(js)?;
        let recipe = &self.trainer.recipe;
        Ok(Model::new(self.lab, recipe.net(), &flat, recipe_metadata(recipe, self.trainer.epoch)))
    }
}
