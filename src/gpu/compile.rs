//! Compiling kernels before the first submission that needs them: with progress, and on
//! several cores where the driver lets us.
//!
//! A software Vulkan driver (Mesa's lavapipe) builds a pipeline's machine code with LLVM at
//! its first dispatch, not when it is made: on an empty shader cache the first training
//! step spent ~30 s there without a word. [`Gpu::compile_pending`] dispatches each newly
//! bound pipeline once with zero workgroups (which compiles it and computes nothing) and
//! reports after each one.
//!
//! Within one process lavapipe compiles one kernel at a time whatever the threads: worker
//! threads with devices of their own kept one core busy (33-36 s against 30 s). Processes
//! do compile side by side, so when the first kernel shows the cache is cold, helper
//! processes (`lenet-gpu compile-helper`, [`serve_compile_helper`]) take kernels from the
//! other end of the list and compile them into Mesa's disk cache, which the device then
//! reads. The helpers are an optimization only: at the end every kernel is dispatched on
//! the real device, so a helper that fails costs time, never correctness.

// The helper processes and their threads are native-only: on wasm32 (a browser) their
// parts are compiled out and what they share goes unused.
#![cfg_attr(target_arch = "wasm32", allow(dead_code, unused_imports))]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{create_module, create_pipeline, AdapterChoice, Gpu, Profile, STORAGE_USAGES};
use crate::error::{Error, Result};
use pollster::FutureExt;

/// A first zero-workgroup dispatch slower than this means the shader cache is cold (a
/// cached kernel loads in about a millisecond, the smallest compiles in ~40 ms).
const COLD: Duration = Duration::from_millis(30);

/// What a helper needs to make a pipeline again on its own device.
#[derive(Serialize, Deserialize)]
struct HelperJob {
    label: String,
    source: String,
    entry: String,
    constants: Vec<(String, f64)>,
    /// Bytes of binding 0, 1, …: what the helper's buffers must hold.
    binding_bytes: Vec<u64>,
}

/// The first line a helper reads: which adapter, opened how.
#[derive(Serialize, Deserialize)]
struct HelperHeader {
    adapter: String,
    driver_info: String,
    portable: bool,
}

/// A pipeline bound on the real device, not yet dispatched.
struct Pending {
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    job: HelperJob,
}

/// Pipelines made on a device that compiles at first dispatch, until they are compiled.
#[derive(Default)]
pub(super) struct CompileQueue {
    /// Made, not yet bound: the job still lacks its binding sizes.
    unbound: Vec<(wgpu::ComputePipeline, HelperJob)>,
    pending: Vec<Pending>,
}

impl CompileQueue {
    pub(super) fn made(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        source: &str,
        entry: &str,
        constants: &[(&str, f64)],
    ) {
        let job = HelperJob {
            label: label.to_string(),
            source: source.to_string(),
            entry: entry.to_string(),
            constants: constants.iter().map(|&(n, v)| (n.to_string(), v)).collect(),
            binding_bytes: Vec::new(),
        };
        self.unbound.push((pipeline.clone(), job));
    }

    pub(super) fn bound(&mut self, pipeline: &wgpu::ComputePipeline, group: &wgpu::BindGroup, bytes: Vec<u64>) {
        if let Some(i) = self.unbound.iter().position(|(p, _)| p == pipeline) {
            let (pipeline, mut job) = self.unbound.swap_remove(i);
            job.binding_bytes = bytes;
            self.pending.push(Pending { pipeline, group: group.clone(), job });
        }
    }
}

/// How far [`Gpu::compile_pending`] has got: reported before the first kernel and after
/// each one.
#[derive(Debug, Clone)]
pub struct CompileProgress {
    pub done: usize,
    pub total: usize,
    /// Helper processes compiling alongside (0 on a warm cache).
    pub helpers: usize,
    pub elapsed: Duration,
}

pub type CompileObserver = Box<dyn FnMut(&CompileProgress) + Send>;

/// The program (and its arguments) that runs [`serve_compile_helper`]: the CLI's own
/// executable with its hidden `compile-helper` subcommand.
#[derive(Debug, Clone)]
pub struct CompileHelper {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// What the kernels' threads share while [`Gpu::compile_pending`] runs.
struct Shared {
    /// Indices into the pending list not yet taken: the device takes from the front,
    /// helpers from the back.
    queue: Mutex<VecDeque<usize>>,
    done: Mutex<usize>,
}

impl Gpu {
    /// Whether pipelines are compiled at their first dispatch rather than when made: a
    /// software Vulkan adapter (lavapipe). Only there has [`Gpu::compile_pending`] work.
    pub fn compiles_at_first_dispatch(&self) -> bool {
        self.is_software() && self.info.backend == wgpu::Backend::Vulkan
    }

    /// Called with the progress of every [`Gpu::compile_pending`] that has work to do.
    pub fn set_compile_observer(&self, observer: CompileObserver) {
        *self.compile_observer.lock().expect("observer poisoned") = Some(observer);
    }

    /// Lets [`Gpu::compile_pending`] start helper processes on a cold shader cache.
    pub fn set_compile_helper(&self, helper: CompileHelper) {
        *self.compile_helper.lock().expect("helper poisoned") = Some(helper);
    }

    /// Pipelines bound but not yet dispatched, on a device that compiles at first dispatch.
    pub fn pending_compiles(&self) -> usize {
        self.compile_queue.lock().expect("compile queue poisoned").pending.len()
    }

    /// Compiles every pipeline bound since the last call: one zero-workgroup dispatch each
    /// on this device (on a warm shader cache that only loads it, ~1 ms), with helper
    /// processes on the other cores once the first one shows the cache is cold.
    /// [`Gpu::submit`] calls it first, so no step waits for the compiler unannounced.
    pub fn compile_pending(&self) -> Result<()> {
        let jobs = std::mem::take(&mut self.compile_queue.lock().expect("compile queue poisoned").pending);
        if jobs.is_empty() {
            return Ok(());
        }
        self.compile_jobs(jobs)
    }

    /// No processes or threads in a browser (whose WebGPU compiles at pipeline creation
    /// anyway): each kernel in turn.
    #[cfg(target_arch = "wasm32")]
    fn compile_jobs(&self, jobs: Vec<Pending>) -> Result<()> {
        jobs.iter().try_for_each(|p| self.dispatch_empty(p))
    }

    /// [`Gpu::compile_pending`]'s kernels, with helper processes once the first shows a
    /// cold cache.
    #[cfg(not(target_arch = "wasm32"))]
    fn compile_jobs(&self, jobs: Vec<Pending>) -> Result<()> {
        let started = Instant::now();
        let total = jobs.len();
        let shared = Shared { queue: Mutex::new((0..total).collect()), done: Mutex::new(0) };
        let helpers_wanted = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8) - 1;
        let helper = self.compile_helper.lock().expect("helper poisoned").clone();
        let report = |helpers: usize, add: usize| {
            let mut done = shared.done.lock().expect("progress poisoned");
            *done += add;
            if let Some(f) = self.compile_observer.lock().expect("observer poisoned").as_mut() {
                f(&CompileProgress { done: *done, total, helpers, elapsed: started.elapsed() });
            }
        };
        // Kernels the helpers took: dispatched here at the end (loaded from the cache).
        let mut by_helpers = Vec::new();
        std::thread::scope(|s| -> Result<()> {
            let mut helpers = Vec::new();
            report(0, 0);
            loop {
                let Some(i) = shared.queue.lock().expect("compile queue poisoned").pop_front() else { break };
                let t = Instant::now();
                self.dispatch_empty(&jobs[i])?;
                let cold = t.elapsed() > COLD;
                report(helpers.len(), 1);
                if cold && helpers.is_empty() {
                    if let Some(h) = &helper {
                        let count = helpers_wanted.min(shared.queue.lock().expect("compile queue poisoned").len() / 2);
                        for _ in 0..count {
                            let (h, jobs, shared, report) = (h, &jobs, &shared, &report);
                            helpers.push(s.spawn(move || self.run_helper(h, jobs, shared, &|| report(count, 1))));
                        }
                    }
                }
            }
            for h in helpers {
                by_helpers.extend(h.join().expect("a compile helper thread panicked"));
            }
            Ok(())
        })?;
        for i in by_helpers {
            self.dispatch_empty(&jobs[i])?;
        }
        Ok(())
    }

    fn dispatch_empty(&self, p: &Pending) -> Result<()> {
        submit_empty(&self.device, &self.queue, &p.pipeline, &p.group);
        self.wait()
    }

    /// One helper process, fed kernels from the back of the queue one at a time; returns
    /// the indices it took (compiled or not: the caller dispatches them all again).
    #[cfg(not(target_arch = "wasm32"))]
    fn run_helper(&self, h: &CompileHelper, jobs: &[Pending], shared: &Shared, compiled: &dyn Fn()) -> Vec<usize> {
        let mut taken = Vec::new();
        let child = Command::new(&h.program)
            .args(&h.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else { return taken };
        let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else { return taken };
        let mut output = BufReader::new(output);
        let header = HelperHeader {
            adapter: self.info.name.clone(),
            driver_info: self.info.driver_info.clone(),
            portable: self.profile == Profile::Portable,
        };
        let mut send = |line: String| writeln!(input, "{line}").and_then(|_| input.flush()).is_ok();
        if send(serde_json::to_string(&header).expect("a header serializes")) {
            loop {
                let Some(i) = shared.queue.lock().expect("compile queue poisoned").pop_back() else { break };
                taken.push(i);
                let mut reply = String::new();
                let ok = send(serde_json::to_string(&jobs[i].job).expect("a job serializes"))
                    && output.read_line(&mut reply).is_ok_and(|n| n > 0);
                if !ok {
                    break;
                }
                compiled();
            }
        }
        drop(input);
        // Mesa writes its disk cache from a thread of its own; it is complete once the
        // helper has exited, before the caller reads it.
        let _ = child.wait();
        taken
    }
}

/// Where the note lives that says the fast kernels of the commands that answer once
/// (eval, predict, visualize) are in this driver's shader cache, as `lenet-gpu warm-up`
/// leaves it: in Mesa's cache directory, so that emptying the cache or pointing
/// `MESA_SHADER_CACHE_DIR` at a new one drops the note too. Named for this build's version
/// and shaders and for the adapter and profile. None where nothing compiles at first
/// dispatch or Mesa's cache is disabled.
#[cfg(not(target_arch = "wasm32"))]
pub fn fast_kernels_note(gpu: &Gpu) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let disabled = set("MESA_SHADER_CACHE_DISABLE").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if !gpu.compiles_at_first_dispatch() || disabled {
        return None;
    }
    let cache = match (set("MESA_SHADER_CACHE_DIR"), set("XDG_CACHE_HOME"), set("HOME")) {
        (Some(dir), _, _) => PathBuf::from(dir),
        (None, Some(dir), _) => PathBuf::from(dir),
        (None, None, Some(home)) => PathBuf::from(home).join(".cache"),
        (None, None, None) => return None,
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (env!("CARGO_PKG_VERSION"), &gpu.info.name, &gpu.info.driver_info, gpu.profile == Profile::Portable).hash(&mut h);
    super::Shader::ALL.iter().for_each(|s| s.source().hash(&mut h));
    Some(cache.join(format!("lenet-gpu-fast-kernels-{:016x}", h.finish())))
}

/// Whether the fast kernels can be used without a long compile: they compile when made
/// (a real GPU, a browser), or [`fast_kernels_note`] is there.
#[cfg(not(target_arch = "wasm32"))]
pub fn fast_kernels_ready(gpu: &Gpu) -> bool {
    !gpu.compiles_at_first_dispatch() || fast_kernels_note(gpu).is_some_and(|note| note.exists())
}

/// A compile helper's whole life (`lenet-gpu compile-helper`): a header line naming the
/// adapter and profile, then one JSON job a line; each job's pipeline is made and
/// dispatched with zero workgroups, then "done" is written. Ends at end of input.
pub fn serve_compile_helper(input: impl BufRead, mut output: impl Write) -> Result<()> {
    let mut lines = input.lines();
    let bad = |what: String| Error::Config(format!("compile-helper: {what}"));
    let header = lines.next().ok_or_else(|| bad("no header".into()))?.map_err(|e| bad(e.to_string()))?;
    let header: HelperHeader = serde_json::from_str(&header).map_err(|e| bad(format!("bad header: {e}")))?;
    let instance = super::adapter::new_instance(AdapterChoice::Vulkan.backends());
    let adapter = super::adapter::enumerate(&instance, AdapterChoice::Vulkan)
        .block_on()
        .into_iter()
        .find(|a| {
            let i = a.get_info();
            i.name == header.adapter && i.driver_info == header.driver_info
        })
        .ok_or_else(|| bad(format!("no Vulkan adapter {}", header.adapter)))?;
    let gpu = Gpu::from_adapter(instance, adapter, if header.portable { Profile::Portable } else { Profile::Full })
        .block_on()?;
    let mut buffers: Vec<wgpu::Buffer> = Vec::new();
    for line in lines {
        let line = line.map_err(|e| bad(e.to_string()))?;
        let job: HelperJob = serde_json::from_str(&line).map_err(|e| bad(format!("bad job: {e}")))?;
        compile_job(&gpu, &job, &mut buffers);
        gpu.wait()?;
        writeln!(output, "done").and_then(|_| output.flush()).map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

/// Makes `job`'s pipeline on `gpu` and dispatches it with zero workgroups, bound to
/// buffers of its bindings' sizes (`buffers`, grown as needed and reused).
fn compile_job(gpu: &Gpu, job: &HelperJob, buffers: &mut Vec<wgpu::Buffer>) {
    let device = &gpu.device;
    let module = create_module(device, &job.label, &job.source);
    let constants: Vec<(&str, f64)> = job.constants.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let pipeline = create_pipeline(device, &job.label, &module, &job.entry, &constants);
    for (i, &bytes) in job.binding_bytes.iter().enumerate() {
        if buffers.get(i).is_none_or(|b| b.size() < bytes) {
            let b = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("compile-helper"),
                size: bytes.max(4),
                usage: STORAGE_USAGES,
                mapped_at_creation: false,
            });
            if i < buffers.len() {
                buffers[i] = b;
            } else {
                buffers.push(b);
            }
        }
    }
    let entries: Vec<wgpu::BindGroupEntry> = job
        .binding_bytes
        .iter()
        .enumerate()
        .map(|(i, &bytes)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &buffers[i],
                offset: 0,
                size: std::num::NonZeroU64::new(bytes.max(4)),
            }),
        })
        .collect();
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("compile-helper"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    submit_empty(device, &gpu.queue, &pipeline, &group);
}

/// Submits one dispatch of `pipeline` with zero workgroups: the driver compiles it, nothing
/// runs.
fn submit_empty(device: &wgpu::Device, queue: &wgpu::Queue, pipeline: &wgpu::ComputePipeline, group: &wgpu::BindGroup) {
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(0, 0, 0);
    }
    queue.submit([encoder.finish()]);
}
