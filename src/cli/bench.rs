//! `lenet-gpu bench`.

use anyhow::{Context, Result};
use clap::Args;
use lenet_gpu::augment::Augmentation;
use lenet_gpu::bench::run_bench;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::model::Arch;
use lenet_gpu::train::Recipe;

use super::AdapterArg;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    adapter: AdapterArg,
    /// Training steps timed (no augmentation, as PyTorch's side of compare.sh), after the warm-up.
    #[arg(long, default_value_t = 30)]
    steps: u32,
    #[arg(long, default_value_t = 5)]
    warmup: u32,
    /// Which network (with its default recipe: Adam for lenet5, SDLM for lenet1998).
    #[arg(long, value_enum, default_value_t = Arch::Lenet5)]
    arch: Arch,
    /// Training batch size [default: the recipe's: 100 for lenet5, 10 for lenet1998], to
    /// compare the two networks at the same batch size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch: Option<u32>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run_bench_cmd(args: BenchArgs) -> Result<()> {
    let train = Dataset::bundled(Split::Train)?.take(10_000);
    let test = Dataset::bundled(Split::Test)?;
    let gpu = args.adapter.open()?;
    let recipe = match args.arch {
        Arch::Lenet5 => Recipe::default_recipe(),
        Arch::Lenet1998 => Recipe::lenet1998(),
    };
    // The step PyTorch's side of bench/compare.sh takes: no augmentation, the batch read
    // where it lies (an augmented step adds its draw and bilinear resampling).
    let batch_size = args.batch.unwrap_or(recipe.batch_size);
    let recipe = Recipe { augment: Augmentation::none(), batch_size, ..recipe };
    let r = run_bench(&gpu, recipe, &train, &test, args.steps.max(1), args.warmup).context("benchmark")?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    if r.build == "debug" {
        eprintln!("warning: a debug build; measure with `cargo run --release -- bench`");
    }
    let profile = if r.profile == "portable" { ", portable kernels, WebGPU default limits" } else { "" };
    println!("adapter: {} ({}, driver {}), {} build{profile}", r.adapter, r.backend, r.driver, r.build);
    println!("validated against the CPU reference: max error {:.1e}", r.validation_max_error);
    println!("first step (pipelines, buffers, first submission): {:.0} ms", r.first_step_ms);
    println!(
        "training, batch {}: {:.1} ms/step, {:.0} images/s ({} steps)",
        r.train_batch, r.train_step_ms, r.train_images_per_s, r.train_steps_timed
    );
    for i in &r.inference {
        println!("inference, batch {}: {:.0} images/s", i.batch, i.images_per_s);
    }
    println!(
        "buffers allocated: {:.1} MiB; largest binding {:.1} MiB, at most {} bindings a dispatch",
        r.allocated_mib, r.largest_binding_mib, r.most_bindings
    );
    println!("one training step, per dispatch ({}):", r.kernel_timer);
    for k in &r.kernels {
        println!("  {:9.3} ms  {:>5.1}%  {} {:?}", k.ms, 100.0 * k.ms / r.kernels_total_ms, k.label, k.workgroups);
    }
    println!("  {:9.3} ms  total", r.kernels_total_ms);
    let total: f64 = r.inference_kernels.iter().map(|k| k.ms).sum();
    println!("one inference batch of {}, per dispatch ({}):", r.inference_kernels_batch, r.kernel_timer);
    for k in &r.inference_kernels {
        println!("  {:9.3} ms  {:>5.1}%  {} {:?}", k.ms, 100.0 * k.ms / total, k.label, k.workgroups);
    }
    println!("  {total:9.3} ms  total");
    Ok(())
}
