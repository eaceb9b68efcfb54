//! The `lenet-gpu` binary as a user runs it.

use std::process::Command;

fn lenet_gpu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
        .args(args)
        .env_remove("LENET_GPU_ADAPTER")
        .output()
        .expect("the binary runs")
}

#[test]
fn adapters_lists_lavapipe_and_marks_the_auto_choice() {
    let out = lenet_gpu(&["adapters"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    // CI and every development machine here run Mesa's lavapipe ("llvmpipe" adapter).
    assert!(stdout.contains("llvmpipe"), "{stdout}");
    assert!(stdout.contains("Vulkan"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with('*')).count(), 1, "{stdout}");
}

#[test]
fn an_unavailable_backend_is_a_clear_error_not_a_panic() {
    // No DX12 on Linux: the error names the choice and says how to get an adapter.
    let out = lenet_gpu(&["train", "--adapter", "dx12", "--epochs", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(windows) {
        return;
    }
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("dx12") && stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_adapter_names_are_rejected_by_the_parser() {
    let out = lenet_gpu(&["train", "--adapter", "cuda"]);
    assert!(!out.status.success());
}
