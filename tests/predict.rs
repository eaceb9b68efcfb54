//! `predict` on pictures as users draw them: MNIST's preprocessing makes a digit on
//! transparency, on white, as JPEG, off-centre or ten times larger read as the test
//! set's own 28x28 digit does.

mod common;

use std::sync::OnceLock;

use common::*;
use image::{GrayImage, ImageFormat, Luma, Rgba, RgbaImage};
use lenet_gpu::data::picture::{decode_picture, is_blank, Preprocess};
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::{Ctx, NetSpec};
use lenet_gpu::predict::predict;
use lenet_gpu::train::{Recipe, Trainer};
use pollster::FutureExt;

/// A model trained for one epoch on the full training set (about 97% accurate).
fn trained() -> &'static (Kernels, Vec<f32>, NetSpec) {
    static MODEL: OnceLock<(Kernels, Vec<f32>, NetSpec)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let train = Dataset::bundled(Split::Train).unwrap();
        // The images as they are: the tests' thresholds were set on this model.
        let augment = lenet_gpu::augment::Augmentation::none();
        let recipe = Recipe { epochs: 1, augment, ..Recipe::default_recipe() };
        let net = recipe.net();
        let mut t = Trainer::new(gpu(), recipe, &train).unwrap();
        t.train_epoch(&mut |_| {}).block_on().unwrap();
        (Kernels::new(gpu()).unwrap(), t.read_params().block_on().unwrap(), net)
    })
}

fn classes(inputs: &[Vec<f32>]) -> Vec<usize> {
    let (k, params, net) = trained();
    let layout = net.layout();
    let buf = gpu().storage_from("params", params);
    predict(&Ctx::new(gpu(), k, &layout, &buf), *net, inputs).block_on().unwrap().iter().map(|p| p.class).collect()
}

fn encode(img: impl Into<image::DynamicImage>, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.into().write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
    bytes
}

fn digit(test: &Dataset, i: usize) -> GrayImage {
    GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap()
}

/// The ways a user's picture of test digit `img` differs from MNIST's, as file bytes.
fn variants(img: &GrayImage) -> Vec<(&'static str, Vec<u8>)> {
    let inverted = GrayImage::from_fn(28, 28, |x, y| Luma([255 - img.get_pixel(x, y).0[0]]));
    // Dark ink whose alpha is the stroke: what drawing apps export.
    let on_transparency = RgbaImage::from_fn(28, 28, |x, y| Rgba([30, 30, 60, img.get_pixel(x, y).0[0]]));
    let mut off_centre = GrayImage::from_pixel(120, 90, Luma([255]));
    image::imageops::overlay(&mut off_centre, &inverted, 80, 4);
    let large = image::imageops::resize(&inverted, 280, 280, image::imageops::FilterType::CatmullRom);
    vec![
        ("as MNIST's PNG", encode(img.clone(), ImageFormat::Png)),
        ("RGBA on transparency", encode(on_transparency, ImageFormat::Png)),
        ("inverted on white", encode(inverted.clone(), ImageFormat::Png)),
        ("JPEG on white", encode(large.clone(), ImageFormat::Jpeg)),
        ("off-centre", encode(off_centre, ImageFormat::Png)),
        ("10x size", encode(large, ImageFormat::Png)),
    ]
}

fn prepared(bytes: &[u8]) -> Vec<f32> {
    decode_picture(std::path::Path::new("digit"), bytes, Preprocess::Mnist).unwrap()
}

#[test]
fn test_image_12_reads_as_9_however_it_is_drawn() {
    let test = Dataset::bundled(Split::Test).unwrap();
    assert_eq!(test.labels[12], 9);
    let (names, inputs): (Vec<_>, Vec<_>) =
        variants(&digit(&test, 12)).into_iter().map(|(n, b)| (n, prepared(&b))).unzip();
    let got = classes(&inputs);
    for (name, class) in names.iter().zip(&got) {
        assert_eq!(*class, 9, "{name}: {got:?}");
    }
}

#[test]
fn every_variant_of_the_first_hundred_digits_reads_as_the_digit_itself() {
    let test = Dataset::bundled(Split::Test).unwrap();
    let n = 100;
    let plain: Vec<Vec<f32>> = (0..n).map(|i| test.input(i)).collect();
    let expected = classes(&plain);
    let mut inputs = Vec::new();
    for i in 0..n {
        inputs.extend(variants(&digit(&test, i)).into_iter().map(|(_, b)| prepared(&b)));
    }
    let got = classes(&inputs);
    let per = got.len() / n;
    for v in 0..per {
        let agree = (0..n).filter(|&i| got[i * per + v] == expected[i]).count();
        // Re-centring by mass and re-scaling moves a few strokes by a pixel; a variant
        // that is read differently (no inversion, no alpha, no crop) agrees far less.
        assert!(agree >= 95, "variant {v}: {agree}/{n} agree with the 28x28 digit");
    }
}

#[test]
fn a_prepared_digit_fills_a_20_pixel_box_centred_by_its_mass() {
    let test = Dataset::bundled(Split::Test).unwrap();
    for (name, bytes) in variants(&digit(&test, 12)) {
        let x = prepared(&bytes);
        let mass: f32 = x.iter().sum();
        let (mut cx, mut cy) = (0.0, 0.0);
        let (mut rows, mut cols) = (Vec::new(), Vec::new());
        for (i, &v) in x.iter().enumerate() {
            let (r, c) = (i / 28, i % 28);
            cx += v * (c as f32 + 0.5);
            cy += v * (r as f32 + 0.5);
            if v > 0.1 {
                rows.push(r);
                cols.push(c);
            }
        }
        let (cx, cy) = (cx / mass, cy / mass);
        assert!((cx - 14.0).abs() <= 0.75 && (cy - 14.0).abs() <= 0.75, "{name}: centre of mass ({cx}, {cy})");
        let extent = |v: &[usize]| v.iter().max().unwrap() - v.iter().min().unwrap() + 1;
        let side = extent(&rows).max(extent(&cols));
        assert!((19..=21).contains(&side), "{name}: the digit's longer side is {side} pixels");
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)), "{name}: values in [0, 1]");
    }
}

#[test]
fn as_is_feeds_the_picture_resized_and_nothing_else() {
    let test = Dataset::bundled(Split::Test).unwrap();
    let img = digit(&test, 12);
    let x = decode_picture(std::path::Path::new("d.png"), &encode(img.clone(), ImageFormat::Png), Preprocess::AsIs)
        .unwrap();
    let expected: Vec<f32> = img.pixels().map(|p| p.0[0] as f32 / 255.0).collect();
    assert_close("as-is", &x, &expected, Tol { abs: 1e-6, rel: 0.0 });
}

#[test]
fn a_blank_picture_is_an_empty_input_and_a_broken_one_an_error() {
    let blank = prepared(&encode(GrayImage::from_pixel(50, 50, Luma([255])), ImageFormat::Png));
    assert!(blank.iter().all(|&v| v == 0.0));
    assert!(is_blank(&blank));
    // A blank scan's noise (a few grey levels either way) is not stretched into ink.
    let noise = uniform(&mut rng(5), 60 * 60, 236.0, 251.0);
    let noisy = GrayImage::from_raw(60, 60, noise.iter().map(|&v| v as u8).collect()).unwrap();
    for format in [ImageFormat::Png, ImageFormat::Jpeg] {
        let x = prepared(&encode(noisy.clone(), format));
        assert!(is_blank(&x), "{format:?}: noise read as ink");
    }
    let x = decode_picture(std::path::Path::new("b.png"), &encode(noisy, ImageFormat::Png), Preprocess::AsIs).unwrap();
    assert!(is_blank(&x), "as-is: a uniform picture has no digit");
    // A digit is not blank, however faint (a fifth of full ink on white).
    let test = Dataset::bundled(Split::Test).unwrap();
    let faint = GrayImage::from_fn(28, 28, |x, y| Luma([255 - test.image(12)[(y * 28 + x) as usize] / 5]));
    assert!(!is_blank(&prepared(&encode(faint, ImageFormat::Png))));
    let err = decode_picture(std::path::Path::new("broken.jpg"), b"\xff\xd8\xff not really", Preprocess::Mnist)
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.jpg") && err.contains("cannot read image"), "{err}");
}

/// The quick kernels (what a command runs on a cold shader cache) classify every test image
/// as the fast ones do, with probabilities within float rounding.
#[test]
fn the_quick_kernels_give_every_test_image_the_fast_kernels_class() {
    let (fast, params, net) = trained();
    let quick = Kernels::quick(gpu()).unwrap();
    let test = Dataset::bundled(Split::Test).unwrap();
    let images: Vec<Vec<f32>> = (0..test.len()).map(|i| test.input(i)).collect();
    let layout = net.layout();
    let buf = gpu().storage_from("params", params);
    let on = |k: &Kernels| predict(&Ctx::new(gpu(), k, &layout, &buf), *net, &images).block_on().unwrap();
    let (f, q) = (on(fast), on(&quick));
    let mut largest = 0f32;
    for (i, (f, q)) in f.iter().zip(&q).enumerate() {
        assert_eq!(f.class, q.class, "test image {i}");
        for (a, b) in f.probabilities.iter().zip(&q.probabilities) {
            largest = largest.max((a - b).abs());
        }
    }
    println!("10,000 test images: the same classes, probabilities within {largest:e}");
    assert!(largest < 1e-5, "{largest}");
}
