//! Which adapter to run on: the `--adapter` choice, how `auto` ranks adapters, and the
//! listing printed by `lenet-gpu adapters`.

use std::fmt;

/// `--adapter auto|vulkan|metal|dx12|gl|software`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum AdapterChoice {
    /// The best adapter: discrete > integrated > virtual > CPU (software).
    #[default]
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
    /// A CPU adapter: Mesa lavapipe/llvmpipe, or WARP on Windows.
    Software,
}

impl fmt::Display for AdapterChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            AdapterChoice::Auto => "auto",
            AdapterChoice::Vulkan => "vulkan",
            AdapterChoice::Metal => "metal",
            AdapterChoice::Dx12 => "dx12",
            AdapterChoice::Gl => "gl",
            AdapterChoice::Software => "software",
        };
        f.write_str(name)
    }
}

impl AdapterChoice {
    /// The wgpu backends to enumerate for this choice.
    pub fn backends(self) -> wgpu::Backends {
        match self {
            AdapterChoice::Auto | AdapterChoice::Software => wgpu::Backends::all(),
            AdapterChoice::Vulkan => wgpu::Backends::VULKAN,
            AdapterChoice::Metal => wgpu::Backends::METAL,
            AdapterChoice::Dx12 => wgpu::Backends::DX12,
            AdapterChoice::Gl => wgpu::Backends::GL,
        }
    }

    /// Whether an adapter is acceptable for this choice (backend already filtered).
    pub fn accepts(self, info: &wgpu::AdapterInfo) -> bool {
        match self {
            AdapterChoice::Software => info.device_type == wgpu::DeviceType::Cpu,
            _ => true,
        }
    }
}

/// Lower is better. `auto` picks the adapter with the smallest rank.
pub fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let device = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    // Among equals, prefer the native compute APIs over GL (no storage-buffer limits games).
    let backend = match info.backend {
        wgpu::Backend::Vulkan => 0,
        wgpu::Backend::Metal => 0,
        wgpu::Backend::Dx12 => 1,
        wgpu::Backend::Gl => 2,
        _ => 3,
    };
    (device, backend)
}

/// One adapter as `lenet-gpu adapters` shows it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub timestamp_query: bool,
    /// True for the adapter that `--adapter auto` would choose.
    pub auto_choice: bool,
}

impl AdapterSummary {
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}

/// One line naming an adapter: name, backend, device type, driver.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?}, driver: {} {})", info.name, info.backend, info.device_type, info.driver, info.driver_info)
}

/// The Mesa version of a lavapipe/llvmpipe adapter older than Mesa 24, whose compute
/// shaders ran lenet-gpu 3x slower than Mesa 25's (BENCHMARKS.md); None otherwise.
pub fn old_mesa_version(info: &wgpu::AdapterInfo) -> Option<String> {
    if info.device_type != wgpu::DeviceType::Cpu {
        return None;
    }
    old_mesa_in(&info.driver_info)
}

/// "Mesa 22.3.6 (LLVM 15.0.6)" -> Some("22.3.6"); Mesa 24 and later, or no Mesa: None.
fn old_mesa_in(driver_info: &str) -> Option<String> {
    let version = driver_info.split("Mesa ").nth(1)?.split([' ', '-']).next()?;
    let major: u32 = version.split('.').next()?.parse().ok()?;
    (major < 24).then(|| version.to_string())
}

pub(crate) fn new_instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// The adapters `choice` accepts, best first. In a browser: the one the page is given.
pub(crate) async fn enumerate(instance: &wgpu::Instance, choice: AdapterChoice) -> Vec<wgpu::Adapter> {
    let mut adapters: Vec<wgpu::Adapter> = instance
        .enumerate_adapters(choice.backends())
        .await
        .into_iter()
        .filter(|a| choice.accepts(&a.get_info()))
        .collect();
    adapters.sort_by_key(|a| rank(&a.get_info()));
    adapters
}

/// Every adapter wgpu sees, best first, with the one `auto` would choose marked.
pub async fn list_adapters() -> Vec<AdapterSummary> {
    enumerate(&new_instance(AdapterChoice::Auto.backends()), AdapterChoice::Auto)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, a)| AdapterSummary {
            info: a.get_info(),
            limits: a.limits(),
            timestamp_query: a.features().contains(wgpu::Features::TIMESTAMP_QUERY),
            auto_choice: i == 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_mesa_is_recognized_from_the_driver_string() {
        assert_eq!(old_mesa_in("Mesa 22.3.6 (LLVM 15.0.6)"), Some("22.3.6".into()));
        assert_eq!(old_mesa_in("Mesa 23.1.0-devel (git-abc)"), Some("23.1.0".into()));
        assert_eq!(old_mesa_in("Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)"), None);
        assert_eq!(old_mesa_in("something else"), None);
    }
}
