//! Arrays that leave lenet-gpu: NumPy's `.npy` (one array) and `.npz` (named arrays, a
//! zip of `.npy` files stored as `numpy.savez` stores them), which `numpy.load` reads in
//! one line and PyTorch and Captum users load into tensors. npyz writes each array, the
//! zip crate the archive.

use std::io::{Cursor, Write};
use std::path::Path;

use npyz::WriterBuilder;
use zip::write::SimpleFileOptions;

use crate::checkpoint::write_atomic;
use crate::error::{Error, Result};

/// One f32 array in C order (row-major), its shape as NumPy gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    pub name: String,
    pub shape: Vec<u64>,
    pub data: Vec<f32>,
}

impl NamedArray {
    pub fn new(name: impl Into<String>, shape: &[u32], data: Vec<f32>) -> Self {
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        debug_assert_eq!(shape.iter().product::<u64>(), data.len() as u64, "shape and data agree");
        NamedArray { name: name.into(), shape, data }
    }
}

/// Writes `array` as a `.npy` file to `out`.
fn write_npy(out: impl Write, array: &NamedArray) -> std::io::Result<()> {
    let mut w = npyz::WriteOptions::new().default_dtype().shape(&array.shape).writer(out).begin_nd()?;
    w.extend(array.data.iter().copied())?;
    w.finish()
}

/// `array` as the bytes of a `.npy` file (`<f4`, C order).
pub fn npy_bytes(array: &NamedArray) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    write_npy(&mut bytes, array)?;
    Ok(bytes)
}

/// `arrays` as the bytes of an `.npz` file: `<name>.npy` entries, uncompressed.
pub fn npz_bytes(arrays: &[NamedArray]) -> std::result::Result<Vec<u8>, zip::result::ZipError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for a in arrays {
        zip.start_file(format!("{}.npy", a.name), stored)?;
        write_npy(&mut zip, a)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// NumPy's two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayFormat {
    /// One array.
    Npy,
    /// Named arrays.
    Npz,
}

impl ArrayFormat {
    /// The format `path`'s extension asks for (`--save` names the option in the error).
    pub fn of(path: &Path) -> Result<ArrayFormat> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("npy") => Ok(ArrayFormat::Npy),
            Some("npz") => Ok(ArrayFormat::Npz),
            _ => Err(Error::Config(format!("--save {}: give a file ending in .npy or .npz", path.display()))),
        }
    }
}

/// Writes `arrays` to `path` by its extension (atomically): `.npz` holds them all by name,
/// `.npy` the first alone (the main one: the attribution, the map).
pub fn save_arrays(path: &Path, arrays: &[NamedArray]) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| Error::Data { path: path.to_path_buf(), reason: format!("encoding: {e}") };
    let bytes = match ArrayFormat::of(path)? {
        ArrayFormat::Npy => npy_bytes(arrays.first().expect("at least one array")).map_err(|e| failed(&e))?,
        ArrayFormat::Npz => npz_bytes(arrays).map_err(|e| failed(&e))?,
    };
    write_atomic(path, &bytes)
}
