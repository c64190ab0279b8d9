//! The study run: ingest → fill the cache → fit (reusing finished parts) → files.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use esmdb_engine::{StoreEmbedder, fill};
use esmdb_model::ScoreMethod;
use esmdb_report::FoldRow;
use esmdb_sql::{EngineConfig, Session};
use esmdb_store::{EmbedParams, EmbedProgress, IngestParams, Pooling, Store};
use sha2::{Digest, Sha256};

use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::folds::{fit, fit_augmented, zero_shot, zero_shot_label};
use crate::outputs::{Outputs, Totals, write_outputs};
use crate::sources::DatasetSource;

/// What to study, and where.
#[derive(Debug, Clone)]
pub struct StudyParams {
    /// The store's URI.
    pub store: String,
    /// Datasets (see [`crate::dataset_sources`]).
    pub datasets: Vec<DatasetSource>,
    /// Models (names, Hugging Face directories or fair-esm `.pt` files).
    pub models: Vec<String>,
    /// Layer (negative counts from the end; -1 = last).
    pub layer: i32,
    /// Compressions (see [`crate::parse_compressions`]).
    pub compressions: Vec<Compression>,
    /// `lasso_cv_eval`'s options string (the paper's protocol by default: empty).
    pub protocol: String,
    /// Device, precision, token budget and threads for the engine; `model`/`layer`/`store` are set
    /// from the fields above.
    pub engine: EngineConfig,
    /// Output directory (`parts/` inside it holds finished fits).
    pub out: PathBuf,
    /// The paper's per-fold results, for the `ours_vs_published` figure.
    pub paper: Option<PathBuf>,
    /// Zero-shot scoring by this method: per dataset and model, the score's ρ and the augmented
    /// model (each compression plus the score), and the `zero_shot_vs_supervised` figure.
    pub zero_shot: Option<ScoreMethod>,
}

/// Callbacks for a front end's progress display; every method defaults to doing nothing.
pub trait Progress: Send {
    /// `added` new variants were ingested into `dataset`.
    fn ingested(&mut self, _dataset: &str, _added: usize) {}
    /// Cache fill of `dataset` with the model labelled `model`.
    fn embedding(&mut self, _dataset: &str, _model: &str, _progress: EmbedProgress) {}
    /// A fit of `what` starts; `done` of `total` are finished.
    fn fitting(&mut self, _what: &str, _done: usize, _total: usize) {}
    /// Every fit is finished.
    fn fitted(&mut self) {}
}

/// No progress display.
impl Progress for () {}

/// What a study run produced.
#[derive(Debug, Clone)]
pub struct StudyReport {
    /// Every per-fold row.
    pub rows: Vec<FoldRow>,
    /// Counters and time.
    pub totals: Totals,
    /// Summary, files written, figures skipped.
    pub outputs: Outputs,
}

/// The session settings a study runs under: the first model, the layer and the store of `params`,
/// the rest of `params.engine`.
pub fn session_config(params: &StudyParams) -> EngineConfig {
    EngineConfig {
        model: params.models.first().cloned().unwrap_or_default(),
        layer: i64::from(params.layer),
        store: params.store.clone(),
        ..params.engine.clone()
    }
}

/// Runs the study (see the crate doc) in this process. Resumable: finished fits are reused from
/// `out/parts/`, cached vectors from the store.
pub async fn run(params: &StudyParams, progress: &mut dyn Progress) -> Result<StudyReport> {
    let session = Session::open(session_config(params)).await?;
    run_in(&session, params, progress).await
}

/// Runs the study with `session` (opened with [`session_config`]), e.g. one whose queries run on a
/// cluster: there the cache is filled by a query, so the executors embed.
pub async fn run_in(session: &Session, params: &StudyParams, progress: &mut dyn Progress) -> Result<StudyReport> {
    esmdb_regress::ProtocolOptions::parse(&params.protocol)
        .map_err(|e| Error::Param { option: "--protocol", message: e.to_string() })?;
    let parts = params.out.join("parts");
    std::fs::create_dir_all(&parts).map_err(|source| Error::Io { path: parts.clone(), source })?;
    let started = Instant::now();
    let store = Store::open_or_create(&params.store).await?;
    let config = session_config(params);

    // 1. Ingest.
    for s in &params.datasets {
        if s.files.is_empty() {
            if store.dataset_info(&s.name).await?.is_none() {
                return Err(Error::UnknownDataset { name: s.name.clone(), store: store.uri().to_owned() });
            }
            continue;
        }
        let report = store.ingest(&s.name, &s.files, &IngestParams::default()).await?;
        if report.added > 0 {
            progress.ingested(&s.name, report.added);
        }
    }

    // 2. Fill the cache, model by model.
    let mut totals = Totals::default();
    let cached: Vec<Pooling> = params.compressions.iter().filter_map(|c| c.pooling()).collect();
    let names: Vec<String> = params.datasets.iter().map(|s| s.name.clone()).collect();
    let mut models = Vec::new();
    for name in &params.models {
        let key = config.model_key(name);
        let model = esmdb_engine::off_runtime(name, || esmdb_engine::model(&key))??;
        if !cached.is_empty() && session.is_distributed() {
            // The executors embed; what was embedded or found cached is in their logs.
            for &pooling in &cached {
                fill_by_query(session, &names, name, params.layer, pooling).await?;
            }
        } else if !cached.is_empty() {
            let embedder = StoreEmbedder::new(Arc::clone(&model), config.batch_tokens, None);
            let fill_params = EmbedParams {
                outputs: cached.iter().map(|&p| (params.layer, p)).collect(),
                batch_sequences: config.commit_every.max(1),
            };
            let label = esmdb_model::short_name(name);
            let done =
                fill::fill(&store, &names, &embedder, &fill_params, &mut |d, p| progress.embedding(d, &label, p))
                    .await?;
            for d in done {
                totals.embedded += d.report.embedded;
                totals.cache_hits += d.report.hits;
            }
        }
        models.push((name.clone(), model));
    }

    // 3. Fit, reusing finished parts; zero-shot rows first (the score's table is cached in the
    //    store, so the augmented fits that follow only look it up).
    let per_model = params.compressions.len() * if params.zero_shot.is_some() { 2 } else { 1 };
    let total = names.len() * models.len() * per_model;
    let mut rows: Vec<FoldRow> = Vec::new();
    for dataset in &names {
        let version = store.dataset_info(dataset).await?.map(|i| i.version).unwrap_or_default();
        for (name, model) in &models {
            let label = esmdb_model::short_name(name);
            if let Some(method) = params.zero_shot {
                progress.fitting(&format!("{dataset} · {label} · {}", zero_shot_label(method)), totals.fits_run, total);
                rows.push(zero_shot(session, dataset, name, method).await?);
            }
            let fits = params.compressions.iter().map(|&c| (c, None)).chain(
                params.zero_shot.into_iter().flat_map(|m| params.compressions.iter().map(move |&c| (c, Some(m)))),
            );
            for (c, method) in fits {
                let tag = match method {
                    None => c.name().to_owned(),
                    Some(m) => format!("{}+{}", c.name(), zero_shot_label(m)),
                };
                let key = part_key(&model.id, params.layer, &tag, &params.protocol, dataset, version);
                let part = parts.join(format!("{dataset}__{label}__{}__{key}.csv", part_name(&tag)));
                let fold_rows = if part.is_file() {
                    totals.fits_reused += 1;
                    esmdb_report::read_results_csv(&part)?
                } else {
                    progress.fitting(&format!("{dataset} · {label} · {tag}"), totals.fits_run, total);
                    let r = match method {
                        None => fit(session, dataset, name, params.layer, c, &params.protocol).await?,
                        Some(m) => fit_augmented(session, dataset, name, params.layer, c, m, &params.protocol).await?,
                    };
                    esmdb_report::write_results_csv(&r, &part)?;
                    totals.fits_run += 1;
                    r
                };
                rows.extend(fold_rows);
            }
        }
    }
    progress.fitted();

    // 4. Files.
    totals.seconds = started.elapsed().as_secs_f64();
    let outputs = write_outputs(&params.out, &rows, &totals, params.paper.as_deref())?;
    Ok(StudyReport { rows, totals, outputs })
}

/// Fills the cache for `datasets` × `model` × `layer` × `pooling` with one query, wherever the
/// session runs it.
async fn fill_by_query(
    session: &Session,
    datasets: &[String],
    model: &str,
    layer: i32,
    pooling: Pooling,
) -> Result<()> {
    use esmdb_sql::quote;
    let names: Vec<String> = datasets.iter().map(|d| quote(d)).collect();
    let sql = format!(
        "SELECT count(esm2_embed_pooled(sequence, {}, {}, {layer})) AS n FROM (SELECT DISTINCT sequence FROM variants \
         WHERE dataset IN ({}))",
        quote(&pooling.to_string()),
        quote(model),
        names.join(", ")
    );
    session.sql(&sql).await?.collect().await?;
    Ok(())
}

/// What a finished part depends on: the weights, layer, compression (with its zero-shot tag),
/// protocol and dataset version.
fn part_key(model_id: &str, layer: i32, tag: &str, protocol: &str, dataset: &str, version: u64) -> String {
    let mut h = Sha256::new();
    h.update(format!("{model_id}\n{layer}\n{tag}\n{protocol}\n{dataset}\n{version}"));
    hex::encode(&h.finalize()[..6])
}

/// A tag as part of a file name: `mean+zero-shot(masked-marginals)` → `mean+zero-shot-masked-marginals`.
fn part_name(tag: &str) -> String {
    tag.replace('(', "-").replace(')', "")
}
