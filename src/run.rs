//! A training run on disk: every epoch is evaluated, then the model, the resumable state,
//! the metrics CSV and the curves PNG are (atomically) rewritten in the run directory.
//!
//! <out>/model.safetensors        the model, loadable by PyTorch (`checkpoint`)
//! <out>/train_state.safetensors  params + optimizer state + clock, for `--resume`
//! <out>/metrics.csv, curves.png  one row / point per epoch

use std::collections::HashMap;
use std::path::{Path, PathBuf};
// std's Instant on native; the browser's performance.now() on wasm32, where std's panics.
use web_time::Instant;

use crate::checkpoint::{first_non_finite, load_tensors, save_model, save_tensors};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::Evaluator;
use crate::gpu::Gpu;
use crate::report::{plot_curves, read_csv, write_csv, EpochReport};
use crate::train::{Keep, Recipe, StepProgress, Trainer};

pub const MODEL_FILE: &str = "model.safetensors";
pub const STATE_FILE: &str = "train_state.safetensors";
pub const METRICS_FILE: &str = "metrics.csv";
pub const CURVES_FILE: &str = "curves.png";
/// Held while a run writes the directory ([`lock_run_dir`]).
pub const LOCK_FILE: &str = ".lock";

/// What a run reports as it goes.
pub enum Event<'a> {
    /// The run starts (or resumes) at this epoch (0-based), with this recipe.
    Start {
        recipe: &'a Recipe,
        first_epoch: u32,
        steps_per_epoch: u32,
        train_images: usize,
        /// Held out of the training set by the recipe's validation split.
        validation_images: usize,
    },
    Step(StepProgress),
    Epoch(EpochReport),
}

pub struct RunOptions {
    pub out: PathBuf,
    /// Continue the run saved in `out` (its recipe, weights, optimizer state and clock).
    pub resume: bool,
    /// Start a new run from these weights (laid out as the recipe's network) instead of its
    /// initializer.
    pub init: Option<Vec<f32>>,
}

/// A run directory held by one run: an OS lock on `<out>/.lock`, released when the run ends
/// however it ends (a killed run leaves the file but not the lock, so no lock is stale).
pub struct RunLock {
    _file: std::fs::File,
}

/// Takes the run directory `out` (creating it), or says which process holds it.
pub fn lock_run_dir(out: &Path) -> Result<RunLock> {
    if out.exists() && !out.is_dir() {
        let what = format!("--out {}: a file is there; give a directory for the run's files", out.display());
        return Err(Error::Config(what));
    }
    std::fs::create_dir_all(out)?;
    let path = out.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::Write;
            file.set_len(0)?;
            write!(file, "{}", std::process::id())?;
            Ok(RunLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = if pid.trim().is_empty() { String::new() } else { format!(" (pid {})", pid.trim()) };
            Err(Error::RunInUse { path: out.to_path_buf(), holder })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn state_error(path: &Path, why: String) -> Error {
    Error::Checkpoint { path: path.to_path_buf(), reason: why }
}

/// Trains `recipe` (or the saved run, with `resume`) and returns every epoch's report.
pub async fn run_training(
    gpu: &Gpu,
    recipe: Recipe,
    train: &Dataset,
    test: &Dataset,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<Vec<EpochReport>> {
    if !opts.resume {
        // A recipe that cannot run never creates or locks the run directory.
        recipe.check()?;
    }
    let _lock = lock_run_dir(&opts.out)?;
    let state_path = opts.out.join(STATE_FILE);
    let mut history = Vec::new();
    let (recipe, saved) = if opts.resume {
        let file = load_tensors(&state_path)?;
        let meta = |k: &str| {
            file.metadata.get(k).cloned().ok_or_else(|| state_error(&state_path, format!("metadata {k} missing")))
        };
        let recipe: Recipe = serde_json::from_str(&meta("recipe")?)
            .map_err(|e| state_error(&state_path, format!("bad recipe metadata: {e}")))?;
        let epoch: u32 = meta("epoch")?.parse().map_err(|_| state_error(&state_path, "bad epoch".into()))?;
        let step: u64 = meta("step")?.parse().map_err(|_| state_error(&state_path, "bad step".into()))?;
        let take = |name: &str| {
            file.tensors
                .get(name)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| state_error(&state_path, format!("{name} missing")))
        };
        let saved = (take("params")?, take("optimizer.m")?, take("optimizer.v")?, epoch, step);
        let metrics = opts.out.join(METRICS_FILE);
        if metrics.exists() {
            history = read_csv(&metrics)?.into_iter().filter(|r| r.epoch <= epoch).collect();
        }
        (recipe, Some(saved))
    } else {
        (recipe, None)
    };

    let (train, validation) = train.split_validation(recipe.validation_split)?;
    let mut trainer = Trainer::new(gpu, recipe, &train)?;
    if let (Some(init), None) = (&opts.init, &saved) {
        if init.len() != trainer.layout.padded_len {
            return Err(Error::Config(format!(
                "--init-from: {} parameters, this network has {}",
                init.len(),
                trainer.layout.padded_len
            )));
        }
        trainer.write_params(init);
    }
    if let Some((params, m, v, epoch, step)) = saved {
        if params.len() != trainer.layout.padded_len || m.len() != params.len() || v.len() != params.len() {
            return Err(state_error(&state_path, "tensor sizes do not match this model".into()));
        }
        trainer.write_params(&params);
        trainer.restore(&m, &v, epoch, step);
    }
    let evaluator = Evaluator::new(&trainer.ctx(), trainer.recipe.net(), test)?;
    let validator = validation.as_ref().map(|v| Evaluator::new(&trainer.ctx(), trainer.recipe.net(), v)).transpose()?;
    // The training and the evaluation kernels, compiled together (where that is ahead).
    gpu.compile_pending()?;
    on_event(Event::Start {
        recipe: &trainer.recipe,
        first_epoch: trainer.epoch,
        steps_per_epoch: trainer.steps_per_epoch,
        train_images: train.len(),
        validation_images: validation.as_ref().map_or(0, Dataset::len),
    });

    while trainer.epoch < trainer.recipe.epochs {
        let started = Instant::now();
        let train_metrics = trainer.train_epoch(&mut |p| on_event(Event::Step(p))).await?;
        let val_metrics = match &validator {
            Some(v) => Some(v.run(gpu, false).await?),
            None => None,
        };
        let test_metrics = evaluator.run(gpu, false).await?;
        let report = EpochReport {
            epoch: trainer.epoch,
            seconds: started.elapsed().as_secs_f64(),
            lr: trainer.recipe.lr_at(trainer.step - 1, trainer.total_steps()),
            train_loss: train_metrics.mean_loss(),
            train_accuracy: train_metrics.accuracy(),
            val_loss: val_metrics.as_ref().map(|m| m.loss),
            val_accuracy: val_metrics.as_ref().map(|m| m.accuracy),
            test_loss: test_metrics.loss,
            test_accuracy: test_metrics.accuracy,
        };
        history.push(report);
        save_run(&trainer, &opts.out, &history).await?;
        on_event(Event::Epoch(report));
    }
    Ok(history)
}

/// The epoch whose model the run keeps: the last, or (`Keep::Best`) the first with the
/// lowest validation loss, as Keras' `save_best_only` (only a strictly lower loss replaces
/// it). The test set plays no part.
pub fn kept_epoch(keep: Keep, history: &[EpochReport]) -> Option<&EpochReport> {
    match keep {
        Keep::Last => history.last(),
        Keep::Best => history.iter().filter(|r| r.val_loss.is_some_and(f32::is_finite)).fold(None, |best, r| {
            if best.is_none_or(|b| r.val_loss < b.val_loss) {
                Some(r)
            } else {
                best
            }
        }),
    }
}

/// Writes every file of the run directory for the trainer's current epoch (the model only
/// when this epoch is the one kept); weights that are no longer finite are a divergence,
/// and nothing is written.
async fn save_run(trainer: &Trainer<'_>, out: &Path, history: &[EpochReport]) -> Result<()> {
    let params = trainer.read_params().await?;
    if let Some((tensor, count)) = first_non_finite(&trainer.layout, &params) {
        return Err(Error::DivergedWeights { epoch: trainer.epoch, tensor, count });
    }
    let (m, v) = trainer.read_state().await?;
    let last = history.last().expect("called after an epoch");
    let recipe = serde_json::to_string(&trainer.recipe).expect("a recipe serializes");
    let mut meta = HashMap::from([
        ("epoch".to_string(), trainer.epoch.to_string()),
        ("recipe".to_string(), recipe),
        ("test_accuracy".to_string(), last.test_accuracy.to_string()),
        ("test_loss".to_string(), last.test_loss.to_string()),
        ("producer".to_string(), format!("lenet-gpu {}", env!("CARGO_PKG_VERSION"))),
    ]);
    if let (Some(loss), Some(accuracy)) = (last.val_loss, last.val_accuracy) {
        meta.insert("val_loss".into(), loss.to_string());
        meta.insert("val_accuracy".into(), accuracy.to_string());
    }
    if kept_epoch(trainer.recipe.keep, history).is_some_and(|k| k.epoch == last.epoch) {
        save_model(&out.join(MODEL_FILE), trainer.recipe.arch, &params, meta.clone())?;
    }
    meta.insert("step".into(), trainer.step.to_string());
    let len = params.len();
    save_tensors(
        &out.join(STATE_FILE),
        &[("params", vec![len], &params), ("optimizer.m", vec![len], &m), ("optimizer.v", vec![len], &v)],
        meta,
    )?;
    write_csv(&out.join(METRICS_FILE), history)?;
    plot_curves(&out.join(CURVES_FILE), history)
}
