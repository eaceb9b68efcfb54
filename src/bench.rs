//! `lenet-gpu bench`: training and inference throughput, each kernel's time in one step,
//! first-step latency and memory, after validating the GPU model against the CPU twin.

// std's Instant on native; the browser's performance.now() on wasm32, where std's panics.
use web_time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::{Dataset, GpuDataset};
use crate::error::{Error, Result};
use crate::feeder::Feeder;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::Kernels;
use crate::model::{Arch, Ctx, InputSource, Mode, NetSpec};
use crate::reference::lenet1998::{lenet1998_backward, lenet1998_forward};
use crate::reference::lenet5::{lenet5_backward, lenet5_forward};
use crate::train::{initial_params, Recipe, Trainer};
use pollster::FutureExt;

#[derive(Debug, Clone, Serialize)]
pub struct KernelTime {
    pub label: String,
    pub workgroups: [u32; 3],
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InferenceTime {
    pub batch: u32,
    pub images_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub build: &'static str,
    /// "full" (all the adapter offers) or "portable" (WebGPU's default limits, no optional
    /// features: `gpu::Profile`).
    pub profile: &'static str,
    /// "timestamp queries" or "wall clock".
    pub kernel_timer: &'static str,
    /// Largest |gpu - cpu| / (1 + |cpu|) over every gradient at batch 4: the validation.
    pub validation_max_error: f64,
    /// Device open excluded: kernels compiled, plan built, first step run (ms).
    pub first_step_ms: f64,
    pub train_batch: u32,
    pub train_steps_timed: u32,
    pub train_step_ms: f64,
    pub train_images_per_s: f64,
    pub inference: Vec<InferenceTime>,
    pub kernels: Vec<KernelTime>,
    pub kernels_total_ms: f64,
    /// One inference batch (the largest measured): its gather and forward, per dispatch.
    pub inference_kernels: Vec<KernelTime>,
    pub inference_kernels_batch: u32,
    pub allocated_mib: f64,
    /// The largest buffer binding of every plan built (MiB) and the most bindings of one
    /// dispatch: what the run asks of the device's limits.
    pub largest_binding_mib: f64,
    pub most_bindings: u64,
}

/// Checks the GPU's gradients against the CPU twin on a small random batch.
fn validate(gpu: &Gpu, k: &Kernels, recipe: &Recipe) -> Result<f64> {
    let net = recipe.net();
    let layout = net.layout();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let params = initial_params(&layout, recipe);
    let batch = 4;
    let x: Vec<f32> = (0..batch * 784).map(|_| rng.random_range(0.0..1.0)).collect();
    let labels: Vec<u32> = (0..batch).map(|_| rng.random_range(0..10)).collect();
    let pbuf = gpu.storage_from("params", &params);
    let gbuf = gpu.storage("grads", layout.padded_len);
    let ctx = Ctx::new(gpu, k, &layout, &pbuf).with_grads(&gbuf);
    let plan = net.plan(&ctx, batch as u32, Mode::Train, InputSource::Buffer)?;
    gpu.write(View::whole(plan.x().expect("an f32 input")), &x);
    gpu.write(View::whole(plan.labels()), &labels);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.record_forward(&mut pass);
        plan.record_backward(&mut pass);
    }
    gpu.submit(encoder.finish())?;
    let got: Vec<f32> = gpu.read(View::whole(&gbuf)).block_on()?;
    let want = match net.arch {
        Arch::Lenet5 => {
            let f = lenet5_forward(&layout, &params, &x, &labels, batch as u32);
            lenet5_backward(&layout, &params, &f, batch as u32).grads
        }
        Arch::Lenet1998 => {
            let f = lenet1998_forward(&layout, &params, &x, &labels, batch as u32, net.squash);
            lenet1998_backward(&layout, &params, &f, batch as u32, net.squash)
        }
    };
    let err = got.iter().zip(&want).map(|(g, c)| ((g - c).abs() / (1.0 + c.abs())) as f64).fold(0.0, f64::max);
    if err.is_nan() || err > 1e-4 {
        return Err(Error::Validation(format!(
            "GPU gradients differ from the CPU reference by {err:e}; not benchmarking"
        )));
    }
    Ok(err)
}

/// Each dispatch of one training step, timed on its own (median of `reps`).
fn kernel_times(gpu: &Gpu, dispatches: &[&Dispatch], reps: usize) -> Result<(Vec<KernelTime>, &'static str)> {
    let mut samples = vec![Vec::new(); dispatches.len()];
    let timestamps = gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY);
    if timestamps {
        let count = 2 * dispatches.len() as u32;
        let qs = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("bench"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench.resolve"),
            size: count as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let period = gpu.queue.get_timestamp_period() as f64;
        for _ in 0..reps {
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            for (i, d) in dispatches.iter().enumerate() {
                let writes = wgpu::ComputePassTimestampWrites {
                    query_set: &qs,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                };
                let mut pass = encoder
                    .begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: Some(writes) });
                d.record(&mut pass);
            }
            encoder.resolve_query_set(&qs, 0..count, &resolve, 0);
            gpu.submit(encoder.finish())?;
            let ticks: Vec<u64> = {
                let words: Vec<u32> =
                    gpu.read(View { buffer: &resolve, offset: 0, len: count as u64 * 2 }).block_on()?;
                words.chunks_exact(2).map(|w| w[0] as u64 | (w[1] as u64) << 32).collect()
            };
            for i in 0..dispatches.len() {
                let ns = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period;
                samples[i].push(ns / 1e6);
            }
        }
    } else {
        for _ in 0..reps {
            for (i, d) in dispatches.iter().enumerate() {
                let t = Instant::now();
                gpu.run(&[d])?;
                samples[i].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let times = dispatches
        .iter()
        .zip(samples)
        .map(|(d, mut s)| {
            s.sort_by(f64::total_cmp);
            KernelTime { label: d.label().to_string(), workgroups: d.workgroups(), ms: s[s.len() / 2] }
        })
        .collect();
    Ok((times, if timestamps { "timestamp queries" } else { "wall clock" }))
}

/// Runs every measurement for `recipe`'s network and optimizer. `train_steps` steps are
/// timed after `warmup` untimed ones.
pub fn run_bench(
    gpu: &Gpu,
    recipe: Recipe,
    train: &Dataset,
    test: &Dataset,
    train_steps: u32,
    warmup: u32,
) -> Result<BenchReport> {
    let started = Instant::now();
    let recipe = Recipe { epochs: 1, ..recipe };
    let net: NetSpec = recipe.net();
    let mut trainer = Trainer::new(gpu, recipe, train)?;
    trainer.run_steps(1).block_on()?;
    let first_step_ms = started.elapsed().as_secs_f64() * 1e3;
    let validation_max_error = validate(gpu, &trainer.kernels, &trainer.recipe)?;

    trainer.run_steps(warmup).block_on()?;
    let t = Instant::now();
    trainer.run_steps(train_steps).block_on()?;
    let train_s = t.elapsed().as_secs_f64();
    let batch = trainer.recipe.batch_size;

    let data = GpuDataset::upload(gpu, test, "bench.test")?;
    let order = gpu.storage_from("bench.order", &(0..data.len).collect::<Vec<u32>>());
    let mut inference = Vec::new();
    let mut inference_kernels = (Vec::new(), 0);
    for b in [100u32, 1000] {
        let b = b.min(data.len);
        let f = Feeder::new(&trainer.ctx(), net, &data, &order, b, Mode::Inference, None)?;
        let batches = (data.len / b).max(1);
        let run = |count: u32| -> Result<f64> {
            let t = Instant::now();
            for i in 0..count {
                f.set_offset(gpu, 0, (i % batches) * b);
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    f.record_forward(&mut pass);
                }
                gpu.submit(encoder.finish())?;
            }
            gpu.wait()?;
            Ok(t.elapsed().as_secs_f64())
        };
        run(2)?;
        let count = (20_000 / b).max(5);
        let s = run(count)?;
        inference.push(InferenceTime { batch: b, images_per_s: (count * b) as f64 / s });
        let dispatches: Vec<&Dispatch> = [&f.gather].into_iter().chain(f.plan.forward_dispatches()).collect();
        inference_kernels = (kernel_times(gpu, &dispatches, 5)?.0, b);
    }

    let (kernels, kernel_timer) = kernel_times(gpu, &trainer.step_dispatches(0), 5)?;
    let kernels_total_ms = kernels.iter().map(|k| k.ms).sum();
    Ok(BenchReport {
        adapter: gpu.info.name.clone(),
        backend: format!("{:?}", gpu.info.backend),
        driver: format!("{} {}", gpu.info.driver, gpu.info.driver_info),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        profile: match gpu.profile {
            crate::gpu::Profile::Full => "full",
            crate::gpu::Profile::Portable => "portable",
        },
        kernel_timer,
        validation_max_error,
        first_step_ms,
        train_batch: batch,
        train_steps_timed: train_steps,
        train_step_ms: train_s * 1e3 / train_steps as f64,
        train_images_per_s: (train_steps * batch) as f64 / train_s,
        inference,
        kernels,
        kernels_total_ms,
        inference_kernels: inference_kernels.0,
        inference_kernels_batch: inference_kernels.1,
        allocated_mib: gpu.allocated_bytes() as f64 / (1 << 20) as f64,
        largest_binding_mib: gpu.binding_extremes().0 as f64 / (1 << 20) as f64,
        most_bindings: gpu.binding_extremes().1,
    })
}
