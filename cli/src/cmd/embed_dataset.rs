//! `esmdb embed --dataset NAME --model M`: fill the store's embedding cache for a dataset, computing
//! only misses and committing batch by batch (an interrupted run resumes where it stopped).
use std::process::ExitCode;

use anyhow::Context;
use esmdb_store::{EmbedParams, Pooling};

use crate::args::EmbedArgs;
use esmdb_engine::{Model, StoreEmbedder};

pub fn run(args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let dataset = args.dataset.clone().context("--dataset is required here")?;
    if args.out.is_some() {
        anyhow::bail!("--out writes Parquet from --fasta; with --dataset the vectors go into the store");
    }
    if args.commit_every == 0 {
        anyhow::bail!("--commit-every must be positive");
    }
    let pooling = args
        .pool
        .iter()
        .map(|p| p.parse::<Pooling>())
        .collect::<Result<Vec<_>, _>>()
        .context("--pool with --dataset")?;
    let layers: Vec<i32> = if args.layers.is_empty() {
        vec![-1]
    } else {
        args.layers.iter().map(|&l| i32::try_from(l).context("--layer out of range")).collect::<Result<_, _>>()?
    };
    let outputs = layers.iter().flat_map(|&l| pooling.iter().map(move |&p| (l, p))).collect();
    let params = EmbedParams { outputs, batch_sequences: args.commit_every };
    let options = super::embed::embed_options(&args.layers, &["mean".to_owned()], &args.runtime)?;

    super::store_admin::runtime()?.block_on(async {
        // Open the store and find the dataset before loading the model.
        let store = super::store_admin::open(&args.store).await?;
        if store.dataset_info(&dataset).await?.is_none() {
            store.variants(&dataset, None).await?;
        }
        let loaded = esmdb_model::load(&args.model, &super::embed::load_options(&args.runtime)?)?;
        let precision = args.runtime.precision.parse()?;
        let model = std::sync::Arc::new(Model::new(loaded, precision));
        let embedder = StoreEmbedder::new(model, options.batch_tokens, options.truncate);
        let bar = crate::progress::sequences(0, "embedding");
        let done = esmdb_engine::fill::fill(&store, std::slice::from_ref(&dataset), &embedder, &params, &mut |_, p| {
            bar.set_length(p.misses as u64);
            bar.set_position(p.embedded as u64);
        })
        .await?;
        bar.finish_and_clear();
        for d in &done {
            let r = &d.report;
            eprintln!(
                "esmdb: `{}` with {}: {} variants, {} distinct sequences; embedded {}, cache hits {} ({} batches, {} vectors written) in {:.1}s",
                d.dataset,
                esmdb_store::Embedder::model_id(&embedder),
                r.requested,
                r.unique,
                r.embedded,
                r.hits,
                r.batches,
                r.vectors_written,
                d.seconds
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
