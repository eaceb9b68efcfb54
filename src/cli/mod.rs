//! Subcommands: one `run_<cmd>` each. Nothing else in the program sees argv or env.

mod adapters;
mod augment;
mod bench;
mod eval;
mod explain;
mod export;
mod predict;
mod serve;
mod train;
mod visualize;
mod warm_up;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use lenet_gpu::checkpoint::{load_model_file, ModelFile};
use lenet_gpu::gpu::{AdapterChoice, CompileHelper, CompileObserver, CompileProgress, Gpu, Profile};
use lenet_gpu::model::Arch;
use pollster::FutureExt;

#[derive(Parser)]
#[command(
    name = "lenet-gpu",
    version,
    about = "LeNet-5 on MNIST, trained entirely in WGSL compute shaders through wgpu"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter wgpu sees, with its backend, type, driver and limits.
    Adapters,
    /// Train LeNet-5 (on the bundled MNIST unless --data is given).
    Train(train::TrainArgs),
    /// Test loss and accuracy of a checkpoint.
    Eval(eval::EvalArgs),
    /// Keras-style table of the layers: output shapes, parameters, connections, mult-adds.
    Summary(SummaryArgs),
    /// Training and inference throughput and per-kernel times (use a release build).
    Bench(bench::BenchArgs),
    /// Classify your own pictures of digits (PNG or JPEG), prepared as MNIST's were.
    Predict(predict::PredictArgs),
    /// A checkpoint as an ONNX model (ONNX Runtime, Netron, OpenCV, mobile runtimes).
    Export(export::ExportArgs),
    /// Pictures of the network: diagram, feature maps, kernels, filters, classes, and
    /// explanations: saliency, Grad-CAM, occlusion, mistakes, confusion.
    #[command(subcommand)]
    Visualize(visualize::VizCommand),
    /// The page on 127.0.0.1: the network in the browser's WebGPU, with a model preloaded.
    Serve(serve::ServeArgs),
    /// Compiles kernels into the driver's shader cache for another lenet-gpu process
    /// (started by it on a cold cache; jobs on stdin).
    #[command(hide = true)]
    CompileHelper,
    /// Compiles the fast kernels of eval, predict and visualize into the driver's shader
    /// cache (started by one of them on a cold cache, in the background).
    #[command(hide = true)]
    WarmUp(warm_up::WarmUpArgs),
}

#[derive(Args)]
pub struct SummaryArgs {
    /// Which network.
    #[arg(long, value_enum, default_value_t = Arch::Lenet5)]
    pub arch: Arch,
    /// Also give the total mult-adds for a batch of N images.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// The table as JSON (layer, type, output shape, params, connections, mult-adds).
    #[arg(long)]
    pub json: bool,
}

/// `--adapter`, shared by every subcommand that touches the GPU.
#[derive(Args, Clone, Copy)]
pub struct AdapterArg {
    /// Which GPU adapter to run on (`software` = lavapipe/llvmpipe/WARP).
    #[arg(long, value_enum, default_value_t = AdapterChoice::Auto, env = "LENET_GPU_ADAPTER")]
    pub adapter: AdapterChoice,
    /// Open the device with WebGPU's default limits and no optional features, so that the
    /// portable kernels run (what GPUs without subgroups of one fixed width run; for tests and CI).
    #[arg(long, hide = true, env = "LENET_GPU_PORTABLE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub portable: bool,
    /// Which kernels eval, predict and visualize run: `auto` takes the quick ones while the
    /// fast ones are not in the driver's shader cache (for tests and measurements).
    #[arg(long, hide = true, value_enum, default_value_t, env = "LENET_GPU_KERNELS")]
    pub kernels: warm_up::KernelsChoice,
}

impl AdapterArg {
    /// Opens the chosen adapter and says on stderr which one it is.
    pub fn open(self) -> Result<Gpu> {
        let profile = if self.portable { Profile::Portable } else { Profile::Full };
        let gpu = Gpu::open(self.adapter, profile).block_on().context("opening a GPU adapter")?;
        eprintln!("adapter: {}", gpu.describe());
        if gpu.profile == Profile::Portable {
            eprintln!("note: portable kernels, WebGPU default limits");
        }
        if gpu.is_software() {
            eprintln!("note: this is a software (CPU) adapter; a real GPU is much faster (see `lenet-gpu adapters`)");
        }
        if gpu.compiles_at_first_dispatch() {
            if let Ok(program) = std::env::current_exe() {
                gpu.set_compile_helper(CompileHelper { program, args: vec!["compile-helper".into()] });
            }
            gpu.set_compile_observer(compile_notice());
        }
        if let Some(version) = lenet_gpu::gpu::old_mesa_version(&gpu.info) {
            eprintln!(
                "note: lavapipe from Mesa {version}; Mesa 25 runs lenet-gpu ~3x faster (Debian 12: bash scripts/setup)"
            );
        }
        Ok(gpu)
    }
}

/// Says on stderr, once compiling has taken a noticeable time (a cold shader cache, so a
/// first run on this machine or after an upgrade), what the wait is and how far it is.
fn compile_notice() -> CompileObserver {
    let mut bar: Option<indicatif::ProgressBar> = None;
    Box::new(move |p: &CompileProgress| {
        if bar.is_none() && p.done < p.total && p.elapsed.as_millis() >= 300 {
            eprintln!(
                "compiling {} kernels (first run on this machine; the driver caches them for next time)",
                p.total
            );
            let b = indicatif::ProgressBar::new(p.total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("  {bar:30} {pos}/{len} kernels, {elapsed} {msg}")
                    .expect("a valid template"),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(p.done as u64);
            if p.helpers > 0 {
                b.set_message(format!("({} processes)", p.helpers + 1));
            }
            if p.done == p.total {
                b.finish_and_clear();
                eprintln!("compiled {} kernels in {:.1} s", p.total, p.elapsed.as_secs_f64());
                bar = None;
            }
        }
    })
}

/// A checkpoint of either network (any float type, with or without metadata), with a
/// hint when there is none yet; says on stderr when its tensors were converted.
pub fn load_model(path: &std::path::Path) -> Result<ModelFile> {
    if !path.exists() {
        anyhow::bail!("no checkpoint at {} (train one first with `lenet-gpu train`, or pass --model)", path.display());
    }
    let m = load_model_file(path).with_context(|| format!("loading checkpoint {}", path.display()))?;
    if let Some(note) = &m.note {
        eprintln!("note: {note}");
    }
    Ok(m)
}

/// Runs the command, then the warm-up it scheduled, if any.
pub fn run(cli: Cli) -> Result<()> {
    run_command(cli)?;
    warm_up::start_scheduled();
    Ok(())
}

fn run_command(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Adapters => adapters::run_adapters(),
        Command::Train(args) => train::run_train(args),
        Command::Eval(args) => eval::run_eval(args),
        Command::Visualize(cmd) => visualize::run_visualize(cmd),
        Command::Bench(args) => bench::run_bench_cmd(args),
        Command::Export(args) => export::run_export(args),
        Command::Serve(args) => serve::run_serve(args),
        Command::Predict(args) => predict::run_predict(args),
        Command::WarmUp(args) => warm_up::run_warm_up(args),
        Command::CompileHelper => {
            Ok(lenet_gpu::gpu::serve_compile_helper(std::io::stdin().lock(), std::io::stdout().lock())?)
        }
        Command::Summary(a) => {
            if a.json {
                println!("{:#}", lenet_gpu::model::summary::summary_json(a.arch, a.batch));
            } else {
                print!("{}", lenet_gpu::model::summary::summary_table(a.arch, a.batch));
            }
            Ok(())
        }
    }
}
