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
    for r in 0..ROWS_PER_LANE {
        let at = format!("(row0 + {r}u) * {n}u + col");
        let c = COMPONENT[r as usize];
        let v = match p {
            DenseProduct::InputGrad { relu_mask: true } => format!("select(0.0, sum.{c}, relu_out[{at}] > 0.0)"),
            _ => format!("sum.{c}"),
        };
        g.line(format!("if (row0 + {r}u < s.m) {{ c[{at}] = {v}; }}"));
    }
}
