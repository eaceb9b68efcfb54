//! A dense layer's products, as WGSL generated for one layer shape and subgroup width
//! (lavapipe's 4, 8 or 16; [`super::SUBGROUP_WIDTHS`]): the forward y = x · Wᵀ + bias
//! (then ReLU or a squash), the input gradient dx = dy · W (then masked by a ReLU), the weight
//! gradient dW = dyᵀ · x ([`DenseProduct`]). Their CPU
//! twin is the GEMM's (`reference::gemm::gemm` in the form [`DenseProduct::gemm_form`]), and
//! where this kernel does not apply the GEMM computes the same product
//! ([`crate::kernels::Kernels::dense`]).
//!
//! Why: the GEMM kernels hand each lane 4 columns, and every lane loads its own columns of
//! B from a storage buffer, which lavapipe splits into bounds-checked scalar loads per lane
//! and component. Here, for C = A · B, a lane is 4 rows of A (4 images; 4 units for the
//! weight gradient), whose values it loads once into a private array, and the loop over C's
//! columns reads B from uniform bindings, one value per lane per subgroup width, handed
//! to all lanes by `subgroupBroadcast`: each then feeds a vec4 multiply-add. Two
//! accumulators (even and odd inputs) halve the chain of dependent adds that LLVM
//! otherwise runs one after another.
//! The measurements are in BENCHMARKS.md ("Generated kernels").
//!
//! A uniform binding holds at most 64 KiB on lavapipe (fc1's W is 120 KiB), so B is bound
//! as up to `MAX_WINDOWS` windows of whole rows of its storage.

use super::generated_dispatch;
use super::wgsl::{Access, GeneratedKernel, Wgsl, COMPONENT};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::conv_direct::ConvActivation;
use crate::kernels::gemm::{epilogue_operand, Epilogue, GemmViews, Transpose};
use crate::kernels::squash::SquashFn;
use crate::shapes::GemmShape;

pub const DENSE_DIRECT: &str = "dense_direct";

/// Rows of A per invocation: the components of each accumulator.
const ROWS_PER_LANE: u32 = 4;

/// Most uniform windows of B.
const MAX_WINDOWS: u32 = 4;

/// The windows' binding names.
const WINDOW_NAMES: [&str; MAX_WINDOWS as usize] = ["b0", "b1", "b2", "b3"];

/// Most layers of a dense stack ([`DenseDirect::dense_stack_forward`]), and their
/// bindings' names: bias, output y and W's windows of each layer.
const MAX_STACK: usize = 3;
const STACK_BIAS: [&str; MAX_STACK] = ["bias0", "bias1", "bias2"];
const STACK_Y: [&str; MAX_STACK] = ["y0", "y1", "y2"];
const STACK_WINDOWS: [[&str; MAX_WINDOWS as usize]; MAX_STACK] =
    [["w0_0", "w0_1", "w0_2", "w0_3"], ["w1_0", "w1_1", "w1_2", "w1_3"], ["w2_0", "w2_1", "w2_2", "w2_3"]];

/// Most terms per sum (K): the loop over C's columns is unrolled over them (fc1's 256
/// compile in 4 s).
const MAX_TERMS: u32 = 512;

/// Which of a dense layer's products, for x (batch, inputs), W (outputs, inputs) and
/// dy (batch, outputs); as a [`GemmShape`] (M, N, K) of C = A · B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseProduct {
    /// y = activation(x · Wᵀ + bias): (batch, outputs, inputs), A = x, B = W, the bias as
    /// operand.
    Forward { activation: ConvActivation },
    /// dx = dy · W, times (operand > 0) when `relu_mask` (the operand being the ReLU's
    /// output that x was): (batch, inputs, outputs), A = dy, B = W.
    InputGrad { relu_mask: bool },
    /// dW = dyᵀ · x: (outputs, inputs, batch), A = dy, B = x; with `bias`, also the bias
    /// gradient Σ over the batch of dy into the operand (outputs), summed in batch order as
    /// each lane loads its rows of dy (`sum_reduce_rows4`'s order: the same bits), which
    /// saves the reduction's dispatch. The GEMM's form has no such epilogue: see
    /// [`crate::kernels::Kernels::dense_weight_grad`].
    WeightGrad { bias: bool },
}

impl DenseProduct {
    /// The GEMM that computes the same product, but for a squash ([`DenseProduct::squash`]),
    /// which the GEMM does not apply.
    pub fn gemm_form(self) -> (Transpose, Epilogue) {
        match self {
            DenseProduct::Forward { activation } => {
                (Transpose::B, Epilogue::BiasCol { relu: activation == ConvActivation::Relu })
            }
            DenseProduct::InputGrad { relu_mask: true } => (Transpose::None, Epilogue::ReluMask),
            DenseProduct::InputGrad { relu_mask: false } => (Transpose::None, Epilogue::None),
            DenseProduct::WeightGrad { .. } => (Transpose::A, Epilogue::None),
        }
    }

    /// The squash the forward ends in, if any.
    pub fn squash(self) -> Option<SquashFn> {
        match self {
            DenseProduct::Forward { activation: ConvActivation::Squash(f) } => Some(f),
            _ => None,
        }
    }

    /// Whether B is stored with a row per column of C ((N, K): W in the forward), not a
    /// row per term ((K, N)).
    fn b_rows_are_columns(self) -> bool {
        matches!(self, DenseProduct::Forward { .. })
    }

    /// Whether A is stored transposed, (K, M): dy in the weight gradient.
    fn a_transposed(self) -> bool {
        matches!(self, DenseProduct::WeightGrad { .. })
    }
}

/// One layer of a dense stack: its outputs (units) and the activation after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackLayer {
    pub outputs: u32,
    pub activation: ConvActivation,
}

/// One stack layer's views: W (outputs, inputs), the bias (outputs), and where its output
/// (batch, outputs) is stored (the last layer's always is).
#[derive(Clone, Copy)]
pub struct StackViews<'a> {
    pub w: View<'a>,
    pub bias: View<'a>,
    pub y: Option<View<'a>>,
}

/// How B is split into uniform windows: `rows` rows of its storage per window but the
/// last, `count` windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Windows {
    rows: u32,
    count: u32,
}

impl Windows {
    /// Floats in window `wi` of B stored as `b_rows` rows of `b_row_len`.
    fn len(self, wi: u32, b_rows: u32, b_row_len: u32) -> u32 {
        self.rows.min(b_rows - wi * self.rows) * b_row_len
    }
}

/// Host side: the pipelines come from the `Gpu` cache, one per product and shape.
pub struct DenseDirect {
    /// The device's subgroup width, where the kernel runs.
    lanes: Option<u32>,
    /// Largest uniform binding, in floats.
    max_window: u32,
    /// Uniform bindings start at multiples of this many floats.
    window_align: u32,
    /// Uniform and storage bindings a kernel may have (a stack's grow with its layers).
    max_uniforms: u32,
    max_storage: u32,
}

impl DenseDirect {
    pub fn new(gpu: &Gpu) -> Self {
        Self::with_subgroups(gpu, super::subgroup_lanes(gpu))
    }

    /// Runs only with `lanes` (the device's subgroup width).
    pub fn with_subgroups(gpu: &Gpu, lanes: Option<u32>) -> Self {
        DenseDirect {
            lanes,
            max_window: gpu.limits.max_uniform_buffer_binding_size.min(u32::MAX as u64) as u32 / 4,
            window_align: (gpu.limits.min_uniform_buffer_offset_alignment / 4).max(1),
            max_uniforms: gpu.limits.max_uniform_buffers_per_shader_stage,
            max_storage: gpu.limits.max_storage_buffers_per_shader_stage,
        }
    }

    /// Windows of `rows` rows of `row_len` floats: the most whole rows that fit a uniform
    /// binding and end on its offset alignment; None if that makes too many.
    fn windows(&self, rows: u32, row_len: u32) -> Option<Windows> {
        let mut per = (self.max_window / row_len).min(rows);
        while per > 0 && per < rows && !(per * row_len).is_multiple_of(self.window_align) {
            per -= 1;
        }
        let count = rows.div_ceil(per.max(1));
        (per > 0 && count <= MAX_WINDOWS).then_some(Windows { rows: per, count })
    }

    /// B's windows for `p` and `s`.
    fn b_windows(&self, p: DenseProduct, s: GemmShape) -> Option<Windows> {
        if p.b_rows_are_columns() {
            self.windows(s.n, s.k)
        } else {
            self.windows(s.k, s.n)
        }
    }

    /// Whether this device and shape can run the kernel: subgroups, one product (not
    /// batched), A's rows as vec4s unless A is transposed (K % 4 == 0; a transposed A of
    /// any M is read as vec4s where M % 4 == 0, else as scalars), B's rows as vec4s too
    /// (its uniform windows are vec4 arrays: N % 4 == 0 unless B is (N, K)), at most
    /// `MAX_TERMS` terms, B in at most `MAX_WINDOWS` uniform windows.
    pub fn supports(&self, p: DenseProduct, s: GemmShape) -> bool {
        let b_vec4s = if p.b_rows_are_columns() { s.k } else { s.n };
        self.lanes.is_some()
            && s.batch == 1
            && (p.a_transposed() || s.k.is_multiple_of(4))
            && b_vec4s.is_multiple_of(4)
            && s.k <= MAX_TERMS
            && s.m > 0
            && s.n > 0
            && s.k > 0
            && self.b_windows(p, s).is_some()
    }

    /// C = A · B for `p` (see [`DenseProduct`] for the operands and `operand`). A must
    /// start on a vec4 and B where a uniform binding may (parameter tensors start on 256
    /// bytes).
    pub fn dense_direct(&self, gpu: &Gpu, p: DenseProduct, s: GemmShape, v: GemmViews) -> Result<Dispatch> {
        let GemmViews { a, b, operand, c } = v;
        let op = DENSE_DIRECT;
        if !self.supports(p, s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {p:?} {s:?} on this device") });
        }
        a.require(op, "A", s.a_len())?;
        b.require(op, "B", s.b_len())?;
        c.require(op, "C", s.c_len())?;
        let operand = match p {
            DenseProduct::WeightGrad { bias: true } => {
                let db =
                    operand.ok_or_else(|| Error::ShapeMismatch { op, what: "no bias gradient (operand)".into() })?;
                db.require(op, "bias gradient", s.m as u64)?;
                Some(db)
            }
            _ => epilogue_operand(op, p.gemm_form().1, s, operand)?,
        };
        if a_as_vec4s(p, s) && !a.offset.is_multiple_of(4) {
            return Err(Error::ShapeMismatch { op, what: format!("A starts at {}, not on a vec4", a.offset) });
        }
        if !b.offset.is_multiple_of(self.window_align as u64) {
            let what = format!("B starts at {}, not on a uniform binding's alignment", b.offset);
            return Err(Error::ShapeMismatch { op, what });
        }
        let windows = self.b_windows(p, s).expect("checked by supports");
        let lanes = self.lanes.expect("checked by supports");
        let (rows, row_len) = if p.b_rows_are_columns() { (s.n, s.k) } else { (s.k, s.n) };
        let mut views = vec![("a", a), ("c", c)];
        match p {
            DenseProduct::Forward { .. } => views.extend(operand.map(|v| ("bias", v))),
            DenseProduct::WeightGrad { .. } => views.extend(operand.map(|v| ("db", v))),
            DenseProduct::InputGrad { .. } => views.extend(operand.map(|v| ("relu_out", v))),
        }
        views.extend((0..windows.count).map(|i| {
            let (first, len) = (i * windows.rows, windows.len(i, rows, row_len));
            let view = View { buffer: b.buffer, offset: b.offset + (first * row_len) as u64, len: len as u64 };
            (WINDOW_NAMES[i as usize], view)
        }));
        // One subgroup per workgroup.
        let grid = crate::gpu::grid(s.m.div_ceil(lanes * ROWS_PER_LANE));
        generated_dispatch(gpu, &source(p, s, windows, lanes), &views, s.m, grid)
    }

    /// The windows of each layer's W where the stack's forward runs as one kernel
    /// ([`DenseDirect::dense_stack_forward`]): every layer as its own forward would, at most
    /// `MAX_STACK` layers, and the bindings within the device's limits.
    fn stack_windows(&self, inputs: u32, layers: &[StackLayer]) -> Option<Vec<Windows>> {
        if layers.is_empty() || layers.len() > MAX_STACK {
            return None;
        }
        let mut k = inputs;
        let mut all = Vec::new();
        for l in layers {
            let (p, s) = (DenseProduct::Forward { activation: l.activation }, GemmShape::new(1, l.outputs, k));
            if !self.supports(p, s) {
                return None;
            }
            all.push(self.b_windows(p, s)?);
            k = l.outputs;
        }
        // x, each layer's bias and output; the batch and each window.
        let storage = 1 + 2 * layers.len() as u32;
        let uniforms = 1 + all.iter().map(|w| w.count).sum::<u32>();
        (storage <= self.max_storage && uniforms <= self.max_uniforms).then_some(all)
    }

    /// Whether this device runs a stack of `layers` on `inputs` as one kernel.
    pub fn supports_stack(&self, inputs: u32, layers: &[StackLayer]) -> bool {
        self.stack_windows(inputs, layers).is_some()
    }

    /// The forward of dense layers one after another, y_l = activation_l(y_(l-1) · W_lᵀ +
    /// bias_l) from y_0 = x (batch, inputs), in one dispatch: each lane keeps its 4 rows'
    /// outputs of a layer in a private array that the next layer reads, so only the last
    /// layer's output need be stored, and every sum is the one [`DenseProduct::Forward`]
    /// computes (the same bits). The hidden layers' outputs are stored too where their
    /// views are given (all of them, or none). W_l must start where a uniform binding may.
    pub fn dense_stack_forward(
        &self,
        gpu: &Gpu,
        batch: u32,
        (inputs, x): (u32, View),
        layers: &[StackLayer],
        views: &[StackViews],
    ) -> Result<Dispatch> {
        let op = DENSE_DIRECT;
        let fail = |what: String| Err(Error::ShapeMismatch { op, what });
        let Some(windows) = self.stack_windows(inputs, layers) else {
            return fail(format!("cannot compute the stack {layers:?} on {inputs} inputs on this device"));
        };
        if views.len() != layers.len() || batch == 0 {
            return fail(format!("{} layers' views for {} layers, batch {batch}", views.len(), layers.len()));
        }
        let last = layers.len() - 1;
        let store_hidden = views[0].y.is_some() && last > 0;
        if views[last].y.is_none() || views[..last].iter().any(|v| v.y.is_some() != store_hidden) {
            return fail("the last layer's output, and all hidden ones or none, must be given".into());
        }
        x.require(op, "x", batch as u64 * inputs as u64)?;
        if !x.offset.is_multiple_of(4) {
            return fail(format!("x starts at {}, not on a vec4", x.offset));
        }
        let mut bound = vec![("a", x)];
        let mut k = inputs;
        for (l, (layer, v)) in layers.iter().zip(views).enumerate() {
            let n = layer.outputs;
            v.w.require(op, "W", n as u64 * k as u64)?;
            v.bias.require(op, "bias", n as u64)?;
            if !v.w.offset.is_multiple_of(self.window_align as u64) {
                return fail(format!("W of layer {l} starts at {}, not on a uniform binding's alignment", v.w.offset));
            }
            bound.push((STACK_BIAS[l], v.bias));
            if let Some(y) = v.y {
                y.require(op, "y", batch as u64 * n as u64)?;
                bound.push((STACK_Y[l], y));
            }
            let w = windows[l];
            bound.extend((0..w.count).map(|i| {
                let (first, len) = (i * w.rows, w.len(i, n, k));
                let view = View { buffer: v.w.buffer, offset: v.w.offset + (first * k) as u64, len: len as u64 };
                (STACK_WINDOWS[l][i as usize], view)
            }));
            k = n;
        }
        let lanes = self.lanes.expect("checked by stack_windows");
        let grid = crate::gpu::grid(batch.div_ceil(lanes * ROWS_PER_LANE));
        generated_dispatch(gpu, &stack_source(inputs, layers, &windows, lanes, store_hidden), &bound, batch, grid)
    }
}

/// The WGSL of a dense stack's forward (any batch size); see
/// [`DenseDirect::dense_stack_forward`].
fn stack_source(
    inputs: u32,
    layers: &[StackLayer],
    windows: &[Windows],
    lanes: u32,
    store_hidden: bool,
) -> GeneratedKernel {
    let described: Vec<String> = layers
        .iter()
        .zip(windows)
        .map(|(l, w)| format!("n{}{}-windows{}x{}", l.outputs, l.activation.tag(), w.count, w.rows))
        .collect();
    let mut g = Wgsl::new(
        "src/kernels/dense_direct.rs",
        &format!(
            "the forward of dense layers {} on x (M,{inputs}), hidden outputs{} stored;\n\
             // {ROWS_PER_LANE} rows per invocation, {lanes} per workgroup (one subgroup), each layer's W in uniform windows.",
            described.join(" -> "),
            if store_hidden { "" } else { " not" }
        ),
    );
    g.line("struct Rows { m: u32, _pad0: u32, _pad1: u32, _pad2: u32 }");
    g.storage("a", Access::Read, "array<vec4<f32>>");
    let last = layers.len() - 1;
    for l in 0..layers.len() {
        g.storage(STACK_BIAS[l], Access::Read, "array<f32>");
        if l == last || store_hidden {
            g.storage(STACK_Y[l], Access::ReadWrite, "array<f32>");
        }
    }
    g.uniform("s", "Rows");
    let mut k = inputs;
    for (l, layer) in layers.iter().enumerate() {
        declare_windows(&mut g, &STACK_WINDOWS[l], windows[l], layer.outputs, k);
        k = layer.outputs;
    }
    g.entry_point(DENSE_DIRECT, lanes, true);
    g.line(format!("let row0 = (group * {lanes}u + lid) * {ROWS_PER_LANE}u;"));
    let first = DenseProduct::Forward { activation: layers[0].activation };
    load_a(&mut g, first, GemmShape::new(1, layers[0].outputs, inputs));
    let mut k = inputs;
    for (l, layer) in layers.iter().enumerate() {
        let n = layer.outputs;
        g.comment(format!("Layer {l}: {n} outputs{}.", if l < last { ", a vec4 of the 4 rows each" } else { "" }));
        if l < last {
            g.line(format!("var h{l}: array<vec4<f32>, {n}>;"));
        }
        let a_term = |i: u32| if l == 0 { format!("a_{i}") } else { format!("h{}[{i}u]", l - 1) };
        let store = |g: &mut Wgsl| {
            let bias = format!("vec4<f32>({}[col])", STACK_BIAS[l]);
            g.line(format!("let sum = {};", layer.activation.of_typed(&format!("even + odd + {bias}"), "vec4<f32>")));
            if l < last {
                g.line(format!("h{l}[col] = sum;"));
            }
            if l == last || store_hidden {
                store_rows(g, STACK_Y[l], n, &|c, _| format!("sum.{c}"));
            }
        };
        columns_by_window(&mut g, lanes, (&STACK_WINDOWS[l], windows[l]), (n, k), &a_term, &store);
        k = n;
    }
    g.close();
    g.finish(
        format!("dense-stack-k{inputs}-{}{}-sg{lanes}", described.join("-"), if store_hidden { "-hidden" } else { "" }),
        DENSE_DIRECT,
    )
}

/// The WGSL of `p` for `s` (any M unless A is transposed) on subgroups of `lanes`.
fn source(p: DenseProduct, s: GemmShape, windows: Windows, lanes: u32) -> GeneratedKernel {
    let (m, n, k) = (s.m, s.n, s.k);
    let mut g = Wgsl::new(
        "src/kernels/dense_direct.rs",
        &format!(
            "{p:?}, C (M,{n}) = A (M,{k}) · B ({k},{n});\n\
             // {ROWS_PER_LANE} rows per invocation, {lanes} per workgroup (one subgroup), B in {} uniform window(s) of {} rows.",
            windows.count, windows.rows
        ),
    );
    g.line("struct Rows { m: u32, _pad0: u32, _pad1: u32, _pad2: u32 }");
    g.storage("a", Access::Read, if a_as_vec4s(p, s) { "array<vec4<f32>>" } else { "array<f32>" });
    g.storage("c", Access::ReadWrite, "array<f32>");
    match p {
        DenseProduct::Forward { .. } => g.storage("bias", Access::Read, "array<f32>"),
        DenseProduct::InputGrad { relu_mask: true } => g.storage("relu_out", Access::Read, "array<f32>"),
        DenseProduct::WeightGrad { bias: true } => g.storage("db", Access::ReadWrite, "array<f32>"),
        _ => {}
    }
    g.uniform("s", "Rows");
    let (b_rows, b_row_len) = if p.b_rows_are_columns() { (n, k) } else { (k, n) };
    declare_windows(&mut g, &WINDOW_NAMES, windows, b_rows, b_row_len);
    g.entry_point(DENSE_DIRECT, lanes, true);
    // Lane `lid` takes rows row0 .. row0 + 3; rows past M repeat the last and are not stored.
    g.line(format!("let row0 = (group * {lanes}u + lid) * {ROWS_PER_LANE}u;"));
    load_a(&mut g, p, s);
    let a_term = |i: u32| format!("a_{i}");
    if p.b_rows_are_columns() {
        columns_by_window(&mut g, lanes, (&WINDOW_NAMES, windows), (n, k), &a_term, &|g| store(g, p, n));
    } else {
        // B (K, N): a window is a run of terms of every column.
        g.open(format!("for (var col = 0u; col < {n}u; col++)"));
        g.line("var even = vec4<f32>(0.0);");
        g.line("var odd = vec4<f32>(0.0);");
        for wi in 0..windows.count {
            let first = wi * windows.rows;
            let range = first..(first + windows.rows).min(k);
            let window = (WINDOW_NAMES[wi as usize], windows.len(wi, b_rows, b_row_len));
            terms(&mut g, lanes, window, range, &a_term, &|i| format!("({i} - {first}u) * {n}u + col"));
        }
        store(&mut g, p, n);
        g.close();
    }
    g.close();
    let product = match p {
        DenseProduct::Forward { activation } => format!("forward{}", activation.tag()),
        DenseProduct::InputGrad { relu_mask } => format!("input-grad{}", if relu_mask { "-relu-mask" } else { "" }),
        DenseProduct::WeightGrad { bias } => format!("weight-grad{}-m{m}", if bias { "-bias" } else { "" }),
    };
    g.finish(format!("dense-{product}-n{n}k{k}-windows{}x{}-sg{lanes}", windows.count, windows.rows), DENSE_DIRECT)
}

/// Whether the kernel reads A as vec4s: always but for a transposed A whose M is not a
/// multiple of 4 (fc3's dy in its weight gradient, 10 classes), read as scalars.
fn a_as_vec4s(p: DenseProduct, s: GemmShape) -> bool {
    !p.a_transposed() || s.m.is_multiple_of(4)
}

/// The 4 rows of A each lane multiplies, as `a_{i}` (term i of the 4 rows as a vec4). They
/// are loaded in a loop: unrolled, lavapipe's scalarized loads are kilobytes of code each.
fn load_a(g: &mut Wgsl, p: DenseProduct, s: GemmShape) {
    let (m, k) = (s.m, s.k);
    if p.a_transposed() {
        // A stored (K, M): term i of the 4 rows is one vec4.
        let m4 = m / 4;
        let bias = p == DenseProduct::WeightGrad { bias: true };
        g.line(format!("var a_in: array<vec4<f32>, {k}>;"));
        if bias {
            g.line("var row_sums = vec4<f32>(0.0);");
        }
        g.open(format!("for (var i = 0u; i < {k}u; i++)"));
        if a_as_vec4s(p, s) {
            g.line(format!("a_in[i] = a[i * {m4}u + min(row0 / 4u, {}u)];", m4 - 1));
        } else {
            // Rows past M repeat the last (not stored).
            let rows: Vec<String> =
                (0..ROWS_PER_LANE).map(|r| format!("a[i * {m}u + min(row0 + {r}u, {}u)]", m - 1)).collect();
            g.line(format!("a_in[i] = vec4<f32>({});", rows.join(", ")));
        }
        if bias {
            g.line("row_sums += a_in[i];");
        }
        g.close();
        if bias {
            g.comment("The bias gradient: the 4 rows of dy summed over the batch.");
            for r in 0..ROWS_PER_LANE {
                g.line(format!("if (row0 + {r}u < s.m) {{ db[row0 + {r}u] = row_sums.{}; }}", COMPONENT[r as usize]));
            }
        }
        for i in 0..k {
            g.line(format!("let a_{i} = a_in[{i}u];"));
        }
    } else {
        let k4 = k / 4;
        let loads = ROWS_PER_LANE * k4;
        g.line(format!("var a_in: array<vec4<f32>, {loads}>;"));
        g.open(format!("for (var j = 0u; j < {loads}u; j++)"));
        g.line(format!("a_in[j] = a[min(row0 + j / {k4}u, s.m - 1u) * {k4}u + j % {k4}u];"));
        g.close();
        for i in 0..k {
            let parts: Vec<String> = (0..ROWS_PER_LANE)
                .map(|r| format!("a_in[{}u].{}", r * k4 + i / 4, COMPONENT[(i % 4) as usize]))
                .collect();
            g.line(format!("let a_{i} = vec4<f32>({});", parts.join(", ")));
        }
    }
}

/// The uniform windows `names` of B stored as `b_rows` rows of `b_row_len`, and for each a
/// function `{name}_at(i)` reading float i of it.
fn declare_windows(g: &mut Wgsl, names: &[&'static str], windows: Windows, b_rows: u32, b_row_len: u32) {
    for (i, &name) in names.iter().enumerate().take(windows.count as usize) {
        let rows = windows.rows.min(b_rows - i as u32 * windows.rows);
        g.uniform(name, &format!("array<vec4<f32>, {}>", rows * b_row_len / 4));
        g.line(format!("fn {name}_at(i: u32) -> f32 {{ return {name}[i / 4u][i % 4u]; }}"));
    }
}

/// C's columns for B stored (N, K), in the uniform windows `names`: a window is whole
/// columns, each window its own loop; every column's sum of `a` times B is in `even` and
/// `odd` when `store` prints what follows.
fn columns_by_window(
    g: &mut Wgsl,
    lanes: u32,
    (names, windows): (&[&str], Windows),
    (n, k): (u32, u32),
    a: &dyn Fn(u32) -> String,
    store: &dyn Fn(&mut Wgsl),
) {
    for wi in 0..windows.count {
        let first = wi * windows.rows;
        g.open(format!("for (var j = 0u; j < {}u; j++)", windows.rows.min(n - first)));
        g.line(format!("let col = {first}u + j;"));
        g.line("var even = vec4<f32>(0.0);");
        g.line("var odd = vec4<f32>(0.0);");
        let window = (names[wi as usize], windows.len(wi, n, k));
        terms(g, lanes, window, 0..k, a, &|i| format!("j * {k}u + {i}"));
        store(g);
        g.close();
    }
}

/// Terms `terms` of column `col` into the two accumulators (even and odd terms), term i of
/// the lane's 4 rows being `a(i)`, B(i, col) from the uniform window `window` (`len` floats)
/// at `{window}_at(index(i))`, each lane loading one of `lanes` and broadcasting.
fn terms(
    g: &mut Wgsl,
    lanes: u32,
    (window, len): (&str, u32),
    terms: std::ops::Range<u32>,
    a: &dyn Fn(u32) -> String,
    index: &dyn Fn(&str) -> String,
) {
    let first = terms.start;
    for chunk in 0..(terms.end - first).div_ceil(lanes) {
        let at = index(&format!("{}u + lane", first + lanes * chunk));
        g.line(format!("let {window}_{chunk} = {window}_at(min({at}, {}u));", len - 1));
    }
    for i in terms {
        let acc = if i % 2 == 0 { "even" } else { "odd" };
        let (chunk, lane) = ((i - first) / lanes, (i - first) % lanes);
        g.line(format!("{acc} = fma(vec4<f32>(subgroupBroadcast({window}_{chunk}, {lane}u)), {}, {acc});", a(i)));
    }
}

/// The epilogue and the stores of column `col` of the lane's 4 rows.
fn store(g: &mut Wgsl, p: DenseProduct, n: u32) {
    let sum = match p {
        DenseProduct::Forward { activation } => activation.of_typed("even + odd + vec4<f32>(bias[col])", "vec4<f32>"),
        _ => "even + odd".to_string(),
    };
    g.line(format!("let sum = {sum};"));
    store_rows(g, "c", n, &|c, at| match p {
        DenseProduct::InputGrad { relu_mask: true } => format!("select(0.0, sum.{c}, relu_out[{at}] > 0.0)"),
        _ => format!("sum.{c}"),
    });
}

/// For each of the lane's 4 rows inside M, `out[at] = value(component, at)`: `at` is
/// element (row, col) of `out` (M, n), `component` the row's in the accumulators.
fn store_rows(g: &mut Wgsl, out: &str, n: u32, value: &dyn Fn(&str, &str) -> String) {
    for r in 0..ROWS_PER_LANE {
        let at = format!("(row0 + {r}u) * {n}u + col");
        let v = value(COMPONENT[r as usize], &at);
        g.line(format!("if (row0 + {r}u < s.m) {{ {out}[{at}] = {v}; }}"));
    }
}
