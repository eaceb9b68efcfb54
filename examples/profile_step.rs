//! Times every dispatch of one batch-100 training step in isolation (wall clock).
use std::time::Instant;

use lenet_gpu::gpu::{AdapterChoice, Gpu};
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::{Mode, ParamLayout, Plan};

fn main() -> lenet_gpu::Result<()> {
    let gpu = Gpu::new(AdapterChoice::Auto)?;
    let k = Kernels::new(&gpu)?;
    let layout = ParamLayout::lenet5();
    let params = gpu.storage("p", layout.padded_len);
    let grads = gpu.storage("g", layout.padded_len);
    let batch = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let plan = Plan::new(&gpu, &k, &layout, &params, &grads, batch, Mode::Train)?;
    let mut total = 0.0;
    for d in plan.dispatches() {
        gpu.run(&[d])?;
        let reps = 10;
        let t = Instant::now();
        for _ in 0..reps {
            gpu.run(&[d])?;
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        total += ms;
        println!("{ms:8.3} ms  {} {:?}", d.label, d.workgroups);
    }
    println!("{total:8.3} ms  total");
    Ok(())
}
