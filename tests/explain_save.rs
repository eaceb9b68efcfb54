//! `visualize saliency | gradcam | occlusion | features --save`: the numbers behind the
//! pictures as NumPy files, equal to the CPU twins' and to the --json map.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::explain::gradcam::{cam_from, upsample};
use lenet_gpu::model::params::Init;
use lenet_gpu::model::ParamLayout;
use lenet_gpu::reference::lenet5::{lenet5_backward, lenet5_forward};

fn lenet_gpu(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
        .args(args)
        .env_remove("LENET_GPU_ADAPTER")
        .env("LENET_GPU_KERNELS", "fast")
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A directory holding `m.safetensors` with random LeNet-5 weights: (the directory, the
/// checkpoint's path, the flat parameters, test image 12).
fn subject() -> (tempfile::TempDir, String, Vec<f32>, Vec<f32>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let layout = ParamLayout::lenet5();
    let params = layout.init(Init::HeUniform, &mut rng(3));
    let tensors: Vec<_> =
        layout.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), params[t.range()].to_vec())).collect();
    write_state_dict(&path, &tensors, "F32");
    let x = Dataset::bundled(Split::Test).unwrap().input(12);
    (dir, path.to_str().unwrap().to_string(), params, x)
}

/// The array `name` of an .npz file, or the array of an .npy file: (shape, values).
fn read_array(path: &Path, name: Option<&str>) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = match name {
        None => bytes,
        Some(name) => {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut entry = zip.by_name(&format!("{name}.npy")).unwrap_or_else(|_| panic!("{name} in the .npz"));
            let mut npy = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut npy).unwrap();
            npy
        }
    };
    let file = npyz::NpyFile::new(&npy[..]).unwrap();
    assert_eq!(file.dtype().descr(), "'<f4'");
    (file.shape().to_vec(), file.into_vec::<f32>().unwrap())
}

fn json_map(stdout: &[u8]) -> Vec<f32> {
    let j: serde_json::Value = serde_json::from_slice(stdout).unwrap();
    let rows = j["map"].as_array().expect("a map in the JSON");
    assert_eq!(rows.len(), 28);
    rows.iter().flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32)).collect()
}

const TOL: Tol = Tol { abs: 2e-4, rel: 2e-3 };

#[test]
fn saliency_and_grad_cam_arrays_are_the_cpu_models() {
    let (dir, m, params, x) = subject();
    let m = m.as_str();
    let layout = ParamLayout::lenet5();
    let mut f = lenet5_forward(&layout, &params, &x, &[9], 1);
    f.dlogits = (0..10).map(|j| if j == 9 { 1.0 } else { 0.0 }).collect();
    let b = lenet5_backward(&layout, &params, &f, 1);

    let npy = dir.path().join("s.npy");
    let png = dir.path().join("s.png");
    let args = ["visualize", "saliency", "--method", "gradient", "--target", "9", "--model", m, "--json"];
    let out = lenet_gpu(&[&args[..], &["--out", png.to_str().unwrap(), "--save", npy.to_str().unwrap()]].concat());
    let (shape, saved) = read_array(&npy, None);
    assert_eq!(shape, [28, 28]);
    assert_close("saliency against the CPU backward", &saved, &b.dx, TOL);
    assert_eq!(saved, json_map(&out.stdout), "the --json map is the saved one");

    let npz = dir.path().join("g.npz");
    let args = ["visualize", "gradcam", "--target", "9", "--model", m, "--json", "--out", png.to_str().unwrap()];
    let out = lenet_gpu(&[&args[..], &["--save", npz.to_str().unwrap()]].concat());
    let (cam_shape, cam) = read_array(&npz, Some("cam"));
    let (_, weights) = read_array(&npz, Some("weights"));
    let (up_shape, upsampled) = read_array(&npz, Some("upsampled"));
    let (_, input) = read_array(&npz, Some("input"));
    assert_eq!((cam_shape, up_shape), (vec![8, 8], vec![28, 28]));
    let (cpu_weights, cpu_cam) = cam_from(&f.conv2, &b.dconv2, (16, 8, 8), false);
    assert_close("Grad-CAM weights", &weights, &cpu_weights, TOL);
    assert_close("Grad-CAM map", &cam, &cpu_cam, TOL);
    assert_close("upsampled", &upsampled, &upsample(&cam, (8, 8), 2.0), Tol { abs: 1e-6, rel: 1e-5 });
    assert_eq!(upsampled, json_map(&out.stdout));
    assert_eq!(input, x, "the input beside the map");
}

#[test]
fn occlusion_and_feature_arrays_are_the_cpu_models() {
    let (dir, m, params, x) = subject();
    let m = m.as_str();
    let layout = ParamLayout::lenet5();

    // Four 14x14 patches: each pixel's value is the drop when its own quarter is covered.
    let npy = dir.path().join("o.npy");
    let png = dir.path().join("o.png");
    let args = ["visualize", "occlusion", "--target", "9", "--patch", "14", "--stride", "14", "--model", m];
    let out =
        lenet_gpu(&[&args[..], &["--json", "--out", png.to_str().unwrap(), "--save", npy.to_str().unwrap()]].concat());
    let (shape, saved) = read_array(&npy, None);
    assert_eq!(shape, [28, 28]);
    let p9 = |img: &[f32]| lenet5_forward(&layout, &params, img, &[9], 1).probs[9];
    let mut want = vec![0.0f32; 784];
    for (r, c) in [(0, 0), (0, 14), (14, 0), (14, 14)] {
        let mut covered = x.clone();
        for y in r..r + 14 {
            covered[y * 28 + c..y * 28 + c + 14].fill(0.0);
        }
        let drop = p9(&x) - p9(&covered);
        for y in r..r + 14 {
            want[y * 28 + c..y * 28 + c + 14].fill(drop);
        }
    }
    assert_close("occlusion against CPU forward passes", &saved, &want, Tol { abs: 1e-5, rel: 1e-4 });
    assert_eq!(saved, json_map(&out.stdout));

    let npz = dir.path().join("f.npz");
    let maps = dir.path().join("maps");
    lenet_gpu(&[
        "visualize",
        "features",
        "--model",
        m,
        "--out",
        maps.to_str().unwrap(),
        "--save",
        npz.to_str().unwrap(),
    ]);
    let f = lenet5_forward(&layout, &params, &x, &[9], 1);
    for (name, shape, cpu) in [
        ("conv1", vec![6, 24, 24], &f.conv1),
        ("pool1", vec![6, 12, 12], &f.pool1),
        ("conv2", vec![16, 8, 8], &f.conv2),
        ("pool2", vec![16, 4, 4], &f.pool2),
        ("fc1", vec![120], &f.fc1),
        ("fc2", vec![84], &f.fc2),
        ("logits", vec![10], &f.logits),
        ("probs", vec![10], &f.probs),
    ] {
        let (got_shape, got) = read_array(&npz, Some(name));
        assert_eq!(got_shape, shape, "{name}");
        assert_close(name, &got, cpu, Tol { abs: 1e-5, rel: 1e-4 });
    }
    // A .npy cannot hold one array per layer; an unknown extension is refused before any work.
    for (file, needle) in [("f.npy", ".npz"), ("f.txt", ".npy or .npz")] {
        let out = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
            .args(["visualize", "features", "--model", m, "--save", dir.path().join(file).to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("--save") && stderr.contains(needle), "{stderr}");
        assert!(!stderr.contains("adapter:"), "refused before the GPU is opened: {stderr}");
    }
}
