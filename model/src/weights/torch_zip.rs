//! Reads `torch.save` zip archives (`archive/data.pkl` + `archive/data/<key>` storages) without
//! executing their pickle: tensors are rebuilt from `torch._utils._rebuild_tensor_v2` records.
use std::io::Read;
use std::path::Path;

use tch::{Kind, Tensor};

use super::pickle::{self, Value};
use crate::error::{Error, Result};

/// The decoded pickle and every tensor found in its state dict.
pub(crate) struct TorchFile {
    /// The whole unpickled object (tensors left as call records).
    pub root: Value,
    /// (state-dict key, tensor): from `root["model"]` when present (fair-esm), else from `root`.
    pub tensors: Vec<(String, Tensor)>,
}

/// Whether the pickle's top-level dict has `key` (fair-esm v1 files have `args`, ESM2 files `cfg`),
/// without rebuilding any tensor.
pub(crate) fn has_root_key(path: &Path, key: &str) -> Result<bool> {
    let (_, _, root) = open(path)?;
    Ok(root.get(key).is_some())
}

/// The archive, its folder prefix and its decoded pickle.
fn open(path: &Path) -> Result<(zip::ZipArchive<std::fs::File>, String, Value)> {
    let bad = |message: String| Error::Weights { path: path.into(), message };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| bad(format!("not a torch.save zip archive ({e}); legacy (pre-1.6) files are not supported")))?;
    let pkl_name = zip
        .file_names()
        .map(str::to_owned)
        .find(|n| n.ends_with("data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| bad("no data.pkl in the archive".into()))?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_owned();
    let mut pkl = Vec::new();
    zip.by_name(&pkl_name)
        .and_then(|mut f| f.read_to_end(&mut pkl).map_err(Into::into))
        .map_err(|e| bad(format!("{pkl_name}: {e}")))?;
    let root = pickle::parse(&pkl).map_err(|e| bad(format!("{pkl_name}: {e}")))?;
    Ok((zip, prefix, root))
}

pub(crate) fn read(path: &Path) -> Result<TorchFile> {
    let bad = |message: String| Error::Weights { path: path.into(), message };
    let (mut zip, prefix, root) = open(path)?;

    let state = match root.get("model") {
        Some(m @ Value::Dict(_)) => m,
        _ => &root,
    };
    let Value::Dict(items) = state else {
        return Err(bad("the pickle holds no state dict".into()));
    };
    let mut tensors = Vec::with_capacity(items.len());
    for (key, value) in items {
        let (Value::Str(name), Some(record)) = (key, tensor_record(value)) else { continue };
        let tensor = rebuild(&mut zip, &prefix, record).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
        tensors.push((name.clone(), tensor));
    }
    Ok(TorchFile { root, tensors })
}

/// The `_rebuild_tensor_v2` argument tuple behind a state-dict value, if it is a tensor.
fn tensor_record(v: &Value) -> Option<&[Value]> {
    let Value::Call { callable, args, .. } = v else { return None };
    let Value::Global(module, name) = callable.as_ref() else { return None };
    let Value::Tuple(args) = args.as_ref() else { return None };
    match (module.as_str(), name.as_str()) {
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => Some(args),
        ("torch._utils", "_rebuild_parameter") => args.first().and_then(tensor_record),
        _ => None,
    }
}

fn rebuild(zip: &mut zip::ZipArchive<std::fs::File>, prefix: &str, args: &[Value]) -> Result<Tensor, String> {
    let [Value::PersistentId(pid), offset, Value::Tuple(size), Value::Tuple(stride), ..] = args else {
        return Err("unexpected tensor record".into());
    };
    let Value::Tuple(pid) = pid.as_ref() else { return Err("unexpected storage id".into()) };
    let [_, Value::Global(_, storage_type), Value::Str(key), _, numel] = pid.as_slice() else {
        return Err("unexpected storage id".into());
    };
    let (kind, elem) = match storage_type.as_str() {
        "FloatStorage" => (Kind::Float, 4),
        "HalfStorage" => (Kind::Half, 2),
        "BFloat16Storage" => (Kind::BFloat16, 2),
        "DoubleStorage" => (Kind::Double, 8),
        "LongStorage" => (Kind::Int64, 8),
        "IntStorage" => (Kind::Int, 4),
        "ByteStorage" => (Kind::Uint8, 1),
        "BoolStorage" => (Kind::Bool, 1),
        other => return Err(format!("unsupported storage type {other}")),
    };
    let numel = numel.as_int().ok_or("storage size is not an integer")?;
    let ints = |t: &[Value]| t.iter().map(|v| v.as_int().ok_or("non-integer size")).collect::<Result<Vec<i64>, _>>();
    let (size, stride) = (ints(size)?, ints(stride)?);
    let offset = offset.as_int().ok_or("non-integer storage offset")?;

    let entry = format!("{prefix}data/{key}");
    let mut bytes = Vec::new();
    zip.by_name(&entry)
        .map_err(|e| format!("{entry}: {e}"))?
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{entry}: {e}"))?;
    if bytes.len() as i64 != numel * elem {
        return Err(format!("{entry}: {} bytes, expected {} ({numel} elements)", bytes.len(), numel * elem));
    }
    // Every view must fit inside its storage.
    let last = offset + size.iter().zip(&stride).map(|(&n, &s)| (n - 1).max(0) * s).sum::<i64>();
    if size.iter().any(|&n| n < 0) || (size.iter().all(|&n| n > 0) && last >= numel) {
        return Err(format!("view {size:?}/{stride:?}+{offset} exceeds its storage of {numel} elements"));
    }
    let storage = Tensor::f_from_data_size(&bytes, &[numel], kind).map_err(|e| e.to_string())?;
    storage.f_as_strided(&size, &stride, Some(offset)).and_then(|t| t.f_contiguous()).map_err(|e| e.to_string())
}
