//! `esmdb import --model M FILE.parquet…`: vectors computed elsewhere into the store's embedding
//! cache, under M's identity, so queries and studies find them as if esmdb had computed them.
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use esmdb_engine::{Model, StoreEmbedder};
use esmdb_store::{Embedder as _, ImportParams, ImportTarget, OutputKey, Pooling, Store};

use crate::args::ImportArgs;

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let pooling: Pooling = args.pool.parse().context("--pool")?;
    let layer = i32::try_from(args.layer).context("--layer is out of range")?;
    if args.commit_every == 0 {
        anyhow::bail!("--commit-every must be positive");
    }
    let params = ImportParams {
        sequence_col: args.sequence_col.clone(),
        id_col: args.id_col.clone(),
        dataset: args.dataset.clone(),
        vector_col: args.vector_col.clone(),
        batch_rows: args.commit_every,
    };
    super::store_admin::runtime()?.block_on(async {
        let store = Store::open_or_create(&args.store.store).await?;
        // The model gives the identity (name and weights checksum), the width and the layers.
        let loaded = esmdb_model::load(&args.model, &super::embed::load_options(&args.runtime)?)?;
        let precision = args.runtime.precision.parse()?;
        let embedder = StoreEmbedder::new(Arc::new(Model::new(loaded, precision)), 1, None);
        let n = embedder.num_layers();
        let resolved = embedder.resolve_layer(layer).with_context(|| {
            format!("--layer {layer} is out of range for a {n}-layer model (0..={n} or -1..=-{})", n + 1)
        })?;
        let target = ImportTarget {
            model_id: embedder.model_id().to_owned(),
            dim: embedder.dim(),
            key: OutputKey { layer: resolved, pooling },
        };
        let started = std::time::Instant::now();
        let bar = crate::progress::sequences(0, "importing");
        let report = store
            .import_vectors(&args.files, &target, &params, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
        bar.finish_and_clear();
        eprintln!(
            "esmdb: imported {} vectors as {} layer {} {}: {} added, {} already cached ({} commits) in {:.1}s",
            report.rows,
            target.model_id,
            resolved,
            pooling,
            report.written,
            report.already_cached,
            report.commits,
            started.elapsed().as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    })
}
