//! `lenet-gpu visualize ...`: the tutorial's pictures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lenet_gpu::export::npy::{save_arrays, NamedArray};
use lenet_gpu::gpu::Gpu;
use lenet_gpu::kernels::objective::ClassObjective;
use lenet_gpu::kernels::squash::SquashFn;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::{Arch, Ctx, NetSpec, ParamLayout};
use lenet_gpu::viz::ascent::{deprocess, gradient_ascent, AscentConfig, AscentResult, AscentTarget, Param};
use lenet_gpu::viz::diagram::{write_diagram, RankDir};
use lenet_gpu::viz::features::{feature_maps, render_features};
use lenet_gpu::viz::render::{Colormap, Grid};
use lenet_gpu::viz::weights::{render_kernels, render_rbf_centers, ConvLayer};

use super::{augment, explain, AdapterArg};
use pollster::FutureExt;

#[derive(Subcommand)]
pub enum VizCommand {
    /// The model diagram (plot_model with show_shapes), as SVG + PNG, or DOT.
    Model(ModelArgs),
    /// Every layer's activations for one test image (or your own picture).
    Features(FeaturesArgs),
    /// The learned convolution kernels.
    Kernels(KernelsArgs),
    /// Images that maximize each channel of a conv layer (gradient ascent on the input).
    Filters(FiltersArgs),
    /// Images that maximize each output class (gradient ascent on the input).
    Classes(ClassesArgs),
    /// LeNet-1998's fixed RBF output centers: the ten 7x12 digit bitmaps.
    Rbf(RbfArgs),
    /// Which pixels raised a class's score: gradient, gradient x input, SmoothGrad or
    /// Integrated Gradients.
    Saliency(explain::SaliencyArgs),
    /// Grad-CAM (or Grad-CAM++): where in a conv layer's maps a class's evidence lies.
    Gradcam(explain::GradcamArgs),
    /// How much a class's probability drops when each patch of the image is covered.
    Occlusion(explain::OcclusionArgs),
    /// The test images the model gets wrong, most confident first.
    Mistakes(explain::MistakesArgs),
    /// The test set's confusion matrix as a picture with counts.
    Confusion(explain::ConfusionArgs),
    /// What `train --augment` does to the first training images, epoch after epoch.
    Augment(augment::VizAugmentArgs),
}

#[derive(Args)]
pub struct RbfArgs {
    /// The squashing function whose f(±1) the centers hold.
    #[arg(long, value_enum, default_value_t = SquashFn::ScaledTanh)]
    squash: SquashFn,
    #[arg(long, default_value = "viz/rbf_centers.png")]
    out: PathBuf,
}

#[derive(Args)]
pub struct ModelArgs {
    /// Which network.
    #[arg(long, value_enum, default_value_t = Arch::Lenet5)]
    arch: Arch,
    #[arg(long, value_enum, default_value_t = RankDir::Tb)]
    rankdir: RankDir,
    /// `svg` writes SVG and PNG; `dot` writes Graphviz source.
    #[arg(long, value_enum, default_value_t = DiagramFormat::Svg)]
    format: DiagramFormat,
    /// Output path without extension.
    #[arg(long, default_value = "viz/model")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    Svg,
    Dot,
}

/// The trained model to look at.
#[derive(Args)]
pub struct ModelFile {
    /// A checkpoint written by `train`.
    #[arg(long, default_value = "runs/lenet5/model.safetensors")]
    model: PathBuf,
    #[command(flatten)]
    adapter: AdapterArg,
}

impl ModelFile {
    /// The checkpoint (either network), a device and the kernels for one answer (the quick
    /// ones on a cold shader cache: `warm_up`).
    pub fn open(&self) -> Result<(NetSpec, ParamLayout, Vec<f32>, Gpu, Kernels)> {
        self.open_with(|gpu| super::warm_up::kernels_for_one_answer(gpu, self.adapter, &self.model))
    }

    /// As [`ModelFile::open`], with the fast kernels whatever the cache holds: for the
    /// hundreds of steps of gradient ascent, which the quick ones run 5-15x slower.
    pub fn open_fast(&self) -> Result<(NetSpec, ParamLayout, Vec<f32>, Gpu, Kernels)> {
        self.open_with(|gpu| Ok(Kernels::new(gpu)?))
    }

    fn open_with(
        &self,
        kernels: impl FnOnce(&Gpu) -> Result<Kernels>,
    ) -> Result<(NetSpec, ParamLayout, Vec<f32>, Gpu, Kernels)> {
        let (net, layout, params) = load_checkpoint(&self.model)?;
        let gpu = self.adapter.open()?;
        let kernels = kernels(&gpu)?;
        Ok((net, layout, params, gpu, kernels))
    }
}

#[derive(Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    model: ModelFile,
    #[command(flatten)]
    image: explain::ImageArg,
    #[arg(long, value_enum, default_value_t = Colormap::Viridis)]
    cmap: Colormap,
    /// Directory for the PNGs.
    #[arg(long, default_value = "viz/features")]
    out: PathBuf,
    /// Also write every layer's activations to this NumPy .npz, one array per layer
    /// (named as the pictures, shaped (C, H, W) or (units)).
    #[arg(long, value_name = "FILE.npz")]
    save: Option<PathBuf>,
}

#[derive(Args)]
pub struct KernelsArgs {
    /// conv1 or conv2 (for a LeNet-1998 checkpoint: C1 or C3, with its connection table).
    #[arg(long, value_enum, default_value_t = ConvLayer::Conv1)]
    layer: ConvLayer,
    /// A checkpoint written by `train`.
    #[arg(long, default_value = "runs/lenet5/model.safetensors")]
    model: PathBuf,
    /// Output PNG; default viz/kernels_<layer>.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AscentRecipe {
    /// Small clamped steps, L2 decay, blur and jitter (our default).
    Regularized,
    /// The tutorial: step 1 on the RMS-normalized gradient, no regularizers, stop when flat.
    Tutorial,
}

#[derive(Args)]
pub struct AscentArgs {
    /// Starting recipe; the options below override its values.
    #[arg(long, value_enum)]
    recipe: Option<AscentRecipe>,
    #[arg(long)]
    steps: Option<u32>,
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    l2: Option<f32>,
    /// Blur every N steps (0 = never).
    #[arg(long)]
    blur_every: Option<u32>,
    /// Random shift of up to N pixels per step.
    #[arg(long)]
    jitter: Option<u32>,
    /// Total-variation penalty weight (0 = none): smoother images, contrast kept.
    #[arg(long)]
    tv: Option<f32>,
    /// Optimize the pixels, or Lucid's decorrelated Fourier coefficients.
    #[arg(long, value_enum)]
    param: Option<Param>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
}

impl AscentArgs {
    fn config(&self, default: AscentRecipe) -> AscentConfig {
        let mut c = match self.recipe.unwrap_or(default) {
            AscentRecipe::Regularized => AscentConfig::regularized(),
            AscentRecipe::Tutorial => AscentConfig::tutorial(),
        };
        c.steps = self.steps.unwrap_or(c.steps);
        c.lr = self.lr.unwrap_or(c.lr);
        c.l2 = self.l2.unwrap_or(c.l2);
        c.blur_every = self.blur_every.unwrap_or(c.blur_every);
        c.jitter = self.jitter.unwrap_or(c.jitter);
        c.tv = self.tv.unwrap_or(c.tv);
        c.param = self.param.unwrap_or(c.param);
        c.seed = self.seed;
        c
    }
}

#[derive(Args)]
pub struct FiltersArgs {
    #[arg(long, value_enum, default_value_t = ConvLayer::Conv1)]
    layer: ConvLayer,
    #[command(flatten)]
    model: ModelFile,
    #[command(flatten)]
    ascent: AscentArgs,
    /// Output PNG; default viz/filters_<layer>.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct ClassesArgs {
    /// What to maximize: the logit (default) or, as the tutorial, the softmax output
    /// (which also makes `--recipe tutorial` the default).
    #[arg(long, value_enum, default_value_t = ClassObjective::Logit)]
    objective: ClassObjective,
    #[command(flatten)]
    model: ModelFile,
    #[command(flatten)]
    ascent: AscentArgs,
    /// Output PNG; default viz/classes.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A checkpoint of either network (the pictures need no GPU to load it).
fn load_checkpoint(path: &Path) -> Result<(NetSpec, ParamLayout, Vec<f32>)> {
    let m = super::load_model(path)?;
    Ok((m.net, m.layout, m.params))
}

pub fn run_visualize(cmd: VizCommand) -> Result<()> {
    match cmd {
        VizCommand::Saliency(a) => explain::run_saliency(a)?,
        VizCommand::Gradcam(a) => explain::run_gradcam(a)?,
        VizCommand::Occlusion(a) => explain::run_occlusion(a)?,
        VizCommand::Mistakes(a) => explain::run_mistakes(a)?,
        VizCommand::Confusion(a) => explain::run_confusion(a)?,
        VizCommand::Augment(a) => augment::run_augment(a)?,
        VizCommand::Rbf(a) => {
            render_rbf_centers(a.squash, &a.out)?;
            println!("{}", a.out.display());
        }
        VizCommand::Model(a) => {
            for p in write_diagram(a.arch, &a.out, a.rankdir, a.format == DiagramFormat::Dot)? {
                println!("{}", p.display());
            }
        }
        VizCommand::Features(a) => {
            explain::check_save(a.save.as_deref(), true)?;
            let (image, label) = a.image.load()?;
            let (net, layout, params, gpu, kernels) = a.model.open()?;
            let params = gpu.storage_from("params", &params);
            let fm = feature_maps(&Ctx::new(&gpu, &kernels, &layout, &params), net, &image).block_on()?;
            let written = render_features(&fm, a.cmap, &label, &a.out)?;
            if let Some(path) = &a.save {
                let arrays: Vec<NamedArray> =
                    fm.maps.iter().map(|m| NamedArray::new(&m.name, &m.dims.shape(), m.values.clone())).collect();
                save_arrays(path, &arrays).with_context(|| format!("writing --save {}", path.display()))?;
            }
            for p in written {
                println!("{}", p.display());
            }
        }
        VizCommand::Kernels(a) => {
            let (net, layout, params) = load_checkpoint(&a.model)?;
            let out = a.out.unwrap_or_else(|| PathBuf::from(format!("viz/kernels_{}.png", a.layer.name())));
            // For LeNet-1998, conv1 / conv2 stand for C1 / C3.
            render_kernels(net, &layout, &params, a.layer, &out)?;
            println!("{}", out.display());
        }
        VizCommand::Filters(a) => {
            let out = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("viz/filters_{}.png", a.layer.name())));
            let cfg = a.ascent.config(AscentRecipe::Regularized);
            let title = format!("{} channels: mean activation maximized", a.layer.name());
            ascend(&a.model, AscentTarget::Filters(a.layer), &cfg, &title, &out, a.ascent.json)?;
        }
        VizCommand::Classes(a) => {
            let out = a.out.clone().unwrap_or_else(|| PathBuf::from("viz/classes.png"));
            let default = match a.objective {
                ClassObjective::Logit => AscentRecipe::Regularized,
                ClassObjective::Softmax => AscentRecipe::Tutorial,
            };
            let cfg = a.ascent.config(default);
            let title = format!("classes: {:?} maximized", a.objective).to_lowercase();
            ascend(&a.model, AscentTarget::Classes(a.objective), &cfg, &title, &out, a.ascent.json)?;
        }
    }
    Ok(())
}

fn ascend(
    model: &ModelFile,
    target: AscentTarget,
    cfg: &AscentConfig,
    title: &str,
    out: &Path,
    json: bool,
) -> Result<()> {
    cfg.check()?;
    let (net, layout, params, gpu, kernels) = model.open_fast()?;
    let started = std::time::Instant::now();
    let r = gradient_ascent(&gpu, &kernels, (net, &layout, &params), target, cfg, &mut |i, n| {
        if !json && (i % 50 == 0 || i == n) {
            eprintln!("gradient ascent: step {i}/{n}");
        }
    })
    .block_on()?;
    let title = match (net.arch, target) {
        // LeNet-1998 has no logits: its class images descend the paper's loss.
        (Arch::Lenet1998, AscentTarget::Classes(_)) => {
            format!("LeNet-1998 classes: -loss (eq. 9, class as label) maximized ({} steps)", r.steps_run)
        }
        (Arch::Lenet1998, AscentTarget::Filters(_)) => {
            format!("LeNet-1998 {}", title.replace("conv1", "C1").replace("conv2", "C3"))
        }
        _ => title.to_string(),
    };
    render_ascent(&r, target, cfg, &title, out)?;
    if json {
        let images: Vec<_> = (0..r.len())
            .map(|i| {
                let mut o = serde_json::json!({ "index": i, "initial": r.initial[i], "objective": r.objective[i] });
                if let AscentTarget::Classes(_) = target {
                    o["predicted_class"] = r.predicted[i].0.into();
                    o["probability"] = r.predicted[i].1.into();
                }
                o
            })
            .collect();
        let report = serde_json::json!({
            "output": out, "steps_run": r.steps_run, "seconds": started.elapsed().as_secs_f64(),
            "config": cfg, "images": images,
        });
        println!("{report}");
    } else {
        println!("{}", out.display());
    }
    Ok(())
}

fn render_ascent(r: &AscentResult, target: AscentTarget, cfg: &AscentConfig, title: &str, out: &Path) -> Result<()> {
    // The tutorial's recipe leaves pixels unbounded; its de-processing makes them viewable.
    let shown: Vec<Vec<f32>> = (0..r.len())
        .map(|i| if cfg.clamp && cfg.param == Param::Pixel { r.image(i).to_vec() } else { deprocess(r.image(i)) })
        .collect();
    let maps = shown
        .iter()
        .enumerate()
        .map(|(i, img)| {
            let caption = match target {
                AscentTarget::Classes(_) => format!("{i}: {:.2} -> {}", r.objective[i], r.predicted[i].0),
                AscentTarget::Filters(_) => format!("#{i}: {:.2}", r.objective[i]),
            };
            (img.as_slice(), caption)
        })
        .collect();
    let columns = if r.len() == 16 { 8 } else { r.len() as u32 };
    let grid = Grid {
        title: format!("{title} ({} steps)", r.steps_run),
        maps,
        h: 28,
        w: 28,
        scale: 4,
        columns,
        cmap: Colormap::Gray,
        shared_range: if cfg.clamp && cfg.param == Param::Pixel { Some((0.0, 1.0)) } else { None },
    };
    grid.render().save(out)?;
    Ok(())
}
