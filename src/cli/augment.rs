//! The augmentation options `train` and `visualize augment` share.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lenet_gpu::augment::{AugmentKind, Augmentation};
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::viz::augment::{augmented_samples, render_augmented};

use super::AdapterArg;
use pollster::FutureExt;

#[derive(Args)]
pub struct AugmentArgs {
    /// Random transforms of the training images, drawn anew for every image each epoch on
    /// the GPU [train: the preset's]. `shift` uses --shift only, `affine` all four
    /// strengths below, `elastic` adds --elastic-alpha/--elastic-sigma.
    #[arg(long, value_enum)]
    pub augment: Option<AugmentKind>,
    /// Largest translation on each axis, pixels [1.5].
    #[arg(long)]
    shift: Option<f32>,
    /// Largest rotation, degrees [8].
    #[arg(long)]
    rotate: Option<f32>,
    /// Largest relative change of size, e.g. 0.1 for 0.9x-1.1x [0.08].
    #[arg(long)]
    zoom: Option<f32>,
    /// Largest shear angle, degrees [8].
    #[arg(long)]
    shear: Option<f32>,
    /// Elastic distortion's strength, pixels per unit of smoothed noise [34, Simard et al.].
    #[arg(long)]
    elastic_alpha: Option<f32>,
    /// Elastic distortion's smoothness, the Gaussian's sigma in pixels [4, Simard et al.].
    #[arg(long)]
    elastic_sigma: Option<f32>,
}

impl AugmentArgs {
    /// Whether any augmentation option is on the command line.
    pub fn given(&self) -> bool {
        self.augment.is_some()
            || [self.shift, self.rotate, self.zoom, self.shear, self.elastic_alpha, self.elastic_sigma]
                .iter()
                .any(Option::is_some)
    }

    /// `a` with every option given on the command line.
    pub fn apply(&self, a: &mut Augmentation) {
        for (arg, field) in [
            (self.shift, &mut a.shift),
            (self.rotate, &mut a.rotate),
            (self.zoom, &mut a.zoom),
            (self.shear, &mut a.shear),
            (self.elastic_alpha, &mut a.elastic_alpha),
            (self.elastic_sigma, &mut a.elastic_sigma),
        ] {
            if let Some(v) = arg {
                *field = v;
            }
        }
        if let Some(v) = self.augment {
            a.kind = v;
        }
    }
}

#[derive(Args)]
pub struct VizAugmentArgs {
    #[command(flatten)]
    adapter: AdapterArg,
    #[command(flatten)]
    augment: AugmentArgs,
    /// Directory with MNIST-format IDX files; default: the bundled MNIST.
    #[arg(long)]
    data: Option<PathBuf>,
    /// How many training images (the first ones), one row each.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=64))]
    count: u32,
    /// How many epochs' draws of each, one column each.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=32))]
    epochs: u32,
    /// Seed of the draws (a run's --seed draws the same).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "augment.png")]
    out: PathBuf,
}

/// `visualize augment`: what training sees of the first images, epoch after epoch.
pub fn run_augment(a: VizAugmentArgs) -> Result<()> {
    let mut augmentation = Augmentation { kind: AugmentKind::Affine, ..Augmentation::none() };
    a.augment.apply(&mut augmentation);
    augmentation.check()?;
    let train = Dataset::load_or_bundled(a.data.as_deref(), Split::Train).context("loading the training set")?;
    let images = train.take(a.count as usize);
    let gpu = a.adapter.open()?;
    let draws = augmented_samples(&gpu, &augmentation, &images, a.seed, a.epochs).block_on()?;
    render_augmented(&augmentation, &images, &draws).save(&a.out)?;
    println!("{}", a.out.display());
    Ok(())
}
