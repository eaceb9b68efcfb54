//! The generated WGSL of both networks, checked in under tests/snapshots/ so that a reader
//! can open what runs and a reviewer sees every change to it. Every plan of both networks
//! (every mode, both input sources) is built with this device's kernels and with the
//! portable ones; each generated kernel must equal its snapshot. On a device with 8-wide
//! subgroups (lavapipe, as in CI) the set is complete, so a snapshot nobody generates fails
//! too. `UPDATE_SNAPSHOTS=1 cargo test --test snapshots` rewrites them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use lenet_gpu::gpu::validate_wgsl;
use lenet_gpu::kernels::data::pack_bytes;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::{Arch, Ctx, InputSource, Mode};
use lenet_gpu::train::Recipe;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");

/// Builds every plan of both networks with `kernels` at their recipes' batch sizes (a
/// dense weight gradient sums over the batch, which is written out), so that the device
/// compiles every kernel they generate.
fn build_every_plan(kernels: &Kernels) {
    let gpu = gpu();
    let images = gpu.storage_from("images", &pack_bytes(&[7u8; 100 * 784]));
    let order = gpu.storage_from("order", &(0..100u32).collect::<Vec<_>>());
    for recipe in [Recipe::default_recipe(), Recipe::lenet1998()] {
        let (net, arch, batch) = (recipe.net(), recipe.arch, recipe.batch_size);
        let layout = net.layout();
        let params = gpu.storage("params", layout.padded_len);
        let grads = gpu.storage("grads", layout.padded_len);
        let curvature = gpu.storage("curvature", layout.padded_len);
        let sdlm = (arch == Arch::Lenet1998).then_some(&curvature);
        let ctx = Ctx { curvature: sdlm, ..Ctx::new(gpu, kernels, &layout, &params).with_grads(&grads) };
        for mode in [Mode::Inference, Mode::FeatureMaps, Mode::Train, Mode::TrainWithInputGrad] {
            for source in [InputSource::Buffer, InputSource::Dataset { images: &images, order: &order }] {
                net.plan(&ctx, batch, mode, source).unwrap_or_else(|e| panic!("{arch:?} {mode:?}: {e}"));
            }
        }
    }
}

#[test]
fn generated_kernels_equal_their_snapshots() {
    let gpu = gpu();
    build_every_plan(&Kernels::portable(gpu).unwrap());
    let portable: Vec<String> = gpu.generated_sources().into_iter().map(|(name, _)| name).collect();
    let device = Kernels::new(gpu).unwrap();
    build_every_plan(&device);
    let mut generated = BTreeMap::new();
    for (name, source) in gpu.generated_sources() {
        if let Err(message) = validate_wgsl(&name, &source) {
            panic!("{message}");
        }
        assert!(generated.insert(name.clone(), source).is_none(), "two kernels are called {name}");
    }
    let path = |name: &str| Path::new(DIR).join(format!("{name}.wgsl"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(DIR).unwrap();
        for entry in std::fs::read_dir(DIR).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, source) in &generated {
            std::fs::write(path(name), source).unwrap();
        }
        return;
    }
    // Subgroup kernels are checked in for 8 lanes (lavapipe's default); at other widths only
    // the portable ones are compared.
    let sg8 = device.conv_direct.sharing == lenet_gpu::kernels::conv_direct::LoadSharing::Subgroup { lanes: 8 };
    for (name, source) in &generated {
        if !sg8 && !portable.contains(name) {
            continue;
        }
        let saved = std::fs::read_to_string(path(name))
            .unwrap_or_else(|_| panic!("no snapshot {name}.wgsl: run UPDATE_SNAPSHOTS=1 cargo test --test snapshots"));
        assert!(
            saved == *source,
            "{name}.wgsl differs from what the generator writes now: review the change, then run \
             UPDATE_SNAPSHOTS=1 cargo test --test snapshots"
        );
    }
    // Every snapshot must still be generated: those without subgroup operations by the
    // portable kernels on any device, the others where the device's kernels are lavapipe's.
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let portable_kernel = !std::fs::read_to_string(&path).unwrap().contains("subgroup");
        assert_eq!(
            portable.contains(&name),
            portable_kernel,
            "{name}: portable kernels generate it, or it uses subgroups"
        );
        if sg8 {
            assert!(generated.contains_key(&name), "tests/snapshots/{name}.wgsl: no plan generates it any more");
        }
    }
}
