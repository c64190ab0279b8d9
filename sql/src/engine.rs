//! The ESM2 engine as the SQL layer uses it: models loaded once per process and shared, and the
//! bridge to the store's [`esmdb_store::Embedder`] trait (so the store never links libtorch).
//!
//! Models are looked up by [`ModelKey`] (name, device, precision, threads) in a process-wide
//! registry: the first query that needs one loads it, every later one reuses it. Functions carry
//! only the key's strings; the handle is made where the plan runs.
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use esmdb_model::{EmbedOptions, LoadOptions, LoadedModel, Precision};
use esmdb_store::{BoxError, OutputKey, Pooling};

use crate::error::{Error, Result};
use crate::options::EngineConfig;

/// What identifies a loaded model in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelKey {
    /// Name or path as the user wrote it.
    pub model: String,
    /// Device string (`cpu`, `cuda:0`).
    pub device: String,
    /// Precision string (`fp32`, `bf16`, `fp16`).
    pub precision: String,
    /// libtorch threads (0 = default).
    pub threads: usize,
}

impl ModelKey {
    /// The key for `model` under the session's device/precision/threads.
    pub fn new(model: &str, config: &EngineConfig) -> Self {
        ModelKey {
            model: model.to_owned(),
            device: config.device.clone(),
            precision: config.precision.clone(),
            threads: config.threads,
        }
    }
}

/// A loaded ESM2 model, shared by every query of the process.
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
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("id", &self.id).field("dim", &self.dim).finish()
    }
}

/// Counters of engine work, for progress reports and for tests that assert what was (not) computed.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Sequences passed through a model (one forward pass each).
    pub forward_passes: AtomicUsize,
    /// Sequences whose per-token output was computed (`esm2_embed` without pooling).
    pub per_token_sequences: AtomicUsize,
    /// Pooled vectors found in the store's cache.
    pub cache_hits: AtomicUsize,
}

/// A snapshot of [`EngineStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`EngineStats::forward_passes`].
    pub forward_passes: usize,
    /// See [`EngineStats::per_token_sequences`].
    pub per_token_sequences: usize,
    /// See [`EngineStats::cache_hits`].
    pub cache_hits: usize,
}

/// The process-wide engine counters.
pub fn stats() -> &'static EngineStats {
    static STATS: OnceLock<EngineStats> = OnceLock::new();
    STATS.get_or_init(EngineStats::default)
}

impl EngineStats {
    /// Current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            forward_passes: self.forward_passes.load(Ordering::Relaxed),
            per_token_sequences: self.per_token_sequences.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }
}

type Registry = Mutex<HashMap<ModelKey, Arc<Model>>>;

fn registry() -> &'static Registry {
    static MODELS: OnceLock<Registry> = OnceLock::new();
    MODELS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The model for `key`, loading it on first use. Blocking (reads weights): call it off the async
/// runtime.
pub fn model(key: &ModelKey) -> Result<Arc<Model>> {
    let mut models = registry().lock().map_err(|_| Error::Poisoned("model registry"))?;
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
    // `SET` bounds this too; a config built in code (a front end's flag) reaches here unchecked.
    if key.threads > crate::options::MAX_THREADS {
        return Err(Error::Setting {
            name: "esmdb.threads",
            value: key.threads.to_string(),
            message: format!("expected at most {}", crate::options::MAX_THREADS),
        });
    }
    let options = LoadOptions { device: Some(device), precision, threads: (key.threads > 0).then_some(key.threads) };
    let loaded = off_runtime(&key.model, || esmdb_model::load(&key.model, &options))?
        .map_err(|e| unknown_model(&key.model, e))?;
    let model = Arc::new(Model::new(loaded, precision));
    models.insert(key.clone(), Arc::clone(&model));
    Ok(model)
}

/// Width and layer count of `model` without loading its weights when its `config.json` is at hand
/// (used at planning time to type `esm2_embed`'s result). A `.pt` checkpoint is loaded (and kept).
pub fn model_shape(name: &str, config: &EngineConfig) -> Result<(usize, i64)> {
    let path = off_runtime(name, || esmdb_model::resolve::resolve(name))?.map_err(|e| unknown_model(name, e))?;
    let json = if path.is_dir() { Some(path.join("config.json")) } else { None };
    match json {
        Some(p) if p.is_file() => {
            let c = esmdb_model::Config::from_file(Path::new(&p)).map_err(|e| unknown_model(name, e))?;
            Ok((c.hidden_size as usize, c.num_hidden_layers))
        }
        _ => {
            let m = model(&ModelKey::new(name, config))?;
            Ok((m.dim, m.num_layers))
        }
    }
}

/// Runs `f` on the process's one engine thread ("esmdb-engine") and waits for its result without
/// blocking the runtime. The embedding functions run every forward pass (and the cache fill around
/// it) here.
///
/// Why one long-lived thread rather than tokio's blocking pool: libtorch allocates from the calling
/// thread's glibc malloc arena, and forward passes hopping between pool threads left an arena per
/// thread holding freed activations. A 5,000-variant `lasso_cv_eval(compress_mean(esm2_embed(…)))`
/// query peaked at 2.2 GiB that way and at 1.0 GiB with a single arena. Running the passes one at a
/// time costs nothing: each already uses every core through libtorch's own thread pool.
pub(crate) async fn on_engine_thread<T: Send + 'static>(
    model: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    type Job = Box<dyn FnOnce() + Send>;
    // `Sender` is `Sync`: every caller sends on the one channel without a lock.
    static ENGINE: OnceLock<std::sync::mpsc::Sender<Job>> = OnceLock::new();
    let sender = ENGINE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        // If the thread cannot be spawned, `rx` is dropped and every send below reports it.
        let _ = std::thread::Builder::new().name("esmdb-engine".into()).spawn(move || {
            for job in rx {
                job();
            }
        });
        tx
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    let gone = || Error::Engine { model: model.to_owned(), message: "the esmdb-engine thread is not running".into() };
    sender.send(job).map_err(|_| gone())?;
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => Err(panicked(model, "embedding", panic.as_ref())),
        Err(_) => Err(gone()),
    }
}

/// Runs `f` on a plain thread: model resolution may download from the hub with a blocking HTTP
/// client, which must not run (or be dropped) on a thread inside a tokio runtime. A panic there
/// (a malformed checkpoint the loader did not foresee) becomes an error of the query that named
/// the model, at planning too, instead of unwinding through DataFusion.
fn off_runtime<T: Send>(model: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| s.spawn(f).join()).map_err(|panic| panicked(model, "loading", panic.as_ref()))
}

fn panicked(model: &str, during: &str, panic: &(dyn std::any::Any + Send)) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::Engine { model: model.to_owned(), message: format!("{during} panicked: {what}") }
}

fn unknown_model(name: &str, e: esmdb_model::Error) -> Error {
    Error::UnknownModel { name: name.to_owned(), message: e.to_string() }
}

/// Resolves a possibly negative layer against `num_layers`, or explains the valid range.
pub fn resolve_layer(layer: i64, num_layers: i64, model: &str) -> Result<i64> {
    let resolved = if layer < 0 { num_layers + 1 + layer } else { layer };
    if (0..=num_layers).contains(&resolved) {
        Ok(resolved)
    } else {
        Err(Error::Layer { model: model.to_owned(), layer, num_layers })
    }
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
        let num_layers = model.embedder.model().config().num_hidden_layers;
        Model { inner: Mutex::new(model), id, dim, num_layers }
    }

    /// Runs the engine: one flat buffer per requested (layer, pooling), in order.
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
        let model = self.inner.lock().map_err(|_| "the model lock was poisoned by an earlier panic")?;
        let out = model.embedder.embed(&pairs, &options)?;
        drop(model);
        stats().forward_passes.fetch_add(sequences.len(), Ordering::Relaxed);
        Ok(out)
    }
}

/// A [`Model`] with batching options, as the store's [`esmdb_store::Embedder`].
///
/// The cache key's model id is the model's, extended by `+truncate<N>` when truncating, so vectors
/// computed differently never share cache rows.
pub struct StoreEmbedder {
    model: Arc<Model>,
    id: String,
    batch_tokens: usize,
    truncate: Option<usize>,
}

impl StoreEmbedder {
    /// Wraps `model` with a token budget and optional truncation.
    pub fn new(model: Arc<Model>, batch_tokens: usize, truncate: Option<usize>) -> Self {
        let mut id = model.id.clone();
        if let Some(n) = truncate {
            id.push_str(&format!("+truncate{n}"));
        }
        StoreEmbedder { model, id, batch_tokens, truncate }
    }
}

impl esmdb_store::Embedder for StoreEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.model.dim
    }

    fn num_layers(&self) -> i32 {
        self.model.num_layers as i32
    }

    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> std::result::Result<Vec<Vec<f32>>, BoxError> {
        // The engine computes layers × poolings in one pass; ask for the union, pick what was asked.
        let mut layers: Vec<i64> = outputs.iter().map(|k| i64::from(k.layer)).collect();
        layers.sort_unstable();
        layers.dedup();
        let mut pooling: Vec<esmdb_model::Pooling> = outputs.iter().map(|k| engine_pooling(k.pooling)).collect();
        pooling.sort_unstable();
        pooling.dedup();
        let mut out = self.model.embed(sequences, layers, pooling, self.batch_tokens, self.truncate)?;
        outputs
            .iter()
            .map(|k| {
                let i = out
                    .specs
                    .iter()
                    .position(|s| s.layer == i64::from(k.layer) && s.pooling == engine_pooling(k.pooling))
                    .ok_or_else(|| format!("engine returned no {} output for layer {}", k.pooling, k.layer))?;
                Ok(std::mem::take(&mut out.values[i]))
            })
            .collect()
    }
}

fn engine_pooling(p: Pooling) -> esmdb_model::Pooling {
    match p {
        Pooling::Mean => esmdb_model::Pooling::Mean,
        Pooling::Bos => esmdb_model::Pooling::Bos,
    }
}
