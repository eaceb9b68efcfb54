//! The WGSL sources, compiled into the binary.

use std::borrow::Cow;

/// `shaders/common.wgsl`: the prologue of the 1-D kernel families.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
/// `shaders/pixels.wgsl`: `pixels(word)`, a dataset word's 4 bytes as pixels, in front of
/// every kernel that reads the dataset.
pub const PIXELS: &str = include_str!("../../shaders/pixels.wgsl");

/// One WGSL file in `shaders/`: one kernel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    Im2col,
    Gemm,
    /// For subgroups of `lanes` invocations: the file after [`gemm_subgroup_prelude`].
    GemmSubgroup {
        lanes: u32,
    },
    Pool,
    Elementwise,
    Reduce,
    SoftmaxXent,
    Metrics,
    Optim,
    Data,
    Objective,
    Ascent,
    Squash,
    Subsample,
    Pad,
    ZeroPad,
    Rbf,
    Table,
    Augment,
}

impl Shader {
    pub const ALL: [Shader; 19] = [
        Shader::Im2col,
        Shader::Gemm,
        Shader::GemmSubgroup { lanes: 8 },
        Shader::Pool,
        Shader::Elementwise,
        Shader::Reduce,
        Shader::SoftmaxXent,
        Shader::Metrics,
        Shader::Optim,
        Shader::Data,
        Shader::Objective,
        Shader::Ascent,
        Shader::Squash,
        Shader::Subsample,
        Shader::Pad,
        Shader::ZeroPad,
        Shader::Rbf,
        Shader::Table,
        Shader::Augment,
    ];

    pub fn file(self) -> &'static str {
        match self {
            Shader::Im2col => "im2col.wgsl",
            Shader::Gemm => "gemm.wgsl",
            Shader::GemmSubgroup { .. } => "gemm_subgroup.wgsl",
            Shader::Pool => "pool.wgsl",
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Reduce => "reduce.wgsl",
            Shader::SoftmaxXent => "softmax_xent.wgsl",
            Shader::Metrics => "metrics.wgsl",
            Shader::Optim => "optim.wgsl",
            Shader::Data => "data.wgsl",
            Shader::Objective => "objective.wgsl",
            Shader::Ascent => "ascent.wgsl",
            Shader::Squash => "squash.wgsl",
            Shader::Subsample => "subsample.wgsl",
            Shader::Pad => "pad.wgsl",
            Shader::ZeroPad => "zero_pad.wgsl",
            Shader::Rbf => "rbf.wgsl",
            Shader::Table => "table.wgsl",
            Shader::Augment => "augment.wgsl",
        }
    }

    /// Whether [`Shader::source`] starts with [`COMMON`].
    pub fn uses_common(self) -> bool {
        self.source().starts_with(COMMON)
    }

    /// Whether [`PIXELS`] follows (the kernels that read the dataset's bytes).
    pub fn uses_pixels(self) -> bool {
        let after_common = if self.uses_common() { COMMON.len() } else { 0 };
        self.source()[after_common..].starts_with(PIXELS)
    }

    /// The WGSL, with `shaders/common.wgsl` (the 1-D kernels' workgroup size and linear
    /// index) in front for the families that use it, and the subgroup width's constants and
    /// functions in front of the subgroup GEMM.
    pub fn source(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Shader::Im2col => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/im2col.wgsl"))
            }
            Shader::Gemm => include_str!("../../shaders/gemm.wgsl"),
            Shader::GemmSubgroup { lanes } => {
                return Cow::Owned(gemm_subgroup_prelude(lanes) + include_str!("../../shaders/gemm_subgroup.wgsl"))
            }
            Shader::Pool => concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/pool.wgsl")),
            Shader::Elementwise => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/elementwise.wgsl"))
            }
            Shader::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Shader::SoftmaxXent => include_str!("../../shaders/softmax_xent.wgsl"),
            Shader::Metrics => include_str!("../../shaders/metrics.wgsl"),
            Shader::Optim => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/optim.wgsl"))
            }
            Shader::Data => concat!(
                include_str!("../../shaders/common.wgsl"),
                include_str!("../../shaders/pixels.wgsl"),
                include_str!("../../shaders/data.wgsl")
            ),
            Shader::Objective => include_str!("../../shaders/objective.wgsl"),
            Shader::Ascent => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/ascent.wgsl"))
            }
            Shader::Squash => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/squash.wgsl"))
            }
            Shader::Subsample => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/subsample.wgsl"))
            }
            Shader::Pad => concat!(
                include_str!("../../shaders/common.wgsl"),
                include_str!("../../shaders/pixels.wgsl"),
                include_str!("../../shaders/pad.wgsl")
            ),
            Shader::ZeroPad => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/zero_pad.wgsl"))
            }
            Shader::Rbf => include_str!("../../shaders/rbf.wgsl"),
            Shader::Table => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/table.wgsl"))
            }
            Shader::Augment => include_str!("../../shaders/augment.wgsl"),
        })
    }
}

/// What `shaders/gemm_subgroup.wgsl` needs for subgroups of `lanes` invocations: `LANES`,
/// and the broadcasts and sums over lanes written out, since `subgroupBroadcast` takes a
/// literal lane and lavapipe keeps a private array indexed by a loop variable in scratch
/// memory. At 8 lanes the kernels compute exactly what they did when the file was written
/// for 8 only.
pub fn gemm_subgroup_prelude(lanes: u32) -> String {
    let each = |f: &dyn Fn(u32) -> String, sep: &str| (0..lanes).map(f).collect::<Vec<_>>().join(sep);
    format!(
        "// Printed by the host for subgroups of {lanes} (src/gpu/shader.rs, gemm_subgroup_prelude).\n\
         const LANES: u32 = {lanes}u;\n\n\
         // Lane i's v, for every i.\n\
         fn broadcast_lanes(v: vec4<f32>) -> array<vec4<f32>, LANES> {{\n    \
         return array<vec4<f32>, LANES>({});\n}}\n\n\
         // The sum over lanes i of x[i][j] * b[i], in lane order.\n\
         fn lanes_dot(x: array<vec4<f32>, LANES>, j: u32, b: array<vec4<f32>, LANES>) -> vec4<f32> {{\n    \
         return {};\n}}\n\n",
        each(&|i| format!("subgroupBroadcast(v, {i}u)"), ", "),
        each(&|i| format!("x[{i}][j] * b[{i}]"), " + "),
    )
}

/// Parses and validates WGSL with naga, with no GPU: the error names the file and quotes
/// naga's message with the offending source span.
pub fn validate_wgsl(file: &str, source: &str) -> Result<naga::Module, String> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| format!("{file}: WGSL parse error:\n{}", e.emit_to_string_with_path(source, file)))?;
    // Subgroup operations are allowed in compute shaders: the host uses a shader that needs
    // them only on a device that has them (`Gpu::subgroup_size`).
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default() | naga::valid::Capabilities::SUBGROUP,
    )
    .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
    .subgroup_operations(naga::valid::SubgroupOperationSet::all())
    .validate(&module)
    .map_err(|e| format!("{file}: WGSL validation error:\n{}", e.emit_to_string_with_path(source, file)))?;
    Ok(module)
}
