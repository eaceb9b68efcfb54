//! IDX files (LeCun's MNIST format), raw or gzip-compressed. Every defect is an
//! `Error::Data` naming the file and what is wrong with it.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Magic numbers: 0x00 0x00, type 0x08 (unsigned byte), then the number of dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

fn data_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Data { path: path.to_path_buf(), reason: reason.into() }
}

/// The most a gzip file may unpack to: 1 GiB, room for EMNIST's 814,255 images (638 MB)
/// and a bound on what a small, hostile file can make us allocate.
pub const MAX_UNPACKED: u64 = 1 << 30;

/// The file's bytes, gunzipped when they start with the gzip magic (1f 8b).
pub fn read_maybe_gz(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_UNPACKED + 1)
            .read_to_end(&mut out)
            .map_err(|e| data_error(path, format!("unreadable gzip data: {e}")))?;
        if out.len() as u64 > MAX_UNPACKED {
            return Err(data_error(path, format!("unpacks to more than {} MiB", MAX_UNPACKED >> 20)));
        }
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

fn header(path: &Path, raw: &[u8], magic: u32, dims: usize) -> Result<Vec<usize>> {
    let header_len = 4 + 4 * dims;
    if raw.len() < header_len {
        return Err(data_error(
            path,
            format!("truncated header: expected at least {header_len} bytes, found {}", raw.len()),
        ));
    }
    let word = |i: usize| u32::from_be_bytes(raw[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    if word(0) != magic {
        return Err(data_error(
            path,
            format!(
                "wrong magic number 0x{:08x}, expected 0x{magic:08x} (an IDX {} file)",
                word(0),
                if dims == 1 { "label" } else { "image" }
            ),
        ));
    }
    Ok((1..=dims).map(|i| word(i) as usize).collect())
}

fn body<'a>(path: &Path, raw: &'a [u8], offset: usize, expected: usize) -> Result<&'a [u8]> {
    let found = raw.len() - offset;
    if found < expected {
        return Err(data_error(path, format!("truncated: the header promises {expected} data bytes, found {found}")));
    }
    if found > expected {
        return Err(data_error(
            path,
            format!("{} unexpected bytes after the {expected} data bytes the header promises", found - expected),
        ));
    }
    Ok(&raw[offset..])
}

/// Images (N, rows, cols) as u8, from IDX bytes (`path` only names the source in errors).
pub fn read_idx_images(path: &Path, bytes: &[u8], side: usize) -> Result<(Vec<u8>, usize)> {
    let raw = read_maybe_gz(path, bytes)?;
    let dims = header(path, &raw, IMAGES_MAGIC, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows != side || cols != side {
        return Err(data_error(path, format!("images are {rows}x{cols}, expected {side}x{side}")));
    }
    let pixels = body(path, &raw, 16, n * rows * cols)?;
    Ok((pixels.to_vec(), n))
}

/// Labels (N) as u8, each checked to be < `classes`.
pub fn read_idx_labels(path: &Path, bytes: &[u8], classes: u8) -> Result<Vec<u8>> {
    let raw = read_maybe_gz(path, bytes)?;
    let n = header(path, &raw, LABELS_MAGIC, 1)?[0];
    let labels = body(path, &raw, 8, n)?;
    if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
        return Err(data_error(path, format!("label {l} at index {i} is not a class 0..={}", classes - 1)));
    }
    Ok(labels.to_vec())
}
