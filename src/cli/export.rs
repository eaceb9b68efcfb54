//! `lenet-gpu export`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use lenet_gpu::checkpoint::write_atomic;
use lenet_gpu::export::onnx::{export_onnx, onnx_metadata, output_name, INPUT, OPSET};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// ONNX, opset 13: input x (N, 1, 28, 28) pixels in [0, 1], output the 10 logits
    /// (LeNet-5) or the 10 RBF distances (LeNet-1998; the nearest bitmap is the class).
    Onnx,
}

#[derive(Args)]
pub struct ExportArgs {
    /// A checkpoint of either network (any float type; ours or PyTorch's state_dict).
    #[arg(long, default_value = "runs/lenet5/model.safetensors")]
    model: PathBuf,
    #[arg(long, value_enum, default_value_t = ExportFormat::Onnx)]
    format: ExportFormat,
    /// The file to write.
    #[arg(long, default_value = "model.onnx")]
    out: PathBuf,
}

pub fn run_export(args: ExportArgs) -> Result<()> {
    let m = super::load_model(&args.model)?;
    let metadata = onnx_metadata(m.net.arch, &m.metadata);
    let bytes = match args.format {
        ExportFormat::Onnx => export_onnx(m.net, &m.layout, &m.params, &metadata)?,
    };
    write_atomic(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "ONNX opset {OPSET}: input {INPUT} (N, 1, 28, 28) pixels in [0, 1], output {} (N, 10)",
        output_name(m.net)
    );
    println!("{}", args.out.display());
    Ok(())
}
