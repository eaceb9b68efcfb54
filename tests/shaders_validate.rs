//! naga parses and validates every WGSL file in shaders/, with no GPU.

use lenet_gpu::gpu::{gemm_subgroup_prelude, validate_wgsl, Shader, COMMON, PIXELS};

/// A file as the loader compiles it: after the common prologue and the pixel conversion
/// where its family uses them, after the 8-lane prelude for the subgroup GEMM.
fn as_compiled(file: &str, on_disk: &str) -> String {
    let prologue = |s: &Shader| {
        let common = if s.uses_common() { COMMON } else { "" };
        let pixels = if s.uses_pixels() { PIXELS } else { "" };
        format!("{common}{pixels}")
    };
    match Shader::ALL.iter().find(|s| s.file() == file) {
        Some(s) if s.uses_common() || s.uses_pixels() => format!("{}{on_disk}", prologue(s)),
        Some(Shader::GemmSubgroup { lanes }) => format!("{}{on_disk}", gemm_subgroup_prelude(*lanes)),
        _ => on_disk.to_string(),
    }
}

#[test]
fn every_shader_file_parses_and_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("shaders/ exists") {
        let path = entry.expect("readable dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable shader");
        let file = path.file_name().expect("a file").to_string_lossy().into_owned();
        if let Err(message) = validate_wgsl(&path.display().to_string(), &as_compiled(&file, &source)) {
            panic!("{message}");
        }
        checked += 1;
    }
    // common.wgsl and pixels.wgsl are prologues, not families of their own.
    assert_eq!(checked, Shader::ALL.len() + 2, "every file in shaders/ is a Shader variant");
}

#[test]
fn the_subgroup_gemm_validates_at_every_subgroup_width() {
    for lanes in lenet_gpu::kernels::SUBGROUP_WIDTHS {
        let shader = Shader::GemmSubgroup { lanes };
        if let Err(message) = validate_wgsl(&format!("gemm_subgroup.wgsl, {lanes} lanes"), &shader.source()) {
            panic!("{message}");
        }
    }
}

#[test]
fn every_shader_variant_is_the_file_on_disk() {
    for shader in Shader::ALL {
        let path = format!("{}/shaders/{}", env!("CARGO_MANIFEST_DIR"), shader.file());
        let on_disk = std::fs::read_to_string(&path).expect("shader file exists");
        assert_eq!(as_compiled(shader.file(), &on_disk), shader.source(), "{path} differs from the compiled-in source");
    }
}

#[test]
fn a_broken_shader_fails_with_the_file_name_and_nagas_message() {
    // gemm.wgsl with one identifier misspelled, the kind of slip the test exists for.
    let broken = Shader::Gemm.source().replacen("let a0 = a_at(", "let a0 = a_att(", 1);
    let message = validate_wgsl("shaders/gemm.wgsl", &broken).expect_err("must not validate");
    assert!(message.contains("shaders/gemm.wgsl"), "{message}");
    assert!(message.contains("a_att"), "names the bad identifier: {message}");

    let type_error = Shader::Pool.source().replacen("argmax[i] = best;", "argmax[i] = best_v;", 1);
    let message = validate_wgsl("shaders/pool.wgsl", &type_error).expect_err("must not validate");
    assert!(message.contains("shaders/pool.wgsl"), "{message}");
}
