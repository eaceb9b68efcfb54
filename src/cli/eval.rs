//! `lenet-gpu eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::eval::Evaluator;
use lenet_gpu::model::Ctx;

use super::AdapterArg;
use pollster::FutureExt;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    adapter: AdapterArg,
    /// A checkpoint written by `train`.
    #[arg(long, default_value = "runs/lenet5/model.safetensors")]
    model: PathBuf,
    /// Directory with the MNIST-format test files; default: the bundled MNIST.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also print the confusion matrix (rows: true class, columns: predicted).
    #[arg(long)]
    confusion: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    let m = super::load_model(&args.model)?;
    let (net, layout, params) = (m.net, m.layout, m.params);
    let test = Dataset::load_or_bundled(args.data.as_deref(), Split::Test).context("loading the test set")?;
    let gpu = args.adapter.open()?;
    let kernels = super::warm_up::kernels_for_one_answer(&gpu, args.adapter, &args.model)?;
    let params = gpu.storage_from("params", &params);
    let evaluator = Evaluator::new(&Ctx::new(&gpu, &kernels, &layout, &params), net, &test)?;
    let r = evaluator.run(&gpu, args.confusion).block_on()?;
    if args.json {
        let j = serde_json::json!({
            "model": args.model, "samples": r.samples, "loss": r.loss, "accuracy": r.accuracy,
            "confusion": r.confusion,
        });
        println!("{j}");
        return Ok(());
    }
    println!("test loss: {:.4} - test accuracy: {:.4} ({} images)", r.loss, r.accuracy, r.samples);
    if let Some(m) = r.confusion {
        println!("confusion matrix (rows: true class, columns: predicted class)");
        print!("     ");
        (0..10).for_each(|j| print!("{j:>6}"));
        println!();
        for (i, row) in m.iter().enumerate() {
            print!("{i:>4} ");
            row.iter().for_each(|v| print!("{v:>6}"));
            println!();
        }
    }
    Ok(())
}
