use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lenet_gpu::checkpoint::parse_model_file;
use lenet_gpu::serve::{Server, Site};

#[derive(Args)]
pub struct ServeArgs {
    /// A checkpoint (from `train` or PyTorch) that the page loads at the start; default:
    /// what `train` writes, runs/lenet5/model.safetensors, where there is one.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The port to listen on (0: any free one).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The address to listen on. Another than 127.0.0.1 exposes the page to the network,
    /// and browsers give WebGPU only to secure contexts: https, localhost or 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Open the page in the desktop's browser.
    #[arg(long)]
    open: bool,
}

/// Where `train` writes its model by default.
const TRAINED: &str = "runs/lenet5/model.safetensors";

pub fn run_serve(args: ServeArgs) -> Result<()> {
    let trained = PathBuf::from(TRAINED);
    let path = args.model.clone().or_else(|| trained.exists().then_some(trained));
    let model = match &path {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("reading --model {}", path.display()))?;
            // Refused here, with the loader's reason, rather than by the page.
            parse_model_file(path, &bytes).with_context(|| format!("--model {}", path.display()))?;
            Some(bytes)
        }
        None => None,
    };
    let server = Server::bind(&args.host, args.port, Site::new(model))?;
    let url = server.url();
    println!("serving {url}");
    match &path {
        Some(path) => eprintln!("the page starts with {}", path.display()),
        None => eprintln!("no model: the page trains one, or opens a .safetensors file"),
    }
    if args.open {
        opener::open_browser(&url).with_context(|| format!("opening {url} in a browser"))?;
    }
    server.run()?;
    Ok(())
}
