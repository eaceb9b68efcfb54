//! Commands that answer once (eval, predict, visualize) on a cold shader cache: they answer
//! with the quick kernels, then start `lenet-gpu warm-up` in the background, which runs
//! them on the fast kernels (compiling those into the cache, with helper processes) and
//! leaves the note ([`fast_kernels_note`]) that lets the next command use the fast ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, ValueEnum};
use lenet_gpu::gpu::{fast_kernels_note, Gpu};
use lenet_gpu::kernels::{Kernels, Tier};

use super::{AdapterArg, Cli};

/// `--kernels`: which kernel tier a command that answers once runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KernelsChoice {
    /// The fast kernels where they start at once, else the quick ones (and a warm-up).
    #[default]
    Auto,
    Fast,
    Quick,
}

/// A warm-up newer than this is taken to be still running: no second one is started.
const WARMING_FOR: Duration = Duration::from_secs(600);

/// The warm-up to start once the command has answered: (model, adapter, note).
static SCHEDULED: Mutex<Option<(PathBuf, AdapterArg, PathBuf)>> = Mutex::new(None);

/// The kernels for a command that answers once on `gpu` with `model`, as `adapter.kernels`
/// asks; where `auto` picks the quick tier, says so and schedules the warm-up.
pub fn kernels_for_one_answer(gpu: &Gpu, adapter: AdapterArg, model: &Path) -> Result<Kernels> {
    let kernels = match adapter.kernels {
        KernelsChoice::Auto => Kernels::for_one_answer(gpu)?,
        KernelsChoice::Fast => Kernels::new(gpu)?,
        KernelsChoice::Quick => Kernels::quick(gpu)?,
    };
    if adapter.kernels == KernelsChoice::Auto && kernels.tier == Tier::Quick {
        if let Some(note) = fast_kernels_note(gpu) {
            eprintln!(
                "note: the shader cache is cold, so this runs on the quick kernels; the fast ones compile \
                 in the background for next time"
            );
            let model = std::fs::canonicalize(model).unwrap_or_else(|_| model.to_path_buf());
            *SCHEDULED.lock().expect("warm-up schedule poisoned") = Some((model, adapter, note));
        }
    }
    Ok(kernels)
}

/// Starts the scheduled warm-up, if any, as a process of its own that outlives this one
/// (its output goes nowhere; a failed start only costs the next command its fast start).
pub fn start_scheduled() {
    let Some((model, adapter, note)) = SCHEDULED.lock().expect("warm-up schedule poisoned").take() else { return };
    let warming = warming_path(&note);
    let busy = std::fs::metadata(&warming)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < WARMING_FOR));
    let Ok(program) = std::env::current_exe() else { return };
    if busy || std::fs::write(&warming, std::process::id().to_string()).is_err() {
        return;
    }
    let mut command = Command::new(program);
    command
        .arg("warm-up")
        .arg("--model")
        .arg(&model)
        .arg("--note")
        .arg(&note)
        .arg("--adapter")
        .arg(adapter.adapter.to_string())
        .env("LENET_GPU_PORTABLE", if adapter.portable { "1" } else { "0" })
        .env_remove("LENET_GPU_KERNELS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if command.spawn().is_err() {
        let _ = std::fs::remove_file(&warming);
    }
}

/// The file that says a warm-up for `note` is under way.
fn warming_path(note: &Path) -> PathBuf {
    let mut name = note.file_name().unwrap_or_default().to_os_string();
    name.push(".warming");
    note.with_file_name(name)
}

/// `lenet-gpu warm-up`: runs every command that answers once, with its defaults, on the
/// fast kernels, then writes `note`.
#[derive(Args)]
pub struct WarmUpArgs {
    #[arg(long)]
    model: PathBuf,
    /// The note to write once every kernel is compiled.
    #[arg(long)]
    note: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    adapter: lenet_gpu::gpu::AdapterChoice,
}

pub fn run_warm_up(a: WarmUpArgs) -> Result<()> {
    let result = warm_up(&a);
    let _ = std::fs::remove_file(warming_path(&a.note));
    result
}

fn warm_up(a: &WarmUpArgs) -> Result<()> {
    let out = tempfile::tempdir().context("making a directory for the warm-up's pictures")?;
    let model = a.model.display().to_string();
    let adapter = a.adapter.to_string();
    let at = |name: &str| out.path().join(name).display().to_string();
    let commands: [Vec<String>; 6] = [
        vec!["eval".into()],
        vec!["visualize".into(), "features".into(), "--out".into(), at("features")],
        vec!["visualize".into(), "saliency".into(), "--out".into(), at("saliency.png")],
        vec!["visualize".into(), "gradcam".into(), "--out".into(), at("gradcam.png")],
        vec!["visualize".into(), "occlusion".into(), "--out".into(), at("occlusion.png")],
        vec!["visualize".into(), "mistakes".into(), "--out".into(), at("mistakes.png")],
    ];
    for mut args in commands {
        args.extend(["--model", &model, "--adapter", &adapter, "--kernels", "fast"].map(String::from));
        let what = args.join(" ");
        let cli = Cli::try_parse_from(std::iter::once("lenet-gpu".to_string()).chain(args))
            .with_context(|| format!("warm-up: {what}"))?;
        super::run_command(cli).with_context(|| format!("warm-up: {what}"))?;
    }
    let written = a.note.with_extension("tmp");
    std::fs::write(
        &written,
        format!(
            "lenet-gpu {}: eval, predict and visualize's fast kernels are in this cache\n",
            env!("CARGO_PKG_VERSION")
        ),
    )
    .and_then(|_| std::fs::rename(&written, &a.note))
    .with_context(|| format!("writing {}", a.note.display()))
}
