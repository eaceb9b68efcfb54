//! `lenet-gpu train`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::kernels::squash::SquashFn;
use lenet_gpu::model::params::Init;
use lenet_gpu::model::{Arch, InputScale};
use lenet_gpu::run::{run_training, Event, RunOptions, MODEL_FILE};
use lenet_gpu::train::{OptimizerKind, Recipe, Schedule};

use super::augment::AugmentArgs;
use super::AdapterArg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// LeNet-5: Adam 2e-3, cosine decay, He init, batch 100, random affine draws (shift 1.5 px, rotation 8°, zoom 0.08, shear 8°), 10 epochs: 99.35% mean test accuracy over seeds 0-2 (99.42% on seed 0).
    Default,
    /// LeNet-5, 99% soonest: the default in 4 epochs at lr 3e-3, whole-pixel shifts of ±1: 99.17% mean over seeds 0-2 after 4 epochs.
    Fast,
    /// LeNet-5, the most it reaches: stronger affine draws (2 px, 10°, 0.1, 10°), 30 epochs: 99.46% mean over seeds 0-2 (99.50% on seed 0).
    Best,
    /// LeNet-5, the Keras tutorial: SGD lr 0.01, batch 100, U(-0.05, 0.05) init, raw 0-255 pixels, 50 epochs: 96.45% after epoch 1, 99.11% after 50 (the tutorial: 98.34%).
    KerasSeed,
    /// LeNet-1998, the paper: SDLM, 20 passes with its learning-rate steps, U(±2.4/fan_in).
    Lenet1998,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    /// He/Kaiming uniform, sqrt(6 / fan_in).
    He,
    /// U(-0.05, 0.05), the Keras tutorial's initializer.
    Uniform,
    /// U(±2.4 / fan_in), LeCun et al. 1998.
    Lecun98,
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    adapter: AdapterArg,
    /// Directory with the four MNIST-format IDX files (raw or .gz); default: the bundled MNIST.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Run directory: model.safetensors, train_state.safetensors, metrics.csv, curves.png
    /// [default: runs/<arch>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Which network. `lenet1998` starts from the `lenet1998` preset.
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// Starting recipe [default: `default` for lenet5, `lenet1998` for lenet1998]; any
    /// option below overrides one of its values.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// LeNet-1998's squashing function.
    #[arg(long, value_enum)]
    squash: Option<SquashFn>,
    /// SDLM's damping mu (the paper's 0.02).
    #[arg(long)]
    mu: Option<f32>,
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    epochs: Option<u32>,
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch_size: Option<u32>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerKind>,
    /// SGD momentum, in [0, 1).
    #[arg(long)]
    momentum: Option<f32>,
    /// L2 weight decay (PyTorch's `weight_decay`).
    #[arg(long)]
    weight_decay: Option<f32>,
    #[arg(long, value_enum)]
    schedule: Option<Schedule>,
    #[arg(long, value_enum)]
    init: Option<InitArg>,
    /// Seed of the initial weights, of every epoch's shuffle and of the augmentation's draws.
    #[arg(long)]
    seed: Option<u64>,
    /// Pixels as LeNet-5 trains on them: `unit` = bytes / 255, `raw` = the bytes 0-255 as
    /// the Keras tutorial feeds them [preset's: raw for keras-seed, else unit]. The model
    /// takes [0, 1] pixels from every command either way (a raw one scales them itself).
    #[arg(long, value_enum)]
    input_scale: Option<InputScale>,
    #[command(flatten)]
    augment: AugmentArgs,
    /// Train on the first N training images only (quick experiments).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Continue the run saved in --out (its own recipe, weights and optimizer state).
    #[arg(long)]
    resume: bool,
    /// Start from the weights of this checkpoint (any float type, ours or PyTorch's
    /// `save_file(model.state_dict())`) instead of the initializer; a fresh optimizer.
    #[arg(long, conflicts_with = "resume")]
    init_from: Option<PathBuf>,
    /// Print nothing but errors and the final result.
    #[arg(long, conflicts_with = "json")]
    quiet: bool,
    /// One JSON object per epoch on stdout.
    #[arg(long)]
    json: bool,
}

impl TrainArgs {
    fn recipe(&self) -> Result<Recipe> {
        let preset = match (self.preset, self.arch) {
            (Some(p), _) => p,
            (None, Some(Arch::Lenet1998)) => Preset::Lenet1998,
            (None, _) => Preset::Default,
        };
        let mut r = match preset {
            Preset::Default => Recipe::default_recipe(),
            Preset::Fast => Recipe::fast(),
            Preset::Best => Recipe::best(),
            Preset::KerasSeed => Recipe::keras_seed(),
            Preset::Lenet1998 => Recipe::lenet1998(),
        };
        if let Some(arch) = self.arch {
            if arch != r.arch {
                bail!("--preset {} is a recipe for {:?}, not --arch {:?}", r.name, r.arch, arch);
            }
        }
        let before = r.clone();
        if let Some(v) = self.epochs {
            r.epochs = v;
        }
        if let Some(v) = self.batch_size {
            r.batch_size = v;
        }
        if let Some(v) = self.lr {
            r.lr = v;
        }
        if let Some(v) = self.optimizer {
            r.optimizer = v;
        }
        if let Some(v) = self.momentum {
            r.momentum = v;
        }
        if let Some(v) = self.weight_decay {
            r.weight_decay = v;
        }
        if let Some(v) = self.schedule {
            r.schedule = v;
        }
        if let Some(v) = self.init {
            r.init = match v {
                InitArg::He => Init::HeUniform,
                InitArg::Uniform => Init::Uniform { limit: 0.05 },
                InitArg::Lecun98 => Init::Lecun98,
            };
        }
        if let Some(v) = self.squash {
            r.squash = v;
        }
        if let Some(v) = self.mu {
            r.mu = v;
        }
        if let Some(v) = self.seed {
            r.seed = v;
        }
        if let Some(v) = self.input_scale {
            r.input_scale = v;
        }
        self.augment.apply(&mut r.augment);
        if r != before {
            r.name = format!("{}+custom", r.name);
        }
        Ok(r)
    }

    fn out_dir(&self, recipe: &Recipe) -> PathBuf {
        let arch = match recipe.arch {
            Arch::Lenet5 => "lenet5",
            Arch::Lenet1998 => "lenet1998",
        };
        self.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(arch))
    }
}

pub fn run_train(args: TrainArgs) -> Result<()> {
    // Every option is checked before anything is read, opened or created.
    let recipe = args.recipe()?;
    recipe.check()?;
    let out = args.out_dir(&recipe);
    let mut train = Dataset::load_or_bundled(args.data.as_deref(), Split::Train).context("loading the training set")?;
    let test = Dataset::load_or_bundled(args.data.as_deref(), Split::Test).context("loading the test set")?;
    if let Some(n) = args.train_limit {
        train = train.take(n);
    }
    let gpu = args.adapter.open()?;
    let interactive = std::io::stdout().is_terminal() && !args.quiet && !args.json;
    let mut bar: Option<ProgressBar> = None;
    let mut epochs = 0;
    let init = match &args.init_from {
        Some(path) => {
            let m = super::load_model(path)?;
            if m.net.arch != recipe.arch {
                bail!(
                    "--init-from {} holds a {} model; this recipe trains {}",
                    path.display(),
                    m.net.arch.checkpoint_name(),
                    recipe.arch.checkpoint_name()
                );
            }
            Some(m.params)
        }
        None => None,
    };
    let opts = RunOptions { out: out.clone(), resume: args.resume, init };
    let history = run_training(&gpu, recipe, &train, &test, &opts, &mut |event| match event {
        Event::Start { recipe, first_epoch, steps_per_epoch, train_images } => {
            epochs = recipe.epochs;
            if !args.quiet && !args.json {
                let r = serde_json::to_string(recipe).unwrap_or_default();
                eprintln!("recipe: {r}");
                eprintln!(
                    "training on {train_images} images, {steps_per_epoch} steps of {} per epoch, epochs {}..={}",
                    recipe.batch_size,
                    first_epoch + 1,
                    recipe.epochs
                );
            }
        }
        Event::Step(p) => {
            if interactive {
                let b = bar.get_or_insert_with(|| {
                    println!("Epoch {}/{epochs}", p.epoch + 1);
                    let b = ProgressBar::new(p.steps as u64);
                    b.set_style(
                        ProgressStyle::with_template("{pos:>5}/{len} [{bar:30}] {elapsed} eta {eta} {msg}")
                            .expect("valid template")
                            .progress_chars("=> "),
                    );
                    b
                });
                b.set_position(p.step as u64);
                b.set_message(format!("loss: {:.4} - accuracy: {:.4}", p.loss, p.accuracy));
            }
        }
        Event::Epoch(r) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            if args.json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else if !args.quiet {
                if !interactive {
                    println!("Epoch {}/{epochs}", r.epoch);
                }
                println!(
                    "{:.1}s - loss: {:.4} - accuracy: {:.4} - test_loss: {:.4} - test_accuracy: {:.4}",
                    r.seconds, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy
                );
            }
        }
    })
    .with_context(|| format!("training (the last good checkpoint, if any, is kept in {})", out.display()))?;
    if let Some(last) = history.last() {
        let seconds: f64 = history.iter().map(|r| r.seconds).sum();
        if !args.json {
            println!(
                "final test accuracy: {:.2}% (loss {:.4}) after {} epoch{}, {seconds:.0} s; model: {}",
                last.test_accuracy * 100.0,
                last.test_loss,
                last.epoch,
                if last.epoch == 1 { "" } else { "s" },
                out.join(MODEL_FILE).display()
            );
        }
    }
    Ok(())
}
