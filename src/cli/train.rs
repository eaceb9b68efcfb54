//! `lenet-gpu train`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lenet_gpu::augment::AugmentKind;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::kernels::squash::SquashFn;
use lenet_gpu::model::params::Init;
use lenet_gpu::model::{Arch, InputScale};
use lenet_gpu::report::EpochReport;
use lenet_gpu::run::{kept_epoch, run_training, Event, RunOptions, MODEL_FILE};
use lenet_gpu::train::{Keep, OptimizerKind, Recipe, Schedule};

use super::augment::AugmentArgs;
use super::AdapterArg;
use pollster::FutureExt;

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
    /// Directory with the four MNIST-format IDX files (raw or .gz); default: the bundled
    /// MNIST. Your own data trains without augmentation unless --augment asks for it (the
    /// presets' transforms were tuned on digits).
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
    /// Hold out the last F of the training images (before shuffling, as Keras'
    /// `validation_split`) and report val_loss and val_accuracy every epoch.
    #[arg(long, value_name = "F")]
    validation_split: Option<f64>,
    /// Which epoch's model to keep in model.safetensors: the last, or the one with the
    /// lowest val_loss (needs --validation-split) [default: last].
    #[arg(long, value_enum)]
    keep: Option<Keep>,
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
    /// The recipe, and why it augments as it does (for the run's first lines).
    fn recipe(&self) -> Result<(Recipe, String)> {
        let preset = match (self.preset, self.arch) {
            (Some(p), _) => p,
            (None, Some(Arch::Lenet1998)) => Preset::Lenet1998,
            (None, _) => Preset::Default,
        };
        let mut r = Recipe::preset(preset.to_possible_value().expect("presets have names").get_name())?;
        if let Some(arch) = self.arch {
            if arch != r.arch {
                bail!("--preset {} is a recipe for {:?}, not --arch {:?}", r.name, r.arch, arch);
            }
        }
        // The presets' transforms were tuned on digits; other pictures have their own
        // orientation and scale, where the same draws can cost accuracy.
        let augment_why = match (&self.data, self.augment.given()) {
            (_, true) => "as asked".to_string(),
            (Some(_), false) => {
                r.augment.kind = AugmentKind::None;
                "--data brings your own pictures, and the presets' transforms were tuned on digits; \
                 ask for them with --augment"
                    .to_string()
            }
            (None, false) if r.augment.is_none() => format!("the {} preset's", r.name),
            (None, false) => format!("the {} preset's, tuned on MNIST's digits", r.name),
        };
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
        if let Some(v) = self.validation_split {
            r.validation_split = v;
        }
        if let Some(v) = self.keep {
            r.keep = v;
        }
        self.augment.apply(&mut r.augment);
        if r != before {
            r.name = format!("{}+custom", r.name);
        }
        Ok((r, augment_why))
    }

    /// `--init-from`'s weights, checked against the recipe's network.
    fn initial_weights(&self, recipe: &Recipe) -> Result<Option<Vec<f32>>> {
        let Some(path) = &self.init_from else { return Ok(None) };
        let m = super::load_model(path)?;
        if m.net.arch != recipe.arch {
            bail!(
                "--init-from {} holds a {} model; this recipe trains {}",
                path.display(),
                m.net.arch.checkpoint_name(),
                recipe.arch.checkpoint_name()
            );
        }
        Ok(Some(m.params))
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
    let (recipe, augment_why) = args.recipe()?;
    recipe.check()?;
    let out = args.out_dir(&recipe);
    let mut train = Dataset::load_or_bundled(args.data.as_deref(), Split::Train).context("loading the training set")?;
    let test = Dataset::load_or_bundled(args.data.as_deref(), Split::Test).context("loading the test set")?;
    if let Some(n) = args.train_limit {
        train = train.take(n);
    }
    let init = args.initial_weights(&recipe)?;
    let gpu = args.adapter.open()?;
    let interactive = std::io::stdout().is_terminal() && !args.quiet && !args.json;
    let mut bar: Option<ProgressBar> = None;
    let mut epochs = 0;
    let mut keep = Keep::Last;
    let opts = RunOptions { out: out.clone(), resume: args.resume, init };
    let history = run_training(&gpu, recipe, &train, &test, &opts, &mut |event| match event {
        Event::Start { recipe, first_epoch, steps_per_epoch, train_images, validation_images } => {
            epochs = recipe.epochs;
            keep = recipe.keep;
            // On stderr, so --json's stdout stays one object per epoch.
            if !args.quiet {
                let r = serde_json::to_string(recipe).unwrap_or_default();
                eprintln!("recipe: {r}");
                if !args.resume {
                    eprintln!("augmentation: {} ({augment_why})", recipe.augment.describe());
                }
                if validation_images > 0 {
                    eprintln!(
                        "validation: the last {validation_images} training images ({}), held out of training",
                        recipe.validation_split
                    );
                }
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
                println!("{}", epoch_line(&r));
            }
        }
    })
    .block_on()
    .with_context(|| format!("training (the last good checkpoint, if any, is kept in {})", out.display()))?;
    if !args.json {
        print_kept(keep, &history, &out);
    }
    Ok(())
}

/// The final line: the kept epoch's test figures and where the model is.
fn print_kept(keep: Keep, history: &[EpochReport], out: &Path) {
    let seconds: f64 = history.iter().map(|r| r.seconds).sum();
    if let Some(kept) = kept_epoch(keep, history) {
        let which = match keep {
            Keep::Last => format!("after {} epoch{}", kept.epoch, if kept.epoch == 1 { "" } else { "s" }),
            Keep::Best => format!(
                "of epoch {} of {} (lowest val_loss, {:.4})",
                kept.epoch,
                history.len(),
                kept.val_loss.unwrap_or(f32::NAN)
            ),
        };
        println!(
            "final test accuracy: {:.2}% (loss {:.4}) {which}, {seconds:.0} s; model: {}",
            kept.test_accuracy * 100.0,
            kept.test_loss,
            out.join(MODEL_FILE).display()
        );
    }
}

/// Keras' epoch line, then the test set's figures.
fn epoch_line(r: &EpochReport) -> String {
    let mut line = format!("{:.1}s - loss: {:.4} - accuracy: {:.4}", r.seconds, r.train_loss, r.train_accuracy);
    if let (Some(loss), Some(accuracy)) = (r.val_loss, r.val_accuracy) {
        line += &format!(" - val_loss: {loss:.4} - val_accuracy: {accuracy:.4}");
    }
    line + &format!(" - test_loss: {:.4} - test_accuracy: {:.4}", r.test_loss, r.test_accuracy)
}
