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

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one,
/// with the permissions a plain `File::create` would give it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = tempfile::Builder::new();
    // The mode a plain create gives (0666 less the umask), not the temp file's 0600: a
    // colleague, a web server or a container reads what the program writes.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
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
    write_atomic(path, &serialize_tensors(path, tensors, metadata)?)
}

/// [`save_tensors`]' file as bytes (`path` names it in errors): what a browser downloads.
pub fn serialize_tensors(
    path: &Path,
    tensors: &[(&str, Vec<usize>, &[f32])],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
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
    safetensors::serialize(views, Some(metadata)).map_err(|e| bad(path, e.to_string()))
}

/// A loaded safetensors file: f32 tensors by name, and the metadata.
pub struct TensorFile {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
    /// The element types other than F32 the tensors were stored in (read as f32).
    pub converted_from: Vec<Dtype>,
}

/// A tensor's values as f32, from F32, F16, BF16 or F64 little-endian bytes (the mmap'd
/// data need not be aligned, so through byte chunks).
fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    let chunks = |n: usize| data.chunks_exact(n);
    Some(match dtype {
        Dtype::F32 => chunks(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
        Dtype::F16 => chunks(2).map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32()).collect(),
        Dtype::BF16 => chunks(2).map(|c| half::bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32()).collect(),
        Dtype::F64 => chunks(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect(),
        _ => return None,
    })
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
    let mut converted_from = Vec::new();
    for (name, view) in st.tensors() {
        let dtype = view.dtype();
        let data = to_f32(dtype, view.data())
            .ok_or_else(|| bad(path, format!("tensor {name} is {dtype:?}; F32, F16, BF16 or F64 are read")))?;
        if dtype != Dtype::F32 && !converted_from.contains(&dtype) {
            converted_from.push(dtype);
        }
        // A NaN weight would not show: the kernels' max() drops NaNs, where PyTorch keeps them.
        let bad_values = non_finite(&data);
        if bad_values > 0 {
            return Err(bad(path, format!("tensor {name} holds {bad_values} non-finite values (NaN or infinity)")));
        }
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    Ok(TensorFile { tensors, metadata: header.metadata().clone().unwrap_or_default(), converted_from })
}

/// Saves the flat parameter buffer as PyTorch-named tensors of `arch`'s layout.
pub fn save_model(path: &Path, arch: Arch, flat: &[f32], metadata: HashMap<String, String>) -> Result<()> {
    write_atomic(path, &model_bytes(path, arch, flat, metadata)?)
}

/// [`save_model`]'s file as bytes (`path` names it in errors).
pub fn model_bytes(path: &Path, arch: Arch, flat: &[f32], mut metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let layout = arch.layout();
    metadata.insert("format".into(), "pt".into()); // what transformers/safetensors expect
    metadata.insert("arch".into(), arch.checkpoint_name().into());
    let tensors: Vec<_> = layout.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone(), &flat[t.range()])).collect();
    serialize_tensors(path, &tensors, metadata)
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

/// A model checkpoint of either network, as read.
pub struct ModelFile {
    pub net: NetSpec,
    pub layout: ParamLayout,
    pub params: Vec<f32>,
    pub metadata: HashMap<String, String>,
    /// Said when the file stored another float type than f32 (what it was read as).
    pub note: Option<String>,
}

/// Loads a model checkpoint of whichever network its metadata names; without metadata
/// (PyTorch's `save_file(model.state_dict())`), of the network whose tensor names it has.
/// F16, BF16 and F64 tensors are read as f32.
pub fn load_model_file(path: &Path) -> Result<ModelFile> {
    model_file_from(path, load_tensors(path)?)
}

/// [`load_model_file`], returning (network, layout, flat parameters).
pub fn load_any_model(path: &Path) -> Result<(NetSpec, ParamLayout, Vec<f32>)> {
    load_model_file(path).map(|m| (m.net, m.layout, m.params))
}

/// [`load_any_model`] on a file's bytes (`path` names it in errors).
pub fn parse_any_model(path: &Path, bytes: &[u8]) -> Result<(NetSpec, ParamLayout, Vec<f32>)> {
    parse_model_file(path, bytes).map(|m| (m.net, m.layout, m.params))
}

/// [`load_model_file`] on a file's bytes (`path` names it in errors).
pub fn parse_model_file(path: &Path, bytes: &[u8]) -> Result<ModelFile> {
    model_file_from(path, parse_tensors(path, bytes)?)
}

/// The network a file holds: its `arch` metadata, or the one whose first tensor it has.
fn arch_of(path: &Path, file: &TensorFile) -> Result<Arch> {
    if let Some(name) = file.metadata.get("arch") {
        return Arch::from_checkpoint_name(name).ok_or_else(|| bad(path, format!("it holds an unknown {name} model")));
    }
    let archs = [Arch::Lenet5, Arch::Lenet1998];
    let first_tensor = |a: Arch| a.layout().tensors[0].name.clone();
    archs.into_iter().find(|&a| file.tensors.contains_key(&first_tensor(a))).ok_or_else(|| {
        let names = archs.map(|a| format!("{} ({}, …)", a.checkpoint_name(), first_tensor(a)));
        bad(path, format!("no arch metadata, and its tensors are neither {}'s nor {}'s", names[0], names[1]))
    })
}

fn model_file_from(path: &Path, file: TensorFile) -> Result<ModelFile> {
    let arch = arch_of(path, &file)?;
    let note = (!file.converted_from.is_empty()).then(|| {
        let types: Vec<String> = file.converted_from.iter().map(|d| format!("{d:?}")).collect();
        format!("{}: {} tensors read as f32", path.display(), types.join(", "))
    });
    let (params, metadata) = model_from(path, file, arch)?;
    // The network's options from the recipe it was trained with (none: the defaults).
    let recipe = metadata.get("recipe").and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok());
    let option = |name: &str| recipe.as_ref().and_then(|r| r.get(name)).cloned().unwrap_or_default();
    let squash = serde_json::from_value(option("squash")).unwrap_or_default();
    let input_scale = serde_json::from_value(option("input_scale")).unwrap_or_default();
    Ok(ModelFile { net: NetSpec { arch, squash, input_scale }, layout: arch.layout(), params, metadata, note })
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_writes_get_the_mode_of_a_plain_create() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let written = dir.path().join("written");
        super::write_atomic(&written, b"x").unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&written), mode(&plain), "0{:o} against 0{:o}", mode(&written), mode(&plain));
    }
}
