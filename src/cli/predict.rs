//! `lenet-gpu predict`: classify the user's own pictures.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use lenet_gpu::data::picture::{is_blank, read_picture, save_input_png, Preprocess};
use lenet_gpu::model::Ctx;
use lenet_gpu::predict::{predict, scores_name, Prediction};

use super::AdapterArg;
use pollster::FutureExt;

#[derive(Args)]
pub struct PredictArgs {
    /// PNG or JPEG pictures of digits, or directories of them (read in name order).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// A checkpoint of either network.
    #[arg(long, default_value = "runs/lenet5/model.safetensors")]
    model: PathBuf,
    /// Print one JSON object per image (file, class, probability, probabilities, and
    /// logits or, for LeNet-1998, distances) instead of a table.
    #[arg(long)]
    json: bool,
    /// How many of the most probable classes to list per image.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=10))]
    top: u8,
    /// Feed each picture as it is (grey, resized to 28x28) instead of as MNIST's digits
    /// were prepared (ink on black, cropped, scaled into 20x20, centred by mass).
    #[arg(long)]
    no_preprocess: bool,
    /// Write each 28x28 input the network saw to this directory, as <name>.png.
    #[arg(long, value_name = "DIR")]
    show_input: Option<PathBuf>,
    #[command(flatten)]
    adapter: AdapterArg,
}

pub fn run_predict(args: PredictArgs) -> Result<()> {
    let files = picture_files(&args.images)?;
    let preprocess = if args.no_preprocess { Preprocess::AsIs } else { Preprocess::Mnist };
    let inputs = files.iter().map(|f| read_picture(f, preprocess)).collect::<Result<Vec<_>, _>>()?;
    if let Some(dir) = &args.show_input {
        for (file, input) in files.iter().zip(&inputs) {
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
            save_input_png(&dir.join(format!("{name}.png")), input).context("writing --show-input")?;
        }
    }
    // A picture with no ink is not classified: any class would be a guess about nothing.
    let blank: Vec<bool> = inputs.iter().map(|x| is_blank(x)).collect();
    if blank.iter().all(|&b| b) {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        bail!("no digit to classify: {} hold(s) no ink (a blank picture)", names.join(", "));
    }
    let m = super::load_model(&args.model)?;
    let gpu = args.adapter.open()?;
    let kernels = super::warm_up::kernels_for_one_answer(&gpu, args.adapter, &args.model)?;
    let params = gpu.storage_from("params", &m.params);
    let inked: Vec<Vec<f32>> = inputs.into_iter().zip(&blank).filter(|(_, &b)| !b).map(|(x, _)| x).collect();
    let mut predictions = predict(&Ctx::new(&gpu, &kernels, &m.layout, &params), m.net, &inked).block_on()?.into_iter();
    // Each file's prediction, None for a blank one.
    let results: Vec<Option<Prediction>> = blank.iter().map(|&b| if b { None } else { predictions.next() }).collect();
    let top = args.top as usize;
    if args.json {
        for (file, p) in files.iter().zip(&results) {
            let line = match p {
                Some(p) => prediction_json(file, p, scores_name(m.net), top),
                None => serde_json::json!({"file": file, "class": null, "blank": true}),
            };
            println!("{line}");
        }
        return Ok(());
    }
    let width = files.iter().map(|f| f.display().to_string().len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  class  probability  top {top}", "file");
    for (file, p) in files.iter().zip(&results) {
        let Some(p) = p else {
            println!("{:<width$}  {:>5}  {:>11}  no digit: the picture is blank", file.display(), "-", "-");
            continue;
        };
        let ranked: Vec<String> =
            ranked(p).iter().take(top).map(|&c| format!("{c} {:.3}", p.probabilities[c])).collect();
        println!("{:<width$}  {:>5}  {:>11.4}  {}", file.display(), p.class, p.probability, ranked.join(", "));
    }
    Ok(())
}

/// Classes from most to least probable.
fn ranked(p: &Prediction) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.probabilities.len()).collect();
    order.sort_by(|&a, &b| p.probabilities[b].total_cmp(&p.probabilities[a]));
    order
}

fn prediction_json(file: &Path, p: &Prediction, scores: &str, top: usize) -> serde_json::Value {
    let ranked: Vec<_> = ranked(p)
        .iter()
        .take(top)
        .map(|&c| serde_json::json!({"class": c, "probability": p.probabilities[c]}))
        .collect();
    let mut j = serde_json::json!({
        "file": file, "class": p.class, "probability": p.probability,
        "probabilities": p.probabilities, "top": ranked,
    });
    j[scores] = serde_json::json!(p.scores);
    j
}

/// The arguments' files, each directory replaced by its PNG and JPEG files in name order.
fn picture_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in args {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let ext = p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
                    p.is_file() && matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
                })
                .collect();
            if found.is_empty() {
                bail!("{} has no .png, .jpg or .jpeg files", path.display());
            }
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            bail!("{}: no such file or directory", path.display());
        }
    }
    Ok(files)
}
