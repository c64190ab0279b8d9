//! The embedding cache as every front end uses it: "the vectors of these sequences, computing the
//! misses" ([`vectors`]), over store handles opened once per process and store ([`store`]).
//!
//! SQL's `embed` functions, the CLI, the study and the notebooks all come here, so a cache hit costs
//! the same everywhere: a lookup through the cache's key index that reads the asked rows only
//! (`esmdb_store::index`), however many vectors the store holds.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};

use esmdb_store::{EmbedProgress, EmbedReport, Pooling, Store};

use crate::embedder::StoreEmbedder;
use crate::error::{Error, Result};

/// The store at `uri`, created when absent, opened once per process: later calls return a clone
/// of the same handle (on an object store, opening lists the root; a handle also keeps the indexes
/// it has read cached). A handle always reads a table's latest version.
pub async fn store(uri: &str) -> Result<Store> {
    static OPEN: OnceLock<Mutex<HashMap<String, Store>>> = OnceLock::new();
    let open = OPEN.get_or_init(Mutex::default);
    if let Some(store) = open.lock().ok().and_then(|m| m.get(uri).cloned()) {
        return Ok(store);
    }
    let store = Store::open_or_create(uri)
        .await
        .map_err(|source| Error::Cache { store: uri.to_owned(), source: Box::new(source) })?;
    if let Ok(mut m) = open.lock() {
        m.entry(uri.to_owned()).or_insert_with(|| store.clone());
    }
    Ok(store)
}

/// One cached vector per sequence of `sequences` (normalized), in order, for (`layer`, `pooling`)
/// of `embedder`'s model: hits read from `store`, misses embedded and committed `commit_every` at a
/// time, so an interrupted call keeps its finished batches. `progress` hears the plan and each
/// commit. Runs the forward passes on the calling thread (see [`crate::fill::fill`]).
pub async fn vectors(
    store: &Store,
    embedder: &StoreEmbedder,
    sequences: &[&str],
    layer: i32,
    pooling: Pooling,
    commit_every: usize,
    progress: &mut (dyn FnMut(EmbedProgress) + Send),
) -> Result<(Vec<Vec<f32>>, EmbedReport)> {
    let (vectors, report) = store
        .get_or_embed(sequences, embedder, layer, pooling, commit_every.max(1), progress)
        .await
        .map_err(|source| Error::Cache { store: store.uri().to_owned(), source: Box::new(source) })?;
    crate::stats().cache_hits.fetch_add(report.hits, Ordering::Relaxed);
    if report.embedded > 0 {
        record_model(store, embedder).await;
    }
    Ok((vectors, report))
}

/// Records `embedder`'s model in the store's `models` table (once per process, store and model),
/// so a later session without a model takes it. A failure is logged: the vectors are cached.
pub(crate) async fn record_model(store: &Store, embedder: &StoreEmbedder) {
    use esmdb_store::Embedder as _;
    static RECORDED: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    let key = (store.uri().to_owned(), embedder.model_id().to_owned());
    let recorded = RECORDED.get_or_init(Mutex::default);
    if recorded.lock().is_ok_and(|r| r.contains(&key)) {
        return;
    }
    let source = embedder.model().path.display().to_string();
    match store.record_model(embedder.model_id(), &source, embedder.dim()).await {
        Ok(_) => {
            if let Ok(mut r) = recorded.lock() {
                r.insert(key);
            }
        }
        Err(e) => tracing::warn!(model = key.1, store = key.0, error = %e, "could not record the model"),
    }
}
