//! The IDX reader on the bundled MNIST and on every kind of bad file, and the GPU's batch
//! gather from the resident dataset.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use lenet_gpu::data::{read_idx_images, read_idx_labels, Dataset, Split};
use lenet_gpu::gpu::View;
use lenet_gpu::kernels::data::{pack_bytes, Gather, GatherViews};
use lenet_gpu::shapes::GatherParams;
use rand::Rng;

fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        b.extend(d.to_be_bytes());
    }
    b.extend(pixels);
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 1];
    b.extend((labels.len() as u32).to_be_bytes());
    b.extend(labels);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn err_images(bytes: &[u8]) -> String {
    read_idx_images(Path::new("dir/imgs"), bytes, 28).expect_err("must be rejected").to_string()
}

#[test]
fn bundled_mnist_has_the_documented_counts() {
    let train = Dataset::bundled(Split::Train).unwrap();
    let test = Dataset::bundled(Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    // Label counts from assets/mnist/README.md.
    let count = |d: &Dataset| {
        let mut c = [0usize; 10];
        d.labels.iter().for_each(|&l| c[l as usize] += 1);
        c
    };
    assert_eq!(count(&train), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(count(&test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // Test image 0 is a 7 (the classic first test digit), with ink in the middle.
    assert_eq!(test.labels[0], 7);
    assert!(test.image(0).iter().filter(|&&p| p > 128).count() > 50);
}

#[test]
fn raw_and_gzip_files_read_the_same() {
    let pixels: Vec<u8> = (0..2 * 784).map(|i| (i % 251) as u8).collect();
    let raw = idx_images(2, 28, 28, &pixels);
    let (a, n) = read_idx_images(Path::new("raw"), &raw, 28).unwrap();
    let (b, _) = read_idx_images(Path::new("gz"), &gzip(&raw), 28).unwrap();
    assert_eq!((n, &a), (2, &pixels));
    assert_eq!(a, b);
}

#[test]
fn a_directory_with_raw_files_loads() {
    let dir = tempfile::tempdir().unwrap();
    let pixels = vec![7u8; 3 * 784];
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), idx_images(3, 28, 28, &pixels)).unwrap();
    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte.gz"), gzip(&idx_labels(&[1, 2, 9]))).unwrap();
    let d = Dataset::load(dir.path(), Split::Test).unwrap();
    assert_eq!(d.labels, [1, 2, 9]);
    assert_eq!(d.images, pixels);
}

#[test]
fn wrong_magic_is_named() {
    let mut b = idx_images(1, 28, 28, &[0; 784]);
    b[3] = 1; // a label file's magic
    let e = err_images(&b);
    assert!(e.contains("dir/imgs") && e.contains("magic") && e.contains("0x00000801"), "{e}");
}

#[test]
fn wrong_dimensions_are_named() {
    let e = err_images(&idx_images(1, 32, 32, &[0; 1024]));
    assert!(e.contains("32x32") && e.contains("28x28"), "{e}");
}

#[test]
fn truncated_files_say_expected_and_found_bytes() {
    let e = err_images(&idx_images(2, 28, 28, &[0; 784 + 100]));
    assert!(e.contains("1568") && e.contains("884") && e.contains("truncated"), "{e}");
    let e = err_images(&[0, 0, 8]);
    assert!(e.contains("truncated header"), "{e}");
}

#[test]
fn labels_out_of_range_are_named() {
    let e = read_idx_labels(Path::new("labs"), &idx_labels(&[1, 10, 3]), 10).unwrap_err().to_string();
    assert!(e.contains("labs") && e.contains("label 10 at index 1"), "{e}");
}

#[test]
fn unreadable_gzip_is_named() {
    let mut gz = gzip(&idx_images(1, 28, 28, &[0; 784]));
    gz.truncate(gz.len() / 2);
    let e = err_images(&gz);
    assert!(e.contains("gzip"), "{e}");
}

#[test]
fn image_label_count_mismatch_is_named() {
    let e = Dataset::from_bytes(
        Path::new("d/images"),
        &idx_images(2, 28, 28, &[0; 2 * 784]),
        Path::new("d/labels"),
        &idx_labels(&[1, 2, 3]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("3 labels") && e.contains("2 images"), "{e}");
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = Dataset::load(dir.path(), Split::Train).unwrap_err().to_string();
    assert!(e.contains("train-images-idx3-ubyte") && e.contains("not found"), "{e}");
}

#[test]
fn gather_batch_copies_the_ordered_samples() {
    let gpu = gpu();
    let k = Gather::new(gpu).unwrap();
    // (samples, image length, offset, batch): MNIST's 784 and the shortest image, 16.
    for (i, (samples, image_len, offset, batch)) in
        [(150u32, 784u32, 0u32, 100u32), (9, 784, 2, 3), (13, 16, 5, 1), (13, 16, 0, 13), (300, 0, 7, 257)]
            .into_iter()
            .enumerate()
    {
        let mut r = rng(i as u64);
        // Image length 0 gathers the labels alone (x keeps its NaNs).
        let images: Vec<u8> = (0..(samples * image_len).max(16)).map(|_| r.random()).collect();
        let labels: Vec<u32> = (0..samples).map(|_| r.random_range(0..10)).collect();
        let mut order: Vec<u32> = (0..samples).collect();
        order.reverse();
        order.rotate_left(i);
        let (gimages, glabels, gorder) = (
            gpu.storage_from("images", &pack_bytes(&images)),
            gpu.storage_from("labels", &labels),
            gpu.storage_from("order", &order),
        );
        let len = (batch * image_len) as usize;
        let (gx, gy) = (nan_buffer(gpu, "x", len.max(4)), gpu.storage_from("y", &vec![u32::MAX; batch as usize]));
        let views = GatherViews {
            images: View::whole(&gimages),
            all_labels: View::whole(&glabels),
            order: View::whole(&gorder),
            x: View::whole(&gx),
            labels: View::whole(&gy),
        };
        let p = GatherParams { offset, batch, image_len, _pad: 0 };
        run(gpu, k.gather_batch(gpu, p, views).unwrap());
        let picked = &order[offset as usize..(offset + batch) as usize];
        let want_x: Vec<f32> = picked
            .iter()
            .flat_map(|&s| &images[(s * image_len) as usize..((s + 1) * image_len) as usize])
            .map(|&b| b as f32 / 255.0)
            .collect();
        let want_labels: Vec<u32> = picked.iter().map(|&s| labels[s as usize]).collect();
        assert_close(&format!("gather_batch case {i}"), &read(gpu, &gx, len), &want_x, EXACT);
        if len == 0 {
            assert!(read(gpu, &gx, 4).iter().all(|v| v.is_nan()), "labels only, yet x was written");
        }
        assert_eq!(read_u32(gpu, &gy, batch as usize), want_labels, "labels, case {i}");
    }
}

#[test]
fn gather_batch_rejects_an_image_length_not_a_multiple_of_16() {
    let gpu = gpu();
    let b = gpu.storage("b", 64);
    let v = View::whole(&b);
    let views = GatherViews { images: v, all_labels: v, order: v, x: v, labels: v };
    let p = GatherParams { offset: 0, batch: 1, image_len: 20, _pad: 0 };
    let err = Gather::new(gpu).unwrap().gather_batch(gpu, p, views).err().unwrap();
    assert!(err.to_string().contains("not a multiple of 16"), "{err}");
}

#[test]
fn a_gzip_file_that_unpacks_past_the_bound_is_refused() {
    // A file of about 1 MB that unpacks to more than 1 GiB: refused once the bound is
    // passed, instead of filling memory with it.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 24];
    for _ in 0..=(lenet_gpu::data::idx::MAX_UNPACKED >> 24) {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 8 << 20, "{} bytes", bomb.len());
    let err = err_images(&bomb);
    assert!(err.contains("unpacks to more than 1024 MiB"), "{err}");
}
