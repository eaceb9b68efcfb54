//! Activation maximization: gradient ascent on the input image, on the GPU, with the same
//! forward and backward kernels as training. Every filter (or all ten classes) of one
//! request is optimized together as one batch; each iteration is one submission.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fourier::decorrelated_basis;
use super::weights::ConvLayer;
use crate::error::{Error, Result};
use crate::explain::objective::{conv_tap, ObjectivePlan};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::gemm::{Epilogue, GemmViews, Transpose};
use crate::kernels::objective::ClassObjective;
use crate::kernels::Kernels;
use crate::model::lenet5::{CLASSES, IMAGE_LEN, IMAGE_SIDE};
use crate::model::{Ctx, NetSpec, ParamLayout};
use crate::shapes::{AscentParams, GemmShape, ImageShape, TvParams};

/// What the synthesized images maximize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AscentTarget {
    /// One image per class: its logit or softmax probability.
    Classes(ClassObjective),
    /// One image per output channel of a conv layer: the channel's mean activation (the
    /// reported objective is after the ReLU; the gradient is the pre-activation's, see the
    /// conv tap of `model::layers::ConvPool`).
    Filters(ConvLayer),
}

/// What gradient ascent optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Param {
    /// The pixels themselves.
    Pixel,
    /// The amplitudes of cosine patterns scaled by 1 / frequency (Lucid's decorrelated
    /// space, see `viz::fourier`); blur and clamping do not apply.
    Fourier,
}

/// Step size, iteration budget and regularizers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AscentConfig {
    pub steps: u32,
    /// Step length relative to the gradient's RMS.
    pub lr: f32,
    /// Weight decay on the image per step: x *= 1 - l2.
    pub l2: f32,
    /// Blur with a 3x3 Gaussian every this many steps (0 = never).
    pub blur_every: u32,
    /// Weight of the total-variation penalty subtracted from the objective (0 = none):
    /// smoothness without a blur's loss of contrast.
    pub tv: f32,
    /// Random shift of up to this many pixels per step (0 = none).
    pub jitter: u32,
    pub seed: u64,
    /// Keep pixels in [0, 1], the range the network was trained on (pixel
    /// parameterization only).
    pub clamp: bool,
    /// What is optimized: the pixels, or the decorrelated (Fourier) coefficients.
    pub param: Param,
    /// Stop early once no objective rises any more (checked every 20 steps).
    pub stop_when_flat: bool,
}

impl AscentConfig {
    /// The tutorial's recipe: normalized gradient, step 1, up to 500 steps, no
    /// regularizers, stop when the objective stops rising.
    pub fn tutorial() -> Self {
        AscentConfig {
            steps: 500,
            lr: 1.0,
            l2: 0.0,
            blur_every: 0,
            tv: 0.0,
            jitter: 0,
            seed: 0,
            clamp: false,
            param: Param::Pixel,
            stop_when_flat: true,
        }
    }

    /// An error naming the first option out of its range.
    pub fn check(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if self.steps == 0 {
            return fail("--steps must be at least 1, got 0".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return fail(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.l2) {
            return fail(format!("--l2 must be in [0, 1), got {}", self.l2));
        }
        if !(self.tv.is_finite() && self.tv >= 0.0) {
            return fail(format!("--tv must be a number >= 0, got {}", self.tv));
        }
        Ok(())
    }

    /// Our default: small clamped steps with L2 decay, a blur every 4 steps and 1-pixel
    /// jitter, the lucid / tf-keras-vis practice against high-frequency noise.
    pub fn regularized() -> Self {
        AscentConfig {
            steps: 300,
            lr: 0.02,
            l2: 2e-3,
            blur_every: 4,
            tv: 0.0,
            jitter: 1,
            seed: 0,
            clamp: true,
            param: Param::Pixel,
            stop_when_flat: false,
        }
    }
}

/// The synthesized images and how well they do.
#[derive(Debug, Clone, PartialEq)]
pub struct AscentResult {
    /// N images of 28x28, as optimized (what the network saw).
    pub images: Vec<f32>,
    pub initial: Vec<f32>,
    pub objective: Vec<f32>,
    /// The class the network assigns to each final image, and its probability.
    pub predicted: Vec<(usize, f32)>,
    pub steps_run: u32,
}

impl AscentResult {
    pub fn len(&self) -> usize {
        self.objective.len()
    }
    pub fn is_empty(&self) -> bool {
        self.objective.is_empty()
    }
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * IMAGE_LEN as usize..(i + 1) * IMAGE_LEN as usize]
    }
}

/// The tutorial's de-processing for display: standardize, x0.1, +0.5, clip to [0, 1].
pub fn deprocess(image: &[f32]) -> Vec<f32> {
    let n = image.len() as f32;
    let mean = image.iter().sum::<f32>() / n;
    let std = (image.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt();
    image.iter().map(|v| ((v - mean) / (std + 1e-5) * 0.1 + 0.5).clamp(0.0, 1.0)).collect()
}

/// Runs gradient ascent for every image of `target` at once, on the network of `net`
/// with parameters `params` (laid out as `layout`).
pub async fn gradient_ascent(
    gpu: &Gpu,
    k: &Kernels,
    (net, layout, params): (NetSpec, &ParamLayout, &[f32]),
    target: AscentTarget,
    cfg: &AscentConfig,
    on_progress: &mut dyn FnMut(u32, u32),
) -> Result<AscentResult> {
    cfg.check()?;
    let params = gpu.storage_from("params", params);
    let grads = gpu.storage("grads", layout.padded_len);
    let ctx = Ctx::new(gpu, k, layout, &params).with_grads(&grads);
    // One image per class, or per channel of the conv layer (its output before any pool).
    let ascent = match target {
        AscentTarget::Classes(mode) => ObjectivePlan::class_score(&ctx, net, CLASSES, mode)?,
        AscentTarget::Filters(layer) => {
            let name = conv_tap(net, layer)?;
            let row = net.network().rows().into_iter().find(|r| r.name.to_lowercase() == name);
            let channels = row.expect("a conv layer has a row").output_shape[0];
            ObjectivePlan::channel_mean(&ctx, net, channels, layer)?
        }
    };
    ascent.set_targets(gpu, &(0..ascent.batch()).collect::<Vec<u32>>());
    ascend(gpu, k, &ascent, cfg, on_progress).await
}

/// The loop: jitter, forward + objective, backward to the input, normalized step, un-jitter,
/// blur now and then; one submission per step.
async fn ascend(
    gpu: &Gpu,
    k: &Kernels,
    net: &ObjectivePlan,
    cfg: &AscentConfig,
    on_progress: &mut dyn FnMut(u32, u32),
) -> Result<AscentResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let steps = AscentSteps::new(gpu, k, net, cfg, &mut rng)?;
    let read_objective = || net.values(gpu);
    let mut initial = None;
    let mut last_check: Option<Vec<f32>> = None;
    let mut steps_run = 0;
    for i in 0..cfg.steps {
        let j = cfg.jitter as i32;
        let shift = if j > 0 { (rng.random_range(-j..=j), rng.random_range(-j..=j)) } else { (0, 0) };
        let blur = cfg.param == Param::Pixel && cfg.blur_every > 0 && (i + 1) % cfg.blur_every == 0;
        steps.submit_step(gpu, shift, blur)?;
        steps_run = i + 1;
        if i == 0 {
            initial = Some(read_objective().await?);
        }
        if cfg.stop_when_flat && (i + 1) % 20 == 0 {
            let now = read_objective().await?;
            if let Some(prev) = &last_check {
                if now.iter().zip(prev).all(|(a, b)| *a <= *b + 1e-4) {
                    break;
                }
            }
            last_check = Some(now);
        }
        if (i + 1) % 10 == 0 || i + 1 == cfg.steps {
            gpu.check()?;
            on_progress(i + 1, cfg.steps);
        }
    }
    steps.submit_final_forward(gpu)?;
    let objective_now = read_objective().await?;
    Ok(AscentResult {
        images: gpu.read(View::whole(&steps.image)).await?,
        initial: initial.unwrap_or_else(|| objective_now.clone()),
        objective: objective_now,
        predicted: predictions(gpu, net).await?,
        steps_run,
    })
}

/// The image being optimized and every dispatch of an ascent step, made once.
struct AscentSteps<'a> {
    net: &'a ObjectivePlan,
    images: ImageShape,
    image: wgpu::Buffer,
    /// The (jittered) image into the network's input, and the step back out of it.
    roll_in: Dispatch,
    unroll: Dispatch,
    /// The total-variation penalty's gradient, when asked for.
    tv: Option<Dispatch>,
    /// Pixels: the normalized step on x (none for Fourier, whose step is on c).
    update: Option<Dispatch>,
    blur: Dispatch,
    copy_back: Dispatch,
    coefficients: Option<Coefficients>,
}

impl<'a> AscentSteps<'a> {
    fn new(gpu: &Gpu, k: &Kernels, net: &'a ObjectivePlan, cfg: &AscentConfig, rng: &mut ChaCha8Rng) -> Result<Self> {
        let batch = net.batch();
        let v = View::whole;
        let len = (batch * IMAGE_LEN) as usize;
        let start_image: Vec<f32> = (0..len).map(|_| rng.random_range(0.4..0.6)).collect();
        let image = gpu.storage_from("ascent.image", &start_image);
        let scratch = gpu.storage("ascent.scratch", len);
        let images = ImageShape::new(batch, IMAGE_SIDE, IMAGE_SIDE);
        let fourier = cfg.param == Param::Fourier;
        let (lo, hi) = if cfg.clamp && !fourier { (0.0, 1.0) } else { (f32::MIN, f32::MAX) };
        let lr = net.sign() * cfg.lr;
        let step = AscentParams { n: batch, len: IMAGE_LEN, lr, l2: cfg.l2, lo, hi, _pad: [0; 2] };
        let x = net.plan.x().expect("an f32 input");
        let dx = net.plan.input_grad().expect("a plan with the input gradient");
        // The penalty's gradient joins the objective's, with the sign that lowers TV
        // whichever way the step goes.
        let tv = TvParams { n: batch, h: IMAGE_SIDE, w: IMAGE_SIDE, coef: -cfg.tv * net.sign() };
        // Pixels: step x, roll it back into the image. Fourier: roll the gradient back,
        // take it to the coefficients (g · M), step them, and make the image from them
        // (0.5 + c Mᵀ) before each forward pass.
        let coefficients = fourier.then(|| Coefficients::new(gpu, k, (&image, &scratch), step, rng)).transpose()?;
        let (unroll, update) = match &coefficients {
            None => {
                (k.ascent.roll2d(gpu, images, v(x), v(&image))?, Some(k.ascent.ascent_step(gpu, step, v(x), v(dx))?))
            }
            Some(_) => (k.ascent.roll2d(gpu, images, v(dx), v(&scratch))?, None),
        };
        Ok(AscentSteps {
            net,
            images,
            roll_in: k.ascent.roll2d(gpu, images, v(&image), v(x))?,
            unroll,
            tv: (cfg.tv > 0.0).then(|| k.ascent.tv_gradient(gpu, tv, v(x), v(dx))).transpose()?,
            update,
            blur: k.ascent.blur3x3(gpu, images, v(&image), v(&scratch))?,
            copy_back: k.ascent.roll2d(gpu, images, v(&scratch), v(&image))?,
            coefficients,
            image,
        })
    }

    fn set_shift(&self, gpu: &Gpu, d: &Dispatch, (dy, dx): (i32, i32)) {
        d.set_uniform(gpu, &ImageShape { shift_y: dy, shift_x: dx, ..self.images });
    }

    /// The image synthesized (Fourier) and shifted into the network's input.
    fn record_input(&self, pass: &mut wgpu::ComputePass) {
        if let Some(c) = &self.coefficients {
            c.synthesize.record(pass);
        }
        self.roll_in.record(pass);
    }

    /// One step, shifted by `shift` pixels, blurred after if `blur`: one submission.
    fn submit_step(&self, gpu: &Gpu, shift: (i32, i32), blur: bool) -> Result<()> {
        self.set_shift(gpu, &self.roll_in, shift);
        self.set_shift(gpu, &self.unroll, (-shift.0, -shift.1));
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.record_input(&mut pass);
            self.net.record_forward(&mut pass);
            self.net.record_backward(&mut pass)?;
            self.tv.iter().chain(&self.update).for_each(|d| d.record(&mut pass));
            self.unroll.record(&mut pass);
            if let Some(c) = &self.coefficients {
                c.gradient.record(&mut pass);
                c.step.record(&mut pass);
            }
            if blur {
                self.blur.record(&mut pass);
                self.copy_back.record(&mut pass);
            }
        }
        gpu.submit(encoder.finish())?;
        Ok(())
    }

    /// A forward pass on the images as they are now, unshifted: the final objective and
    /// predicted class.
    fn submit_final_forward(&self, gpu: &Gpu) -> Result<()> {
        self.set_shift(gpu, &self.roll_in, (0, 0));
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.record_input(&mut pass);
            self.net.record_forward(&mut pass);
        }
        gpu.submit(encoder.finish())?;
        Ok(())
    }
}

/// The Fourier parameterization's buffers and dispatches.
struct Coefficients {
    /// image = 0.5 + c Mᵀ.
    synthesize: Dispatch,
    /// dc = g M, g the un-jittered image gradient (in scratch).
    gradient: Dispatch,
    /// The normalized step on c.
    step: Dispatch,
}

impl Coefficients {
    /// For `step.n` images written into `image`, from the gradient in `gradient`. The
    /// coefficients start as noise as strong as the pixel start's (RMS 0.06 per pixel, the
    /// basis having RMS gain 1), but smooth.
    fn new(
        gpu: &Gpu,
        k: &Kernels,
        (image, gradient): (&wgpu::Buffer, &wgpu::Buffer),
        step: AscentParams,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let batch = step.n;
        let len = (batch * IMAGE_LEN) as usize;
        let start: Vec<f32> = (0..len).map(|_| rng.random_range(-0.1..0.1)).collect();
        let c = gpu.storage_from("ascent.coefficients", &start);
        let dc = gpu.storage("ascent.coefficients.grad", len);
        let basis = gpu.storage_from("ascent.basis", &decorrelated_basis(IMAGE_SIDE));
        let grey = gpu.storage_from("ascent.grey", &vec![0.5f32; IMAGE_LEN as usize]);
        let v = View::whole;
        let shape = GemmShape::new(batch, IMAGE_LEN, IMAGE_LEN);
        let synth_views = GemmViews { a: v(&c), b: v(&basis), operand: Some(v(&grey)), c: v(image) };
        let synthesize = k.gemm.gemm(gpu, Transpose::B, Epilogue::BiasCol { relu: false }, shape, synth_views)?;
        let grad_views = GemmViews::plain(v(gradient), v(&basis), v(&dc));
        let gradient = k.gemm.gemm(gpu, Transpose::None, Epilogue::None, shape, grad_views)?;
        let step = k.ascent.ascent_step(gpu, step, v(&c), v(&dc))?;
        Ok(Coefficients { synthesize, gradient, step })
    }
}

/// After a forward pass: each image's predicted class and its score.
async fn predictions(gpu: &Gpu, net: &ObjectivePlan) -> Result<Vec<(usize, f32)>> {
    let probs: Vec<f32> = gpu.read(View::whole(net.plan.probs())).await?;
    let rows = probs.chunks_exact(CLASSES as usize).take(net.batch() as usize);
    Ok(rows
        .map(|row| {
            let c = crate::eval::argmax(row);
            (c, row[c])
        })
        .collect())
}
