//! The training-set augmentation kernel against its CPU twin, identity and known shifts
//! exactly, determinism from the seed, and its use in a training run.

mod common;

use common::*;
use lenet_gpu::augment::{AugmentKind, Augmentation};
use lenet_gpu::data::{Dataset, Split, SIDE};
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::augment::Augment;
use lenet_gpu::kernels::data::{pack_bytes, GatherViews};
use lenet_gpu::reference::augment as cpu;
use lenet_gpu::shapes::AugmentParams;
use rand::Rng;

/// A dataset of `samples` images of side x side (bytes) with labels and an order.
struct Set {
    side: u32,
    images: Vec<u8>,
    labels: Vec<u32>,
    order: Vec<u32>,
}

impl Set {
    fn random(samples: u32, side: u32, seed: u64) -> Set {
        let mut r = rng(seed);
        // Mostly background with strokes, as digits are: bilinear blends of both.
        let images = (0..samples * side * side).map(|_| if r.random_bool(0.3) { r.random() } else { 0 }).collect();
        let labels = (0..samples).map(|_| r.random_range(0..10)).collect();
        let mut order: Vec<u32> = (0..samples).collect();
        order.reverse();
        Set { side, images, labels, order }
    }

    fn mnist(samples: u32) -> Set {
        let d = Dataset::bundled(Split::Train).unwrap();
        let images = d.images[..samples as usize * SIDE * SIDE].to_vec();
        let labels = d.labels[..samples as usize].iter().map(|&l| l as u32).collect();
        let order = (0..samples).rev().collect();
        Set { side: SIDE as u32, images, labels, order }
    }

    /// The kernel's output (x, labels) from NaN- and MAX-prefilled buffers.
    fn gpu(&self, p: AugmentParams) -> (Vec<f32>, Vec<u32>) {
        let gpu = gpu();
        let k = Augment::new(gpu).unwrap();
        let (images, labels, order) = (
            gpu.storage_from("images", &pack_bytes(&self.images)),
            gpu.storage_from("labels", &self.labels),
            gpu.storage_from("order", &self.order),
        );
        let len = p.x_len() as usize;
        let (x, y) = (nan_buffer(gpu, "x", len), gpu.storage_from("y", &vec![u32::MAX; p.batch as usize]));
        let views = GatherViews {
            images: View::whole(&images),
            all_labels: View::whole(&labels),
            order: View::whole(&order),
            x: View::whole(&x),
            labels: View::whole(&y),
        };
        run(gpu, k.augment_batch(gpu, p, views).unwrap());
        (read(gpu, &x, len), read_u32(gpu, &y, p.batch as usize))
    }

    fn cpu(&self, p: AugmentParams) -> (Vec<f32>, Vec<u32>) {
        let mut x = vec![f32::NAN; p.x_len() as usize];
        let mut y = vec![u32::MAX; p.batch as usize];
        cpu::augment_batch(&self.images, &self.labels, &self.order, p, &mut x, &mut y);
        (x, y)
    }

    /// The source image of batch image n, as bytes.
    fn source(&self, p: &AugmentParams, n: u32) -> &[u8] {
        let pixels = (self.side * self.side) as usize;
        let s = self.order[(p.offset + n) as usize] as usize;
        &self.images[s * pixels..(s + 1) * pixels]
    }
}

fn params(kind: AugmentKind, batch: u32, side: u32, seed: u64) -> AugmentParams {
    AugmentParams::new(&Augmentation { kind, ..Augmentation::none() }, batch, side, seed, 255.0)
}

#[test]
fn no_transform_is_the_gather_exactly() {
    let set = Set::mnist(120);
    for p in [
        params(AugmentKind::None, 100, 28, 1),
        // Every strength zero: the affine path must reproduce the pixels too.
        AugmentParams {
            shift: 0.0,
            rotate: 0.0,
            zoom: 0.0,
            shear: 0.0,
            offset: 20,
            ..params(AugmentKind::Affine, 100, 28, 1)
        },
    ] {
        let (x, labels) = set.gpu(p);
        let want: Vec<f32> = (0..p.batch).flat_map(|n| set.source(&p, n).iter().map(|&b| b as f32 / 255.0)).collect();
        assert_close(&format!("identity, kind {}", p.kind), &x, &want, EXACT);
        let want_labels: Vec<u32> =
            (0..p.batch).map(|n| set.labels[set.order[(p.offset + n) as usize] as usize]).collect();
        assert_eq!(labels, want_labels);
    }
}

#[test]
fn a_shift_moves_each_pixel_by_its_draw() {
    let set = Set::mnist(64);
    let p = AugmentParams { shift: 3.0, ..params(AugmentKind::Shift, 64, 28, 7) };
    let (x, _) = set.gpu(p);
    let mut moved = 0;
    for n in 0..p.batch {
        let t = cpu::draw(&p, p.offset + n).t;
        assert!(t.iter().all(|v| v.fract() == 0.0 && v.abs() <= 3.0), "whole pixels within ±3: {t:?}");
        moved += (t != [0.0, 0.0]) as u32;
        let image = set.source(&p, n);
        for oy in 0..28i32 {
            for ox in 0..28i32 {
                let (sx, sy) = (ox - t[0] as i32, oy - t[1] as i32);
                let inside = (0..28).contains(&sx) && (0..28).contains(&sy);
                let want = if inside { image[(sy * 28 + sx) as usize] as f32 / 255.0 } else { 0.0 };
                assert_eq!(x[(n as i32 * 784 + oy * 28 + ox) as usize], want, "image {n} at ({ox},{oy}), t {t:?}");
            }
        }
    }
    assert!(moved > 50, "most images move: {moved} of 64");
}

#[test]
fn affine_and_elastic_equal_the_cpu_twin() {
    // LeNet's batch on MNIST, then awkward ones: odd batch, an offset, a small image,
    // extreme strengths (half turns, half size, steep shear, a rough strong field).
    let mnist = Set::mnist(150);
    let small = Set::random(40, 20, 3);
    let extreme = Augmentation {
        shift: 6.5,
        rotate: 180.0,
        zoom: 0.5,
        shear: 45.0,
        elastic_alpha: 120.0,
        elastic_sigma: 1.5,
        ..Augmentation::none()
    };
    let cases = [
        (&mnist, params(AugmentKind::Affine, 100, 28, 0)),
        (&mnist, AugmentParams { offset: 50, epoch: 3, ..params(AugmentKind::Elastic, 100, 28, 0) }),
        (
            &small,
            AugmentParams {
                offset: 13,
                ..AugmentParams::new(&Augmentation { kind: AugmentKind::Affine, ..extreme }, 7, 20, 9, 255.0)
            },
        ),
        (
            &small,
            AugmentParams {
                offset: 1,
                ..AugmentParams::new(&Augmentation { kind: AugmentKind::Elastic, ..extreme }, 39, 20, 9, 1.0)
            },
        ),
        (&mnist, AugmentParams::new(&Augmentation { kind: AugmentKind::Elastic, ..extreme }, 1, 28, u64::MAX, 255.0)),
    ];
    for (set, p) in cases {
        let (gx, gl) = set.gpu(p);
        let (cx, cl) = set.cpu(p);
        assert_eq!(gl, cl, "labels, {p:?}");
        // Sines, tangents and exponentials differ in the last bits between the GPU and
        // Rust; bilinear sampling is continuous, so the pixels differ as little (4e-6 seen).
        let scale = 255.0 / p.divisor as f64;
        assert_close(&format!("{p:?}"), &gx, &cx, Tol { abs: 2e-5 * scale, rel: 0.0 });
        let changed = gx.iter().zip(&set.cpu(AugmentParams { kind: 0, ..p }).0).filter(|(a, b)| a != b).count();
        assert!(changed > gx.len() / 20, "the transform changes the images: {changed} of {}", gx.len());
    }
}

#[test]
fn draws_follow_seed_epoch_and_position_only() {
    let set = Set::mnist(100);
    let p = params(AugmentKind::Elastic, 50, 28, 5);
    let (a, _) = set.gpu(p);
    assert_eq!(a, set.gpu(p).0, "the same draws twice");
    assert_ne!(a, set.gpu(AugmentParams { epoch: 1, ..p }).0, "a new epoch draws anew");
    assert_ne!(a, set.gpu(params(AugmentKind::Elastic, 50, 28, 6)).0, "the seed matters");
    // Image n of a batch at offset 10 is position 10 + n: the same draw as in a batch
    // starting there, whatever the batch size.
    let (b, _) = set.gpu(AugmentParams { offset: 10, batch: 40, ..p });
    assert_eq!(&a[10 * 784..], &b[..40 * 784]);
}

#[test]
fn the_elastic_field_is_smooth_and_scales_with_alpha() {
    let a = Augmentation { kind: AugmentKind::Elastic, ..Augmentation::none() };
    let p = AugmentParams::new(&a, 1, 28, 0, 255.0);
    let key = cpu::draw(&p, 0).key;
    let field = cpu::elastic_field(&p, key);
    let double = cpu::elastic_field(&AugmentParams { alpha: 2.0 * p.alpha, ..p }, key);
    field.iter().zip(&double).for_each(|(f, d)| assert!((2.0 * f - d).abs() <= 1e-4 * d.abs().max(1.0)));
    // Simard's alpha 34, sigma 4: displacements of about a pixel, neighbours alike.
    let mean_abs = field.iter().map(|v| v.abs()).sum::<f32>() / field.len() as f32;
    assert!((0.2..3.0).contains(&mean_abs), "mean |displacement| {mean_abs} px");
    let step = (0..27).map(|x| (field[x + 1] - field[x]).abs()).sum::<f32>() / 27.0;
    assert!(step < 0.5 * mean_abs, "a smooth field: neighbours differ by {step} px on average");
}

#[test]
fn images_over_the_workgroup_field_are_refused() {
    let gpu = gpu();
    let k = Augment::new(gpu).unwrap();
    let b = gpu.storage("b", 32 * 32 * 2);
    let v = View::whole(&b);
    let views = GatherViews { images: v, all_labels: v, order: v, x: v, labels: v };
    let err = k.augment_batch(gpu, params(AugmentKind::Affine, 1, 29, 0), views).err().expect("29x29 refused");
    assert!(err.to_string().contains("784"), "{err}");
}

#[test]
fn bad_strengths_are_refused_naming_the_option() {
    let ok = Augmentation { kind: AugmentKind::Elastic, ..Augmentation::none() };
    assert!(ok.check().is_ok());
    for (bad, name) in [
        (Augmentation { shift: -1.0, ..ok }, "--shift"),
        (Augmentation { rotate: f32::NAN, ..ok }, "--rotate"),
        (Augmentation { zoom: 1.0, ..ok }, "--zoom"),
        (Augmentation { elastic_sigma: 0.0, ..ok }, "--elastic-sigma"),
    ] {
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
}
