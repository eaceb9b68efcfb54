//! A user's picture as a network input: 28x28 grey values in [0, 1], white ink on black,
//! prepared as MNIST's digits were (LeCun et al.: each digit scaled into a 20x20 box
//! keeping its aspect ratio, anti-aliased, then placed in a 28x28 field with its centre of
//! mass at the centre), or fed as it is.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, Luma};

use crate::error::{Error, Result};

/// The side of the network's input.
pub const SIDE: u32 = 28;
/// The box MNIST scaled each digit into.
const BOX: u32 = 20;
/// A pixel is ink from this share of the brightest ink on.
const INK: f32 = 0.1;
/// A picture whose ink is less than this far from its background (in [0, 1] grey or
/// alpha) holds no digit: an empty canvas, a blank scan and its JPEG noise.
const MIN_CONTRAST: f32 = 0.1;

/// Whether a prepared input holds no digit: no two of its pixels differ by
/// [`MIN_CONTRAST`] (MNIST's preparation leaves such a picture all background).
pub fn is_blank(input: &[f32]) -> bool {
    let (lo, hi) = input.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    hi - lo < MIN_CONTRAST
}

/// How a picture becomes an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preprocess {
    /// As MNIST's digits: alpha or grey, inverted when the background is light, cropped to
    /// the ink, scaled into 20x20, centred by its centre of mass.
    #[default]
    Mnist,
    /// Grey, resized to 28x28, nothing else.
    AsIs,
}

/// The input from the picture file at `path`.
pub fn read_picture(path: &Path, preprocess: Preprocess) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot read image: {e}")))?;
    decode_picture(path, &bytes, preprocess)
}

fn bad(path: &Path, reason: String) -> Error {
    Error::Data { path: path.to_path_buf(), reason }
}

/// [`read_picture`] on a file's bytes (`path` names it in errors): PNG or JPEG. Pictures
/// past 8192 pixels a side or 256 MiB decoded are refused: a digit needs neither, and a
/// few hostile bytes could otherwise ask for gigabytes.
pub fn decode_picture(path: &Path, bytes: &[u8], preprocess: Preprocess) -> Result<Vec<f32>> {
    let cannot = |e: image::ImageError| bad(path, format!("cannot read image: {e}"));
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| cannot(image::ImageError::IoError(e)))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    Ok(prepare(&reader.decode().map_err(cannot)?, preprocess))
}

/// A picture's RGBA pixels (a canvas's `ImageData`, row-major, 4 bytes a pixel) as an
/// input, prepared as [`decode_picture`] prepares a file.
pub fn prepare_rgba(width: u32, height: u32, rgba: Vec<u8>, preprocess: Preprocess) -> Result<Vec<f32>> {
    let (expected, got) = (width as u64 * height as u64 * 4, rgba.len());
    let img = image::RgbaImage::from_raw(width, height, rgba)
        .filter(|_| width > 0 && height > 0)
        .ok_or_else(|| Error::Config(format!("{width}x{height} RGBA pixels are {expected} bytes, not {got}")))?;
    Ok(prepare(&DynamicImage::ImageRgba8(img), preprocess))
}

fn prepare(img: &DynamicImage, preprocess: Preprocess) -> Vec<f32> {
    match preprocess {
        Preprocess::Mnist => mnist_style(img),
        Preprocess::AsIs => as_is(img),
    }
}

type Grey = ImageBuffer<Luma<f32>, Vec<f32>>;

/// Grey, resized to 28x28.
fn as_is(img: &DynamicImage) -> Vec<f32> {
    let grey = image::imageops::resize(&img.to_luma32f(), SIDE, SIDE, image::imageops::FilterType::Triangle);
    grey.into_raw().iter().map(|v| v.clamp(0.0, 1.0)).collect()
}

/// The picture as ink in [0, 1] on a 0 background, at its own size: its alpha where it is
/// drawn on transparency (whatever the ink's colour), else its grey, inverted when the
/// border is light, the background level subtracted and the ink stretched to 1.
fn ink(img: &DynamicImage) -> Grey {
    let rgba = img.to_rgba32f();
    let (w, h) = rgba.dimensions();
    let transparent = rgba.pixels().filter(|p| p.0[3] < 0.5).count();
    if img.color().has_alpha() && transparent * 20 > (w * h) as usize {
        return ImageBuffer::from_fn(w, h, |x, y| Luma([rgba.get_pixel(x, y).0[3]]));
    }
    let grey = img.to_luma32f();
    let border: Vec<f32> = grey
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x + 1 == w || *y + 1 == h)
        .map(|(_, _, p)| p.0[0])
        .collect();
    let light = border.iter().sum::<f32>() / border.len().max(1) as f32 > 0.5;
    let ink = ImageBuffer::from_fn(w, h, |x, y| {
        let v = grey.get_pixel(x, y).0[0];
        Luma([if light { 1.0 - v } else { v }])
    });
    let mut levels: Vec<f32> = border.iter().map(|&v| if light { 1.0 - v } else { v }).collect();
    levels.sort_by(f32::total_cmp);
    let background = levels.get(levels.len() / 2).copied().unwrap_or(0.0);
    let top = ink.pixels().map(|p| p.0[0]).fold(background, f32::max);
    if top - background < MIN_CONTRAST {
        // Nothing to stretch but noise: the picture is blank.
        return ImageBuffer::new(w, h);
    }
    let span = top - background;
    ImageBuffer::from_fn(w, h, |x, y| Luma([((ink.get_pixel(x, y).0[0] - background) / span).clamp(0.0, 1.0)]))
}

/// MNIST's normalization of [`ink`]: cropped to the ink's bounding box, scaled so that its
/// longer side is 20 pixels, placed in 28x28 with its centre of mass at the centre.
fn mnist_style(img: &DynamicImage) -> Vec<f32> {
    let ink = ink(img);
    let mut field = vec![0.0f32; (SIDE * SIDE) as usize];
    let on: Vec<(u32, u32)> = ink.enumerate_pixels().filter(|(_, _, p)| p.0[0] > INK).map(|(x, y, _)| (x, y)).collect();
    if on.is_empty() {
        return field;
    }
    let (x0, x1) = (on.iter().map(|p| p.0).min().unwrap(), on.iter().map(|p| p.0).max().unwrap());
    let (y0, y1) = (on.iter().map(|p| p.1).min().unwrap(), on.iter().map(|p| p.1).max().unwrap());
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    let crop = image::imageops::crop_imm(&ink, x0, y0, w, h).to_image();
    let scale = BOX as f32 / w.max(h) as f32;
    let (sw, sh) = (((w as f32 * scale).round() as u32).max(1), ((h as f32 * scale).round() as u32).max(1));
    let digit = image::imageops::resize(&crop, sw, sh, image::imageops::FilterType::Triangle);
    // Centre of mass, pixel centres at i + 0.5; moved to the field's centre, 14.
    let mass: f32 = digit.pixels().map(|p| p.0[0].max(0.0)).sum::<f32>().max(1e-6);
    let com = |axis: fn(u32, u32) -> u32| {
        digit.enumerate_pixels().map(|(x, y, p)| p.0[0].max(0.0) * (axis(x, y) as f32 + 0.5)).sum::<f32>() / mass
    };
    let (cx, cy) = (com(|x, _| x), com(|_, y| y));
    let (dx, dy) = ((SIDE as f32 / 2.0 - cx).round() as i64, (SIDE as f32 / 2.0 - cy).round() as i64);
    for (x, y, p) in digit.enumerate_pixels() {
        let (fx, fy) = (x as i64 + dx, y as i64 + dy);
        if (0..SIDE as i64).contains(&fx) && (0..SIDE as i64).contains(&fy) {
            field[(fy * SIDE as i64 + fx) as usize] = p.0[0].clamp(0.0, 1.0);
        }
    }
    field
}

/// Writes a 28x28 input (values in [0, 1]) as a grey PNG, atomically: what the network saw.
pub fn save_input_png(path: &Path, input: &[f32]) -> Result<()> {
    let grey = image::GrayImage::from_fn(SIDE, SIDE, |x, y| {
        Luma([(input[(y * SIDE + x) as usize].clamp(0.0, 1.0) * 255.0).round() as u8])
    });
    let mut png = Vec::new();
    grey.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| bad(path, format!("encoding PNG: {e}")))?;
    crate::checkpoint::write_atomic(path, &png)
}
