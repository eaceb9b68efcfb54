//! The WGSL sources, compiled into the binary.

/// `shaders/common.wgsl`: the prologue of the 1-D kernel families.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// One WGSL file in `shaders/`: one kernel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    Im2col,
    Gemm,
    GemmSubgroup,
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
        Shader::GemmSubgroup,
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
            Shader::GemmSubgroup => "gemm_subgroup.wgsl",
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

    /// The WGSL, with `shaders/common.wgsl` (the 1-D kernels' workgroup size and linear
    /// index) in front for the families that use it.
    pub fn source(self) -> &'static str {
        match self {
            Shader::Im2col => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/im2col.wgsl"))
            }
            Shader::Gemm => include_str!("../../shaders/gemm.wgsl"),
            Shader::GemmSubgroup => include_str!("../../shaders/gemm_subgroup.wgsl"),
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
            Shader::Data => concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/data.wgsl")),
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
            Shader::Pad => concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/pad.wgsl")),
            Shader::ZeroPad => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/zero_pad.wgsl"))
            }
            Shader::Rbf => include_str!("../../shaders/rbf.wgsl"),
            Shader::Table => {
                concat!(include_str!("../../shaders/common.wgsl"), include_str!("../../shaders/table.wgsl"))
            }
            Shader::Augment => include_str!("../../shaders/augment.wgsl"),
        }
    }
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
