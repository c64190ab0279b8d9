//! Models loaded once per process and shared by every caller.
//!
//! Models are looked up by [`ModelKey`] (name, device, precision, threads) in a process-wide
//! registry: the first caller that needs one loads it, every later one reuses it. Callers carry
//! only the key's strings; the handle is made where the work runs.
//!
//! A load that fails or panics leaves nothing behind: the next call tries again, and a panic is
//! caught on the loading thread, so it can neither poison the registry nor kill a long-lived
//! process (a notebook kernel).
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use esmdb_model::{EmbedOptions, LoadOptions, LoadedModel, LogProbs, Precision, ScoreMethod};
use esmdb_store::BoxError;

use crate::error::{Error, Result};
use crate::stats::stats;
use crate::thread::off_runtime;

/// The most libtorch threads a caller may ask for: libtorch takes the count as an `i32` and starts
/// that many threads, so a huge value would wrap or exhaust the process, not fail.
pub const MAX_THREADS: usize = 1024;

/// What identifies a loaded model in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelKey {
    /// Name or path as the user wrote it.
    pub model: String,
    /// Device string (`cpu`, `cuda:0`).
    pub device: String,
    /// Precision string (`fp32`, `bf16`, `fp16`).
    pub precision: String,
    /// libtorch threads (0 = libtorch's default).
    pub threads: usize,
}

/// A loaded model, shared by every caller of the process.
///
/// libtorch tensors are `Send` but not `Sync`, so the model sits behind a mutex: one forward pass at
/// a time, which is what libtorch's own intra-op threading wants anyway.
pub struct Model {
    inner: Mutex<LoadedModel>,
    /// Cache identity: `name@checksum`, plus `+bf16`/`+fp16` for reduced precision.
    pub id: String,
    /// Vector width.
    pub dim: usize,
    /// Transformer layers.
    pub num_layers: i64,
    /// Where its weights were read from.
    pub path: std::path::PathBuf,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("id", &self.id).field("dim", &self.dim).finish()
    }
}

type Registry = Mutex<HashMap<ModelKey, Arc<Model>>>;

fn registry() -> MutexGuard<'static, HashMap<ModelKey, Arc<Model>>> {
    static MODELS: OnceLock<Registry> = OnceLock::new();
    // The map is only ever inserted into after a complete load, so a panic elsewhere while the lock
    // was held cannot leave it half-updated: recover the guard instead of failing every later query.
    MODELS.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a process imposes on every model it loads, whatever a query asks: a cluster executor runs
/// on its machine's device with its share of the cores, while the queries it runs come from
/// clients that know neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessPins {
    /// Device for every model (`cpu`, `cuda:1`).
    pub device: Option<String>,
    /// libtorch threads for every model.
    pub threads: Option<usize>,
}

fn pins() -> &'static OnceLock<ProcessPins> {
    static PINS: OnceLock<ProcessPins> = OnceLock::new();
    &PINS
}

/// Pins this process's device and threads (once, before any model loads). Returns `false`, pinning
/// nothing, if the process was already pinned.
pub fn pin_process(p: ProcessPins) -> bool {
    pins().set(p).is_ok()
}

/// `key` under the process's pins.
fn pinned(key: &ModelKey) -> ModelKey {
    let mut key = key.clone();
    if let Some(p) = pins().get() {
        if let Some(device) = &p.device {
            key.device.clone_from(device);
        }
        if let Some(threads) = p.threads {
            key.threads = threads;
        }
    }
    key
}

/// The model for `key`, loading it on first use. Blocking (reads weights; may download a named
/// model from the hub): call it off the async runtime, e.g. inside [`crate::on_engine_thread`].
pub fn model(key: &ModelKey) -> Result<Arc<Model>> {
    let key = &pinned(key);
    let mut models = registry();
    if let Some(m) = models.get(key) {
        return Ok(Arc::clone(m));
    }
    let precision: Precision = key.precision.parse().map_err(|e| Error::Setting {
        name: "esmdb.precision",
        value: key.precision.clone(),
        message: format!("{e}"),
    })?;
    let device = esmdb_model::parse_device(&key.device).map_err(|e| Error::Setting {
        name: "esmdb.device",
        value: key.device.clone(),
        message: format!("{e}"),
    })?;
    // `SET` bounds this too; a key built in code (a front end's flag) reaches here unchecked.
    if key.threads > MAX_THREADS {
        return Err(Error::Setting {
            name: "esmdb.threads",
            value: key.threads.to_string(),
            message: format!("expected at most {MAX_THREADS}"),
        });
    }
    let options = LoadOptions { device: Some(device), precision, threads: (key.threads > 0).then_some(key.threads) };
    let loaded = off_runtime(&key.model, || esmdb_model::load(&key.model, &options))?
        .map_err(|e| unknown_model(&key.model, e))?;
    let model = Arc::new(Model::new(loaded, precision));
    stats().models_loaded.fetch_add(1, Ordering::Relaxed);
    models.insert(key.clone(), Arc::clone(&model));
    Ok(model)
}

/// A model's vector width and layer count, as planning needs them to type results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelShape {
    /// Vector width.
    pub dim: usize,
    /// Transformer layers.
    pub num_layers: i64,
}

/// The shape of `name` with as little I/O as possible, for planning:
///
/// - a model loaded earlier in this process: the registry;
/// - a published architecture name (`esm2_t6_8M_UR50D`): from the built-in table, no I/O at all
///   (the name fixes the architecture; weights are found and loaded only where the plan runs);
/// - a checkpoint directory: its `config.json` (a few hundred bytes, never the weights);
/// - otherwise (a fair-esm `.pt`, whose shape is only in its tensors): the model is loaded once and
///   kept in the registry, so execution finds it there.
pub fn model_shape(name: &str, key: &ModelKey) -> Result<ModelShape> {
    let key = &pinned(key);
    if let Some(m) = registry().get(key) {
        return Ok(ModelShape { dim: m.dim, num_layers: m.num_layers });
    }
    let bare = name.rsplit('/').next().unwrap_or(name);
    if !Path::new(name).exists()
        && let Some(c) = esmdb_model::architecture(bare)
    {
        return Ok(ModelShape { dim: c.hidden_size() as usize, num_layers: c.num_hidden_layers() });
    }
    let json = Path::new(name).join("config.json");
    if json.is_file() {
        let c = esmdb_model::weights::read_config(&json).map_err(|e| unknown_model(name, e))?;
        return Ok(ModelShape { dim: c.hidden_size() as usize, num_layers: c.num_hidden_layers() });
    }
    let m = model(key)?;
    Ok(ModelShape { dim: m.dim, num_layers: m.num_layers })
}

fn unknown_model(name: &str, e: esmdb_model::Error) -> Error {
    let message = match e {
        // Its own text names the model again.
        esmdb_model::Error::ModelNotFound { searched, .. } => format!("not found; searched: {}", searched.join(", ")),
        e => e.to_string(),
    };
    Error::UnknownModel { name: name.to_owned(), message }
}

/// Resolves a possibly negative layer of `model` (see [`esmdb_model::resolve_layer`]), or explains
/// the valid range.
pub fn resolve_layer(layer: i64, num_layers: i64, model: &str) -> Result<i64> {
    esmdb_model::resolve_layer(layer, num_layers).ok_or_else(|| Error::Layer {
        model: model.to_owned(),
        layer,
        num_layers,
    })
}

impl Model {
    /// Wraps a loaded model; the id gets the precision suffix so reduced-precision vectors never share
    /// cache rows with fp32 ones.
    pub fn new(model: LoadedModel, precision: Precision) -> Self {
        let mut id = model.id.clone();
        match precision {
            Precision::F32 => {}
            Precision::Bf16 => id.push_str("+bf16"),
            Precision::F16 => id.push_str("+fp16"),
        }
        let dim = model.embedder.dim();
        let num_layers = model.embedder.model().num_layers();
        let path = std::path::absolute(&model.path).unwrap_or_else(|_| model.path.clone());
        Model { inner: Mutex::new(model), id, dim, num_layers, path }
    }

    /// Runs the model: one flat buffer per requested (layer, pooling), in order.
    pub fn embed(
        &self,
        sequences: &[&str],
        layers: Vec<i64>,
        pooling: Vec<esmdb_model::Pooling>,
        batch_tokens: usize,
        truncate: Option<usize>,
    ) -> std::result::Result<esmdb_model::Embeddings, BoxError> {
        let options = EmbedOptions { layers, pooling, batch_tokens, truncate };
        let ids: Vec<String> = (0..sequences.len()).map(|i| format!("row{i}")).collect();
        let pairs: Vec<(&str, &str)> = ids.iter().map(String::as_str).zip(sequences.iter().copied()).collect();
        // A forward pass that panicked (caught by the engine thread) leaves the weights as they were:
        // later calls go on with the same model rather than failing for the rest of the process.
        let model = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let out = model.embedder.embed(&pairs, &options)?;
        drop(model);
        stats().forward_passes.fetch_add(sequences.len(), Ordering::Relaxed);
        Ok(out)
    }

    /// The per-position log-probability table of `sequence` by `method` (zero-shot scoring), counting
    /// its forward passes (one for `wt-marginals`, one per position for `masked-marginals`).
    pub fn log_probs(&self, sequence: &str, method: ScoreMethod, batch_tokens: usize) -> Result<LogProbs> {
        let model = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let out = model
            .embedder
            .log_probs("wild type", sequence, method, batch_tokens)
            .map_err(|e| Error::Engine { model: self.id.clone(), message: e.to_string() })?;
        drop(model);
        stats().forward_passes.fetch_add(method.forward_passes(out.length), Ordering::Relaxed);
        Ok(out)
    }
}
