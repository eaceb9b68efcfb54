//! The GPU: adapter choice, device, buffers, cached pipelines, prepared dispatches.
//!
//! The life cycle is wgpu's `hello_compute`, split so that everything expensive (pipelines,
//! buffers, bind groups) is made once and a training step only records [`Dispatch`]es.

mod adapter;
mod compile;
mod shader;

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

pub use adapter::{describe, list_adapters, old_mesa_version, rank, AdapterChoice, AdapterSummary};
#[cfg(not(target_arch = "wasm32"))]
pub use compile::{fast_kernels_note, fast_kernels_ready};
pub use compile::{serve_compile_helper, CompileHelper, CompileObserver, CompileProgress};
pub use shader::{gemm_subgroup_prelude, validate_wgsl, Shader, COMMON, PIXELS};

use crate::error::{Error, Result};

/// Every storage buffer can also be bound as a uniform buffer: the generated convolutions
/// read their weights (a view of the parameters) that way (`kernels::conv_direct`).
const STORAGE_USAGES: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::UNIFORM)
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Invocations per workgroup of the 1-D kernels (must match `WG` in the shaders).
pub const WG: u32 = 256;
/// WebGPU's guaranteed limit on workgroups per grid dimension.
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

#[derive(Clone, PartialEq, Eq, Hash)]
struct PipelineKey {
    shader: Shader,
    entry: &'static str,
    /// Override constants as (name, f64 bits): f64 is not `Hash`.
    constants: Vec<(&'static str, u64)>,
}

/// What a device is opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Everything the adapter offers: its limits, subgroup operations, timestamp queries.
    #[default]
    Full,
    /// What every WebGPU device guarantees: `wgpu::Limits::default()` (8 storage buffers per
    /// stage, 256 invocations per workgroup, 128 MiB storage bindings, 64 KiB uniforms) and
    /// no optional feature, so the kernels are the portable ones (what a Mac, a Windows
    /// laptop or a GPU without subgroups of one fixed width runs).
    Portable,
}

/// An open device on one adapter, with the pipeline cache. Share it by reference.
pub struct Gpu {
    /// Kept for the device's life: a browser loses the device when its instance is dropped.
    _instance: wgpu::Instance,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pub profile: Profile,
    compile_queue: Mutex<compile::CompileQueue>,
    compile_observer: Mutex<Option<CompileObserver>>,
    compile_helper: Mutex<Option<CompileHelper>>,
    /// Errors wgpu reports outside an error scope; turned into `Err` by [`Gpu::check`].
    /// As the crate's errors: a `wgpu::Error` is not `Send` on wasm32.
    uncaptured: Arc<Mutex<Vec<Error>>>,
    lost: Arc<Mutex<Option<String>>>,
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    /// Pipelines of WGSL generated at run time, keyed by their source, with their labels.
    generated: Mutex<HashMap<String, (String, wgpu::ComputePipeline)>>,
    /// Bytes of every storage buffer created so far (an upper bound on what is in use).
    allocated: AtomicU64,
    /// The largest buffer binding and the most bindings of one bind group made so far:
    /// what the plans ask of the device's limits.
    largest_binding: AtomicU64,
    most_bindings: AtomicU64,
}

impl Gpu {
    /// Opens the adapter `choice` names with `profile`'s limits and features (in a browser:
    /// the one adapter the page is given). Native callers drive it with `pollster`.
    pub async fn open(choice: AdapterChoice, profile: Profile) -> Result<Gpu> {
        let instance = adapter::new_instance(choice.backends());
        let adapters = adapter::enumerate(&instance, choice).await;
        let Some(adapter) = adapters.into_iter().next() else {
            let seen = adapter::list_adapters().await.iter().map(|a| describe(&a.info)).collect::<Vec<_>>();
            let seen = if seen.is_empty() { "no adapters at all".to_string() } else { seen.join("; ") };
            return Err(Error::NoAdapter { requested: choice.to_string(), seen });
        };
        Self::from_adapter(instance, adapter, profile).await
    }

    async fn from_adapter(instance: wgpu::Instance, adapter: wgpu::Adapter, profile: Profile) -> Result<Gpu> {
        let info = adapter.get_info();
        let (limits, features) = match profile {
            // Everything the adapter offers: lavapipe's 128 MiB storage bindings, not
            // WebGPU's 128 MiB default being a coincidence we rely on; timestamps for
            // `bench`; subgroups for the kernels written for their width.
            Profile::Full => {
                (adapter.limits(), adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP))
            }
            Profile::Portable => (wgpu::Limits::default(), wgpu::Features::empty()),
        };
        let desc = wgpu::DeviceDescriptor {
            label: Some("lenet-gpu"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| Error::RequestDevice { adapter: describe(&info), message: e.to_string() })?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        // wgpu's default handler panics; we collect and report the error as an `Err` instead.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let e = match e {
                wgpu::Error::OutOfMemory { source } => Error::OutOfMemory(source.to_string()),
                e => Error::Validation(e.to_string()),
            };
            sink.lock().expect("error sink poisoned").push(e);
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            *lost_sink.lock().expect("lost flag poisoned") = Some(format!("{reason:?}: {message}"));
        });
        Ok(Gpu {
            _instance: instance,
            device,
            queue,
            info,
            limits,
            features,
            profile,
            compile_queue: Mutex::new(Default::default()),
            compile_observer: Mutex::new(None),
            compile_helper: Mutex::new(None),
            uncaptured,
            lost,
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            generated: Mutex::new(HashMap::new()),
            allocated: AtomicU64::new(0),
            largest_binding: AtomicU64::new(0),
            most_bindings: AtomicU64::new(0),
        })
    }

    /// Bytes of storage buffers created on this device so far.
    pub fn allocated_bytes(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed)
    }

    /// (bytes of the largest buffer binding, most bindings in one bind group) of every bind
    /// group made so far: set against `limits.max_storage_buffer_binding_size` and
    /// `max_storage_buffers_per_shader_stage` (which the bindings, uniforms included, bound).
    pub fn binding_extremes(&self) -> (u64, u64) {
        (self.largest_binding.load(Ordering::Relaxed), self.most_bindings.load(Ordering::Relaxed))
    }

    /// The subgroup size every compute invocation runs with, when the device has subgroup
    /// operations and a single fixed size (lavapipe: 8 with AVX2); `None` otherwise.
    pub fn subgroup_size(&self) -> Option<u32> {
        let fixed = self.info.subgroup_min_size == self.info.subgroup_max_size;
        (self.features.contains(wgpu::Features::SUBGROUP) && fixed).then_some(self.info.subgroup_min_size)
    }

    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// A browser's WebGPU on the CPU (Chrome's SwiftShader, what headless Chromium gives).
    pub fn is_browser_software(&self) -> bool {
        self.is_software() && self.info.backend == wgpu::Backend::BrowserWebGpu
    }

    pub fn describe(&self) -> String {
        describe(&self.info)
    }

    /// Turns errors wgpu reported since the last check into an `Err`.
    pub fn check(&self) -> Result<()> {
        if let Some(message) = self.lost.lock().expect("lost flag poisoned").clone() {
            return Err(Error::DeviceLost(message));
        }
        match self.uncaptured.lock().expect("error sink poisoned").drain(..).next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Blocks until the GPU has finished all submitted work, then reports any error.
    /// In a browser it cannot block and returns at once: await a [`Gpu::read`] there.
    pub fn wait(&self) -> Result<()> {
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::DeviceLost(e.to_string()))?;
        self.check()
    }

    /// Waits until the GPU has finished submission `index` and every one before it, then
    /// reports any error. A browser only tells when all work submitted so far is done.
    pub async fn finished(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: None })
            // A failed wait is most often an invalid submission: report the validation error.
            .map_err(|e| self.check().err().unwrap_or(Error::DeviceLost(e.to_string())))?;
        #[cfg(target_arch = "wasm32")]
        {
            let _ = index;
            let (tx, rx) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx.await.map_err(|_| Error::DeviceLost("the queue never reported its work done".into()))?;
        }
        self.check()
    }

    // ---- buffers -------------------------------------------------------------------------

    /// A zero-filled storage buffer of `len` 4-byte elements.
    pub fn storage(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.allocated.fetch_add((len.max(1) * 4) as u64, Ordering::Relaxed);
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: STORAGE_USAGES,
            mapped_at_creation: false,
        })
    }

    /// A storage buffer holding `data`.
    pub fn storage_from<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        if data.is_empty() {
            return self.storage(label, 1);
        }
        self.allocated.fetch_add(std::mem::size_of_val(data) as u64, Ordering::Relaxed);
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: STORAGE_USAGES,
        })
    }

    /// A uniform buffer holding one shape/params struct.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// Overwrites part of a buffer (queued; happens before the next submission).
    pub fn write<T: bytemuck::Pod>(&self, view: View<'_>, data: &[T]) {
        debug_assert!(std::mem::size_of_val(data) as u64 <= view.len * 4);
        self.queue.write_buffer(view.buffer, view.offset * 4, bytemuck::cast_slice(data));
    }

    /// Copies a view back to the CPU. Waits for the GPU: never call it per training step.
    /// Async because a browser maps the buffer from its event loop; on native the map has
    /// completed when `wait` returns, so the future is ready at its first poll.
    pub async fn read<T: bytemuck::Pod>(&self, view: View<'_>) -> Result<Vec<T>> {
        let bytes = view.len * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(view.buffer, view.offset * 4, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.await
            .map_err(|_| Error::DeviceLost("buffer map callback never ran".into()))?
            .map_err(|e| Error::Validation(format!("mapping readback buffer: {e}")))?;
        let data = {
            let mapped =
                staging.get_mapped_range(..).map_err(|e| Error::Validation(format!("reading mapped buffer: {e}")))?;
            bytemuck::cast_slice::<u8, T>(&mapped).to_vec()
        };
        staging.unmap();
        Ok(data)
    }

    // ---- pipelines and bind groups -------------------------------------------------------

    /// The compute pipeline for `entry` in `shader`, specialized by WGSL `override`
    /// constants. Compiled once, then cached; a bad shader is an `Err`, not a panic.
    pub fn pipeline(
        &self,
        shader: Shader,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let key = PipelineKey { shader, entry, constants: constants.iter().map(|&(n, v)| (n, v.to_bits())).collect() };
        if let Some(p) = self.pipelines.lock().expect("cache poisoned").get(&key) {
            return Ok(p.clone());
        }
        let label = if constants.is_empty() {
            entry.to_string()
        } else {
            let c: Vec<String> = constants.iter().map(|(n, v)| format!("{n}={v}")).collect();
            format!("{entry}[{}]", c.join(","))
        };
        let made = self.validated(|| {
            let module = self
                .modules
                .lock()
                .expect("cache poisoned")
                .entry(shader)
                .or_insert_with(|| self.module(shader.file(), &shader.source()))
                .clone();
            create_pipeline(&self.device, &label, &module, entry, constants)
        });
        let pipeline = match made {
            Ok(pipeline) => pipeline,
            Err(message) => {
                self.modules.lock().expect("cache poisoned").remove(&shader);
                return Err(Error::Shader { file: shader.file(), entry, message });
            }
        };
        self.note_made(&pipeline, &label, &shader.source(), entry, constants);
        self.pipelines.lock().expect("cache poisoned").insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// Runs `make` inside a validation error scope: its error message, if wgpu reported one.
    /// A browser answers the scope only from its event loop, and nothing here may wait for
    /// it: there the error reaches the uncaptured-error handler and the next [`Gpu::check`].
    fn validated<T>(&self, make: impl FnOnce() -> T) -> std::result::Result<T, String> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
            let made = make();
            match pollster::FutureExt::block_on(scope.pop()) {
                Some(e) => Err(e.to_string()),
                None => Ok(made),
            }
        }
        #[cfg(target_arch = "wasm32")]
        Ok(make())
    }

    fn module(&self, label: &str, source: &str) -> wgpu::ShaderModule {
        create_module(&self.device, label, source)
    }

    /// Queues a pipeline just made for [`Gpu::compile_pending`], where compiling waits for a dispatch.
    fn note_made(
        &self,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        source: &str,
        entry: &str,
        constants: &[(&str, f64)],
    ) {
        if self.compiles_at_first_dispatch() {
            self.compile_queue.lock().expect("compile queue poisoned").made(pipeline, label, source, entry, constants);
        }
    }

    /// The pipeline for `entry` in WGSL generated at run time (`kernels::wgsl`); compiled
    /// once per distinct source, then cached. `label` names it in errors.
    pub fn generated_pipeline(&self, label: &str, source: &str, entry: &'static str) -> Result<wgpu::ComputePipeline> {
        if let Some((_, p)) = self.generated.lock().expect("cache poisoned").get(source) {
            return Ok(p.clone());
        }
        let pipeline = self
            .validated(|| create_pipeline(&self.device, label, &self.module(label, source), entry, &[]))
            .map_err(|e| Error::Shader { file: "(generated)", entry, message: format!("{label}: {e}") })?;
        self.note_made(&pipeline, label, source, entry, &[]);
        self.generated
            .lock()
            .expect("cache poisoned")
            .insert(source.to_string(), (label.to_string(), pipeline.clone()));
        Ok(pipeline)
    }

    /// (label, source) of every generated kernel compiled on this device so far, sorted by
    /// label: what the snapshot test compares with `tests/snapshots/`.
    pub fn generated_sources(&self) -> Vec<(String, String)> {
        let cache = self.generated.lock().expect("cache poisoned");
        let mut all: Vec<(String, String)> =
            cache.iter().map(|(src, (label, _))| (label.clone(), src.clone())).collect();
        all.sort();
        all
    }

    /// A bind group for group 0 of `pipeline`; `views[i]` goes to `@binding(i)`. The layout
    /// comes from the WGSL itself, so the shader is the one source of truth for bindings.
    pub fn bind(&self, label: &str, pipeline: &wgpu::ComputePipeline, views: &[View<'_>]) -> wgpu::BindGroup {
        let largest = views.iter().map(|v| v.len * 4).max().unwrap_or(0);
        self.largest_binding.fetch_max(largest, Ordering::Relaxed);
        self.most_bindings.fetch_max(views.len() as u64, Ordering::Relaxed);
        let entries: Vec<wgpu::BindGroupEntry> = views
            .iter()
            .enumerate()
            .map(|(i, v)| wgpu::BindGroupEntry { binding: i as u32, resource: v.binding() })
            .collect();
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        if self.compiles_at_first_dispatch() {
            let bytes = views.iter().map(|v| v.len * 4).collect();
            self.compile_queue.lock().expect("compile queue poisoned").bound(pipeline, &group, bytes);
        }
        group
    }

    /// Records `dispatches` into one compute pass, submits, waits and checks for errors.
    pub fn run(&self, dispatches: &[&Dispatch]) -> Result<()> {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for d in dispatches {
                d.record(&mut pass);
            }
        }
        self.submit(encoder.finish())?;
        self.wait()
    }

    /// Submits `commands`, first compiling the pipelines bound since the last submission
    /// ([`Gpu::compile_pending`]). Every submission of kernels goes through here.
    pub fn submit(&self, commands: wgpu::CommandBuffer) -> Result<wgpu::SubmissionIndex> {
        self.compile_pending()?;
        Ok(self.queue.submit([commands]))
    }
}

/// A compute pipeline for `entry` of `module`, its bind group layout taken from the WGSL.
fn create_pipeline(
    device: &wgpu::Device,
    label: &str,
    module: &wgpu::ShaderModule,
    entry: &str,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions { constants, zero_initialize_workgroup_memory: false },
        cache: None,
    })
}

/// A shader module with the runtime checks lenet-gpu's kernels run with.
fn create_module(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ShaderModule {
    let desc = wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(source.into()) };
    // wgpu's default adds an iteration counter to every loop so that a runaway loop
    // cannot hang the GPU; it costs 10-15% of a training step on lavapipe (Mesa 25,
    // BENCHMARKS.md). All other checks stay on.
    let mut checks = wgpu::ShaderRuntimeChecks::checked();
    checks.force_loop_bounding = false;
    // SAFETY: the shaders are ours (compiled into the binary, or generated by
    // `kernels::conv_direct`, whose one loop runs to a literal), and every loop in them
    // is bounded by a shape the host validated (or a constant).
    unsafe { device.create_shader_module_trusted(desc, checks) }
}

/// A range of 4-byte elements inside a buffer: what one shader binding sees.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub buffer: &'a wgpu::Buffer,
    /// In elements; times 4 it must be a multiple of the storage offset alignment (256 B).
    pub offset: u64,
    pub len: u64,
}

impl<'a> View<'a> {
    pub fn whole(buffer: &'a wgpu::Buffer) -> View<'a> {
        View { buffer, offset: 0, len: buffer.size() / 4 }
    }

    fn binding(&self) -> wgpu::BindingResource<'a> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.buffer,
            offset: self.offset * 4,
            size: NonZeroU64::new(self.len * 4),
        })
    }

    /// Errors unless the view holds at least `needed` elements.
    pub fn require(&self, op: &'static str, what: &str, needed: u64) -> Result<()> {
        if self.len < needed {
            return Err(Error::ShapeMismatch {
                op,
                what: format!("{what} needs {needed} elements, its buffer view has {}", self.len),
            });
        }
        Ok(())
    }
}

/// One recorded kernel launch: pipeline, bind group and grid, all made in advance, and
/// the kernel's shape/params uniform (what [`Dispatch::set_uniform`] may rewrite).
pub struct Dispatch {
    label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    workgroups: [u32; 3],
    /// The dispatch's own uniform and the Rust type it was made from (a later value must be
    /// of the same type); None where every binding, uniforms included, was given.
    uniform: Option<(wgpu::Buffer, std::any::TypeId)>,
}

impl Dispatch {
    /// Binds `views` in binding order with a fresh uniform holding `value` inserted at
    /// binding `uniform_at` (the views from `uniform_at` on come after it).
    pub fn new<T: bytemuck::Pod>(
        gpu: &Gpu,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        views: &[View<'_>],
        uniform_at: usize,
        value: &T,
        workgroups: [u32; 3],
    ) -> Dispatch {
        let uniform = gpu.uniform(label, value);
        let mut all = views.to_vec();
        all.insert(uniform_at, View::whole(&uniform));
        Dispatch {
            label: label.to_string(),
            pipeline: pipeline.clone(),
            bind_group: gpu.bind(label, pipeline, &all),
            workgroups,
            uniform: Some((uniform, std::any::TypeId::of::<T>())),
        }
    }

    /// Binds `views` in binding order, uniforms included (one shared by several dispatches).
    pub fn with_views(
        gpu: &Gpu,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        views: &[View<'_>],
        workgroups: [u32; 3],
    ) -> Dispatch {
        Dispatch {
            label: label.to_string(),
            pipeline: pipeline.clone(),
            bind_group: gpu.bind(label, pipeline, views),
            workgroups,
            uniform: None,
        }
    }

    /// The kernel and variant, e.g. `gemm[B,BiasCol { relu: true }]`.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn workgroups(&self) -> [u32; 3] {
        self.workgroups
    }

    /// Rewrites the uniform (a learning rate, a batch's position) for the next submission.
    /// `value` must be of the type the dispatch was made with: anything else is a bug.
    pub fn set_uniform<T: bytemuck::Pod>(&self, gpu: &Gpu, value: &T) {
        let (buffer, ty) = self.uniform.as_ref().unwrap_or_else(|| panic!("{}: has no uniform of its own", self.label));
        assert!(
            std::any::TypeId::of::<T>() == *ty,
            "{}: uniform written as {}, not the type it was made with",
            self.label,
            std::any::type_name::<T>()
        );
        gpu.queue.write_buffer(buffer, 0, bytemuck::bytes_of(value));
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Grid for `groups` workgroups in a 1-D kernel: x up to 65,535, the rest spills into y.
/// Shaders rebuild the linear index as `wid.x + wid.y * nwg.x`.
pub fn grid(groups: u32) -> [u32; 3] {
    let groups = groups.max(1);
    if groups <= MAX_GROUPS_PER_DIM {
        [groups, 1, 1]
    } else {
        let x = MAX_GROUPS_PER_DIM;
        [x, groups.div_ceil(x), 1]
    }
}

/// Grid for one invocation per element in a kernel with [`WG`] invocations per workgroup.
pub fn grid_1d(elements: u64) -> [u32; 3] {
    grid(elements.div_ceil(WG as u64) as u32)
}
