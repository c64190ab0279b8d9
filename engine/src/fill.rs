//! Filling the store's embedding cache for whole datasets: what `esmdb embed --dataset`,
//! `esmdb reproduce` and the notebooks' `db.embed(…)` share. Only misses run the model; each batch
//! is one commit, so an interrupted fill resumes where it stopped.
use std::time::Instant;

use esmdb_store::{EmbedParams, EmbedProgress, EmbedReport, Embedder as _, Store};

use crate::embedder::StoreEmbedder;
use crate::error::{Error, Result};

/// What one dataset's fill did.
#[derive(Debug, Clone)]
pub struct DatasetFill {
    /// The dataset.
    pub dataset: String,
    /// The store's report.
    pub report: EmbedReport,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Fills the cache of `store` for each of `datasets` in turn with `embedder`.
///
/// `progress` hears `(dataset, progress)` after planning each dataset and after every committed
/// batch. Runs the forward passes on the calling thread: call it from a blocking context that may
/// block on the store's async I/O (the CLI's runtime, or [`crate::on_engine_thread`]).
pub async fn fill(
    store: &Store,
    datasets: &[String],
    embedder: &StoreEmbedder,
    params: &EmbedParams,
    progress: &mut (dyn FnMut(&str, EmbedProgress) + Send),
) -> Result<Vec<DatasetFill>> {
    let mut done = Vec::with_capacity(datasets.len());
    for dataset in datasets {
        let started = Instant::now();
        let report =
            store.embed_dataset(dataset, embedder, params, &mut |p| progress(dataset, p)).await.map_err(|source| {
                Error::Fill {
                    dataset: dataset.clone(),
                    model: embedder.model_id().to_owned(),
                    source: Box::new(source),
                }
            })?;
        if report.embedded > 0 {
            crate::cache::record_model(store, embedder).await;
        }
        done.push(DatasetFill { dataset: dataset.clone(), report, seconds: started.elapsed().as_secs_f64() });
    }
    Ok(done)
}
