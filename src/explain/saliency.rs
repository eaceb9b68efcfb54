//! Attributions of one class's score to the input's pixels. The score is LeNet-5's logit
//! of the class, or for LeNet-1998 minus the paper's loss with the class as the label
//! (see [`ObjectivePlan::class_score`]). Every noisy sample or path step of one request is
//! an image of one batch: one forward and one backward submission.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

use super::objective::ObjectivePlan;
use crate::error::{Error, Result};
use crate::kernels::objective::ClassObjective;
use crate::model::lenet5::{CLASSES, IMAGE_LEN, IMAGE_SIDE};
use crate::model::{Ctx, NetSpec};

/// How a pixel's share of the score is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// d score / d pixel (Simonyan et al. 2014).
    Gradient,
    /// The gradient times the pixel.
    GradientXInput,
    /// The gradient averaged over copies of the image with Gaussian noise (Smilkov et
    /// al. 2017).
    Smoothgrad,
    /// (x - baseline) times the gradient averaged along the straight path from the
    /// baseline to x (Sundararajan et al. 2017): the attributions sum to
    /// score(x) - score(baseline).
    IntegratedGradients,
}

/// Where Integrated Gradients' path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// All pixels 0: MNIST's background, "no ink".
    Black,
    /// The image under a Gaussian blur of 4 pixels: the digit's rough mass, no strokes.
    Blur,
    /// Uniform noise in [0, 1] from the seed.
    Uniform,
}

/// A saliency request's options.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SaliencyConfig {
    pub method: Method,
    /// SmoothGrad: noisy copies.
    pub samples: u32,
    /// SmoothGrad: the noise's standard deviation as a share of the image's value range.
    pub noise: f32,
    /// Integrated Gradients: points on the path (midpoint rule).
    pub steps: u32,
    pub baseline: Baseline,
    pub seed: u64,
}

/// The most images one request may batch.
pub const MAX_BATCH: u32 = 4096;
const BLUR_SIGMA: f32 = 4.0;

impl SaliencyConfig {
    pub fn new(method: Method) -> Self {
        SaliencyConfig { method, samples: 50, noise: 0.15, steps: 64, baseline: Baseline::Black, seed: 0 }
    }

    /// The images of one request's batch: the image, its noisy copies or path points, and
    /// the images whose scores only are used.
    pub fn batch(&self) -> u32 {
        match self.method {
            Method::Gradient | Method::GradientXInput => 1,
            Method::Smoothgrad => self.samples + 1,
            Method::IntegratedGradients => self.steps + 2,
        }
    }

    /// An error naming the first option out of its range.
    pub fn check(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if !(1..=MAX_BATCH).contains(&self.samples) {
            return fail(format!("--samples must be in 1..={MAX_BATCH}, got {}", self.samples));
        }
        if !(1..=MAX_BATCH).contains(&self.steps) {
            return fail(format!("--steps must be in 1..={MAX_BATCH}, got {}", self.steps));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return fail(format!("--noise must be a number >= 0, got {}", self.noise));
        }
        Ok(())
    }
}

/// One image's attribution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Saliency {
    pub target: usize,
    /// One value per input pixel (28x28).
    pub attribution: Vec<f32>,
    /// The target's score of the image.
    pub score: f32,
    /// Integrated Gradients: the baseline and its score.
    pub baseline: Option<(Vec<f32>, f32)>,
}

impl Saliency {
    pub fn attribution_sum(&self) -> f32 {
        self.attribution.iter().sum()
    }

    /// Integrated Gradients: score(x) - score(baseline), what the attributions sum to.
    pub fn output_delta(&self) -> Option<f32> {
        self.baseline.as_ref().map(|(_, b)| self.score - b)
    }
}

/// The target class's attribution for `image` (28x28 values) on `ctx`'s model (`ctx`
/// needs a gradient buffer).
pub async fn saliency(
    ctx: &Ctx<'_>,
    net: NetSpec,
    image: &[f32],
    target: usize,
    cfg: &SaliencyConfig,
) -> Result<Saliency> {
    cfg.check()?;
    if target >= CLASSES as usize {
        return Err(Error::Config(format!("--target must be a class in 0..=9, got {target}")));
    }
    let len = IMAGE_LEN as usize;
    assert_eq!(image.len(), len, "a 28x28 image");
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    // The batch: the images whose gradients are taken, then (SmoothGrad, IG) the image
    // and (IG) the baseline, whose scores only are used.
    let mut batch: Vec<f32> = Vec::new();
    let baseline = match cfg.method {
        Method::Gradient | Method::GradientXInput => {
            batch.extend_from_slice(image);
            None
        }
        Method::Smoothgrad => {
            let (lo, hi) = image.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let sigma = cfg.noise * (hi - lo).max(1e-6);
            let normal = Normal::new(0.0, sigma).map_err(|e| Error::Config(format!("--noise: {e}")))?;
            for _ in 0..cfg.samples {
                batch.extend(image.iter().map(|&v| v + normal.sample(&mut rng)));
            }
            batch.extend_from_slice(image);
            None
        }
        Method::IntegratedGradients => {
            let base = baseline_image(image, cfg.baseline, &mut rng);
            for k in 0..cfg.steps {
                let alpha = (k as f32 + 0.5) / cfg.steps as f32;
                batch.extend(image.iter().zip(&base).map(|(&x, &b)| b + alpha * (x - b)));
            }
            batch.extend_from_slice(image);
            batch.extend_from_slice(&base);
            Some(base)
        }
    };
    let n = batch.len() / len;
    debug_assert_eq!(n as u32, cfg.batch());
    let scorer = ObjectivePlan::class_score(ctx, net, n as u32, ClassObjective::Logit)?;
    let (scores, grads) = scorer.gradients(ctx.gpu, &batch, &vec![target as u32; n]).await?;
    let paths = match cfg.method {
        Method::Gradient | Method::GradientXInput => 1,
        Method::Smoothgrad => cfg.samples as usize,
        Method::IntegratedGradients => cfg.steps as usize,
    };
    let mut mean = vec![0.0f32; len];
    for g in grads.chunks_exact(len).take(paths) {
        mean.iter_mut().zip(g).for_each(|(m, &g)| *m += g / paths as f32);
    }
    let (attribution, score, baseline) = match (cfg.method, baseline) {
        (Method::GradientXInput, _) => (mean.iter().zip(image).map(|(g, x)| g * x).collect(), scores[0], None),
        (Method::IntegratedGradients, Some(base)) => {
            let attribution = mean.iter().zip(image.iter().zip(&base)).map(|(g, (x, b))| g * (x - b)).collect();
            (attribution, scores[paths], Some((base, scores[paths + 1])))
        }
        _ => (mean, scores[paths.min(n - 1)], None),
    };
    Ok(Saliency { target, attribution, score, baseline })
}

/// Integrated Gradients' starting image for `image`.
pub fn baseline_image(image: &[f32], baseline: Baseline, rng: &mut ChaCha8Rng) -> Vec<f32> {
    match baseline {
        Baseline::Black => vec![0.0; image.len()],
        Baseline::Blur => {
            let side = IMAGE_SIDE;
            let img =
                image::ImageBuffer::<image::Luma<f32>, _>::from_raw(side, side, image.to_vec()).expect("a 28x28 image");
            image::imageops::blur(&img, BLUR_SIGMA).into_raw()
        }
        Baseline::Uniform => {
            let u = Uniform::new(0.0f32, 1.0).expect("a valid range");
            (0..image.len()).map(|_| u.sample(rng)).collect()
        }
    }
}
