//! `lenet-gpu adapters`.

use anyhow::{bail, Result};
use lenet_gpu::gpu::list_adapters;
use pollster::FutureExt;

pub fn run_adapters() -> Result<()> {
    let adapters = list_adapters().block_on();
    if adapters.is_empty() {
        bail!(
            "wgpu sees no adapter (Vulkan, Metal, DX12 or GL). On Debian/Ubuntu install the \
             software Vulkan driver: apt-get install mesa-vulkan-drivers"
        );
    }
    println!(
        "{:<2} {:<40} {:<7} {:<13} {:<28} {:>11} {:>10} {:>6} {:>10}",
        "", "adapter", "backend", "type", "driver", "max binding", "max buffer", "wg inv", "timestamps"
    );
    for a in &adapters {
        let mib = |b: u64| format!("{} MiB", b >> 20);
        println!(
            "{:<2} {:<40} {:<7} {:<13} {:<28} {:>11} {:>10} {:>6} {:>10}",
            if a.auto_choice { "*" } else { "" },
            truncate(&a.info.name, 40),
            format!("{:?}", a.info.backend),
            format!("{:?}", a.info.device_type),
            truncate(&format!("{} {}", a.info.driver, a.info.driver_info), 28),
            mib(a.limits.max_storage_buffer_binding_size),
            mib(a.limits.max_buffer_size),
            a.limits.max_compute_invocations_per_workgroup,
            if a.timestamp_query { "yes" } else { "no" },
        );
    }
    println!("marked *: the adapter `--adapter auto` chooses (discrete > integrated > virtual > CPU)");
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
