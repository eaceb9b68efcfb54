//! Checkpoints as safetensors. The model file holds exactly PyTorch's `state_dict` of the
//! equivalent module (names, shapes, C-H-W flatten order), so `load_state_dict` takes it
//! as is; optimizer state for `--resume` goes to a separate file for the same reason.
//! Every write is atomic: temp file in the same directory, fsync, rename.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::model::{Arch, NetSpec, ParamLayout};

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint { path: path.to_path_buf(), reason: reason.into() }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable (best effort: not every platform can open a dir).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The number of values of `data` that are NaN or infinite.
fn non_finite(data: &[f32]) -> usize {
    data.iter().filter(|v| !v.is_finite()).count()
}

/// The first tensor of `layout` in `flat` with non-finite values, and how many it has.
pub fn first_non_finite(layout: &ParamLayout, flat: &[f32]) -> Option<(String, usize)> {
    layout.tensors.iter().map(|t| (t.name.clone(), non_finite(&flat[t.range()]))).find(|(_, n)| *n > 0)
}

/// Named f32 tensors plus string metadata, written atomically. A tensor with a NaN or an
/// infinity is refused (nothing is written): no checkpoint of a diverged model.
pub fn save_tensors(
    path: &Path,
    tensors: &[(&str, Vec<usize>, &[f32])],
    metadata: HashMap<String, String>,
) -> Result<()> {
    if let Some((name, _, data)) = tensors.iter().find(|(_, _, d)| non_finite(d) > 0) {
        let reason = format!("refusing to write tensor {name}: {} of its values are not finite", non_finite(data));
        return Err(bad(path, reason));
    }
    let views = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytemuck::cast_slice(data))
                .map_err(|e| bad(path, format!("tensor {name}: {e}")))?;
            Ok((name.to_string(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| bad(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// A loaded safetensors file: f32 tensors by name, and the metadata.
pub struct TensorFile {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
}

pub fn load_tensors(path: &Path) -> Result<TensorFile> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
    parse_tensors(path, &bytes)
}

/// [`load_tensors`] on a file's bytes (`path` names it in errors).
pub fn parse_tensors(path: &Path, bytes: &[u8]) -> Result<TensorFile> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(path, format!("not a safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| bad(path, format!("not a safetensors file: {e}")))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(path, format!("tensor {name} is {:?}, expected F32", view.dtype())));
        }
        // Copy through u8 chunks: the mmap'd data need not be 4-byte aligned.
        let data: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        // A NaN weight would not show: the kernels' max() drops NaNs, where PyTorch keeps them.
        let bad_values = non_finite(&data);
        if bad_values > 0 {
            return Err(bad(path, format!("tensor {name} holds {bad_values} non-finite values (NaN or infinity)")));
        }
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    Ok(TensorFile { tensors, metadata: header.metadata().clone().unwrap_or_default() })
}

/// Saves the flat parameter buffer as PyTorch-named tensors of `arch`'s layout.
pub fn save_model(path: &Path, arch: Arch, flat: &[f32], mut metadata: HashMap<String, String>) -> Result<()> {
    let layout = arch.layout();
    metadata.insert("format".into(), "pt".into()); // what transformers/safetensors expect
    metadata.insert("arch".into(), arch.checkpoint_name().into());
    let tensors: Vec<_> = layout.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone(), &flat[t.range()])).collect();
    save_tensors(path, &tensors, metadata)
}

/// Loads a model checkpoint of `arch` into a flat parameter vector of its layout, checking
/// the architecture, every tensor's presence and shape, and that no foreign tensor is present.
pub fn load_model(path: &Path, arch: Arch) -> Result<(Vec<f32>, HashMap<String, String>)> {
    model_from(path, load_tensors(path)?, arch)
}

/// `load_model` on a file already read from `path` (named in the errors).
fn model_from(path: &Path, file: TensorFile, arch: Arch) -> Result<(Vec<f32>, HashMap<String, String>)> {
    let layout = &arch.layout();
    let expected = arch.checkpoint_name();
    if let Some(found) = file.metadata.get("arch") {
        if found != expected {
            return Err(bad(path, format!("it holds a {found} model, expected {expected}")));
        }
    }
    let mut flat = vec![0.0; layout.padded_len];
    for t in &layout.tensors {
        let (shape, data) =
            file.tensors.get(t.name.as_str()).ok_or_else(|| bad(path, format!("tensor {} is missing", t.name)))?;
        if *shape != t.shape {
            return Err(bad(path, format!("tensor {} has shape {shape:?}, expected {:?}", t.name, t.shape)));
        }
        flat[t.range()].copy_from_slice(data);
    }
    if let Some(extra) = file.tensors.keys().find(|k| !layout.tensors.iter().any(|t| t.name == k.as_str())) {
        return Err(bad(path, format!("unexpected tensor {extra} (not part of {expected})")));
    }
    Ok((flat, file.metadata))
}

/// Loads a model checkpoint of whichever network its metadata names (LeNet-5 when it names
/// none), with the network options its recipe recorded.
pub fn load_any_model(path: &Path) -> Result<(NetSpec, ParamLayout, Vec<f32>)> {
    any_model_from(path, load_tensors(path)?)
}

/// [`load_any_model`] on a file's bytes (`path` names it in errors).
pub fn parse_any_model(path: &Path, bytes: &[u8]) -> Result<(NetSpec, ParamLayout, Vec<f32>)> {
    any_model_from(path, parse_tensors(path, bytes)?)
}

fn any_model_from(path: &Path, file: TensorFile) -> Result<(NetSpec, ParamLayout, Vec<f32>)> {
    let arch = match file.metadata.get("arch") {
        None => Arch::Lenet5,
        Some(name) => {
            Arch::from_checkpoint_name(name).ok_or_else(|| bad(path, format!("it holds an unknown {name} model")))?
        }
    };
    let (flat, meta) = model_from(path, file, arch)?;
    let squash = meta
        .get("recipe")
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .and_then(|r| serde_json::from_value(r.get("squash")?.clone()).ok())
        .unwrap_or_default();
    Ok((NetSpec { arch, squash }, arch.layout(), flat))
}
