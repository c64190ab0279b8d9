//! `esmdb reproduce`: the paper's study — datasets × models × compressions under its LassoCV
//! protocol — in one resumable command.
//!
//! 1. Ingest what the store lacks (ingest is idempotent).
//! 2. Per model, fill the embedding cache for every dataset (only misses run the model).
//! 3. Per dataset × model × compression, run the SQL path
//!    (`lasso_cv_eval(compress_*(esm2_embed(sequence, model, layer)), target, protocol ORDER BY input_row)`)
//!    unless a finished part for the same inputs exists under `out/parts/`.
//! 4. Assemble `results.csv` (the paper's columns), `summary.csv`, figures, `run.json`.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use esmdb_report::FoldRow;
use esmdb_sql::datafusion::arrow::array::{Array, AsArray};
use esmdb_sql::datafusion::arrow::datatypes::{Float64Type, Int64Type};
use esmdb_sql::engine::{self, ModelKey, StoreEmbedder};
use esmdb_sql::{EngineConfig, Session};
use esmdb_store::{EmbedParams, IngestParams, Pooling, Store};
use sha2::{Digest, Sha256};

use crate::args::ReproduceArgs;

/// A dataset to study: its name and, when it comes from files, the files to ingest.
struct DatasetSource {
    name: String,
    files: Vec<PathBuf>,
}

pub fn run(args: ReproduceArgs) -> anyhow::Result<ExitCode> {
    let compressions = parse_compressions(&args.compress)?;
    // Checked before any work starts.
    esmdb_regress::ProtocolOptions::parse(&args.protocol).context("--protocol")?;
    let sources = dataset_sources(&args.datasets)?;
    std::fs::create_dir_all(args.out.join("parts")).with_context(|| format!("creating {}", args.out.display()))?;
    let started = std::time::Instant::now();
    super::store_admin::runtime()?.block_on(async {
        let store = Store::open_or_create(&args.store.store).await?;
        let options = EngineConfig {
            model: args.models[0].clone(),
            layer: i64::from(args.layer),
            device: args.device.clone(),
            precision: args.precision.clone(),
            batch_tokens: args.batch_tokens,
            threads: args.threads.unwrap_or(0),
            store: args.store.store.clone(),
            ..EngineConfig::default()
        };
        let session = Session::open(options.clone()).await?;
        let config = options;

        // 1. Ingest.
        for s in &sources {
            if s.files.is_empty() {
                if store.dataset_info(&s.name).await?.is_none() {
                    bail!(
                        "dataset `{}` is neither a file, a directory nor a dataset of the store {}",
                        s.name,
                        store.uri()
                    );
                }
                continue;
            }
            let report = store.ingest(&s.name, &s.files, &IngestParams::default()).await?;
            if report.added > 0 {
                eprintln!("esmdb: ingested `{}`: {} new variants", s.name, report.added);
            }
        }

        // 2. Embed cache misses, model by model.
        let mut totals = Totals::default();
        let cached: Vec<Pooling> = compressions.iter().filter_map(|c| c.pooling()).collect();
        let mut models = Vec::new();
        for name in &args.models {
            let key = ModelKey::new(name, &config);
            let model = tokio::task::spawn_blocking(move || engine::model(&key)).await??;
            if !cached.is_empty() {
                let embedder = StoreEmbedder::new(Arc::clone(&model), args.batch_tokens, None);
                let params =
                    EmbedParams { outputs: cached.iter().map(|&p| (args.layer, p)).collect(), batch_sequences: 256 };
                for s in &sources {
                    let bar = crate::progress::sequences(0, &format!("embedding {} with {}", s.name, label(name)));
                    let report = store
                        .embed_dataset(&s.name, &embedder, &params, &mut |p| {
                            bar.set_length(p.misses as u64);
                            bar.set_position(p.embedded as u64);
                        })
                        .await?;
                    bar.finish_and_clear();
                    totals.embedded += report.embedded;
                    totals.cache_hits += report.hits;
                }
            }
            models.push((name.clone(), model));
        }

        // 3. Fit, reusing finished parts.
        let jobs = sources.len() * models.len() * compressions.len();
        let bar = crate::progress::sequences(jobs as u64, "fitting");
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bar:30} {pos}/{len} fits [{elapsed_precise} < {eta_precise}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut rows: Vec<FoldRow> = Vec::new();
        for s in &sources {
            let version = store.dataset_info(&s.name).await?.map(|i| i.version).unwrap_or_default();
            for (name, model) in &models {
                for &c in &compressions {
                    let key = part_key(&model.id, args.layer, c, &args.protocol, &s.name, version);
                    let part =
                        args.out.join("parts").join(format!("{}__{}__{}__{key}.csv", s.name, label(name), c.name()));
                    let fold_rows = if part.is_file() {
                        totals.fits_reused += 1;
                        esmdb_report::read_results_csv(&part)?
                    } else {
                        bar.set_message(format!("fitting {} · {} · {}", s.name, label(name), c.name()));
                        let r = fit(&session, &s.name, name, args.layer, c, &args.protocol).await?;
                        esmdb_report::write_results_csv(&r, &part)?;
                        totals.fits_run += 1;
                        r
                    };
                    rows.extend(fold_rows);
                    bar.inc(1);
                }
            }
        }
        bar.finish_and_clear();

        // 4. Results, summary, figures.
        write_outputs(&args, &rows, &totals, started.elapsed().as_secs_f64())?;
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Default, serde::Serialize)]
struct Totals {
    embedded: usize,
    cache_hits: usize,
    fits_run: usize,
    fits_reused: usize,
}

/// The compressions `reproduce` knows, named as SWAT's `compressing_embeddings.py` names them
/// (the `Compression_method` column of the paper's results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Mean,
    Bos,
    Max,
    /// The first `k` principal-component scores (`pca1`, `pca1-2`).
    Pca(u32),
    /// iDCT quantization keeping `n` residue and `m` dimension coefficients (`iDCT1`..`iDCT3`).
    Idct {
        name: &'static str,
        n: u32,
        m: u32,
    },
}

/// `--compress` values: name, compression.
const COMPRESSIONS: &[(&str, Compression)] = &[
    ("mean", Compression::Mean),
    ("bos", Compression::Bos),
    ("max", Compression::Max),
    ("pca1", Compression::Pca(1)),
    ("pca1-2", Compression::Pca(2)),
    ("iDCT1", Compression::Idct { name: "iDCT1", n: 5, m: 44 }),
    ("iDCT2", Compression::Idct { name: "iDCT2", n: 10, m: 64 }),
    ("iDCT3", Compression::Idct { name: "iDCT3", n: 10, m: 128 }),
];

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Mean => "mean",
            Compression::Bos => "bos",
            Compression::Max => "max",
            Compression::Pca(1) => "pca1",
            Compression::Pca(_) => "pca1-2",
            Compression::Idct { name, .. } => name,
        }
    }

    /// The SQL expression compressing `embed` (an `esm2_embed` call).
    fn sql(self, embed: &str) -> String {
        match self {
            Compression::Mean | Compression::Bos | Compression::Max => format!("compress_{}({embed})", self.name()),
            Compression::Pca(k) => format!("compress_pca({embed}, {k})"),
            Compression::Idct { n, m, .. } => format!("compress_idct({embed}, {n}, {m})"),
        }
    }

    /// The pooled vector the store caches for this compression; the others need every residue's
    /// vector, computed on demand.
    fn pooling(self) -> Option<Pooling> {
        match self {
            Compression::Mean => Some(Pooling::Mean),
            Compression::Bos => Some(Pooling::Bos),
            Compression::Max | Compression::Pca(_) | Compression::Idct { .. } => None,
        }
    }
}

fn parse_compressions(names: &[String]) -> anyhow::Result<Vec<Compression>> {
    let mut out = Vec::new();
    for n in names {
        let wanted = n.trim();
        let wanted = if wanted.eq_ignore_ascii_case("maxpool") { "max" } else { wanted };
        let Some(&(_, c)) = COMPRESSIONS.iter().find(|(name, _)| name.eq_ignore_ascii_case(wanted)) else {
            let known: Vec<&str> = COMPRESSIONS.iter().map(|(name, _)| *name).collect();
            bail!("--compress: unknown compression `{wanted}`; expected one of {}", known.join(", "));
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Directories (paper layout), files, or store dataset names.
fn dataset_sources(items: &[String]) -> anyhow::Result<Vec<DatasetSource>> {
    let mut out: Vec<DatasetSource> = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let path = Path::new(item);
        if path.is_dir() {
            let found = esmdb_store::input::paper_layout(path)?;
            out.extend(found.into_iter().map(|(name, files)| DatasetSource { name, files }));
        } else if path.is_file() {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let name = stem.strip_suffix("_metadata").unwrap_or(&stem).to_owned();
            out.push(DatasetSource { name, files: vec![path.to_path_buf()] });
        } else {
            out.push(DatasetSource { name: item.to_owned(), files: Vec::new() });
        }
    }
    if out.is_empty() {
        bail!("--datasets: nothing given");
    }
    Ok(out)
}

/// A short name for a model argument: the last path component, without `.pt`.
fn label(model: &str) -> String {
    let last = Path::new(model.trim_end_matches('/')).file_name().map(|s| s.to_string_lossy().into_owned());
    let last = last.unwrap_or_else(|| model.to_owned());
    last.strip_suffix(".pt").unwrap_or(&last).to_owned()
}

/// What a finished part depends on: the weights, layer, compression, protocol and dataset version.
fn part_key(model_id: &str, layer: i32, c: Compression, protocol: &str, dataset: &str, version: u64) -> String {
    let mut h = Sha256::new();
    h.update(format!("{model_id}\n{layer}\n{}\n{protocol}\n{dataset}\n{version}", c.name()));
    hex::encode(&h.finalize()[..6])
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One dataset × model × compression through the SQL path.
async fn fit(
    session: &Session,
    dataset: &str,
    model: &str,
    layer: i32,
    c: Compression,
    protocol: &str,
) -> anyhow::Result<Vec<FoldRow>> {
    let sql = format!(
        "SELECT r['fold'], r['r2_train'], r['mae_train'], r['rmse_train'], r['r2_test'], r['mae_test'], \
         r['rmse_test'], r['rho_train'], r['rho_test'], r['n_nonzero'] FROM \
         (SELECT unnest(lasso_cv_eval({}, target, {} ORDER BY input_row)) AS r \
          FROM variants WHERE dataset = {}) ORDER BY 1",
        c.sql(&format!("esm2_embed(sequence, {}, {layer})", sql_str(model))),
        sql_str(protocol),
        sql_str(dataset)
    );
    let batches =
        session.sql(&sql).await?.collect().await.with_context(|| format!("fitting {dataset} with {model}"))?;
    let mut rows = Vec::new();
    for b in &batches {
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>();
        let int = |i: usize| b.column(i).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            rows.push(FoldRow {
                model: label(model),
                fold: int(0).value(r),
                r2_train: f(1).value(r),
                mae_train: f(2).value(r),
                rmse_train: f(3).value(r),
                r2_test: f(4).value(r),
                mae_test: f(5).value(r),
                rmse_test: f(6).value(r),
                rho_train: f(7).value(r),
                rho_test: f(8).value(r),
                n_nonzero: int(9).value(r),
                compression: c.name().to_owned(),
                dataset: dataset.to_owned(),
            });
        }
    }
    if rows.is_empty() || b_has_nulls(&batches) {
        bail!("fitting {dataset} with {model}: the dataset has no variants with a target");
    }
    Ok(rows)
}

fn b_has_nulls(batches: &[esmdb_sql::datafusion::arrow::record_batch::RecordBatch]) -> bool {
    batches.iter().any(|b| b.column(0).null_count() > 0)
}

fn write_outputs(args: &ReproduceArgs, rows: &[FoldRow], totals: &Totals, seconds: f64) -> anyhow::Result<()> {
    let out = &args.out;
    esmdb_report::write_results_csv(rows, out.join("results.csv"))?;
    let summary = esmdb_report::summarize(rows);
    esmdb_report::write_summary_csv(&summary, out.join("summary.csv"))?;
    let mut figures = vec![("r2_by_model_size", esmdb_report::r2_by_model_size(&summary))];
    if let Some(paper) = &args.paper {
        let published = esmdb_report::summarize(&esmdb_report::read_results_csv(paper)?);
        figures.push(("ours_vs_published", esmdb_report::ours_vs_published(&summary, &published)));
    }
    for (name, svg) in &figures {
        write_atomic(&out.join(format!("{name}.svg")), svg.as_bytes())?;
        write_atomic(&out.join(format!("{name}.png")), &esmdb_report::svg_to_png(svg)?)?;
    }
    let run = serde_json::json!({
        "embedded": totals.embedded,
        "cache_hits": totals.cache_hits,
        "fits_run": totals.fits_run,
        "fits_reused": totals.fits_reused,
        "seconds": seconds,
    });
    write_atomic(&out.join("run.json"), serde_json::to_string_pretty(&run)?.as_bytes())?;
    let mut stdout = std::io::stdout().lock();
    use std::io::Write;
    writeln!(stdout, "{}", esmdb_report::summary_table(&summary))?;
    eprintln!(
        "esmdb: embedded {} sequences ({} cache hits); {} fits run, {} reused; {:.1}s",
        totals.embedded, totals.cache_hits, totals.fits_run, totals.fits_reused, seconds
    );
    eprintln!("esmdb: results in {} (results.csv, summary.csv, figures .svg/.png, run.json)", out.display());
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_parse_by_swat_name_and_build_their_sql() {
        let names: Vec<String> = ["MEAN", "maxpool", "pca1-2", "idct3", "mean"].map(String::from).to_vec();
        let parsed = parse_compressions(&names).unwrap();
        let got: Vec<&str> = parsed.iter().map(|c| c.name()).collect();
        assert_eq!(got, ["mean", "max", "pca1-2", "iDCT3"], "SWAT's names, duplicates dropped");
        let sql: Vec<String> = parsed.iter().map(|c| c.sql("E")).collect();
        assert_eq!(sql, ["compress_mean(E)", "compress_max(E)", "compress_pca(E, 2)", "compress_idct(E, 10, 128)"]);
        assert_eq!(parsed.iter().map(|c| c.pooling().is_some()).collect::<Vec<_>>(), [true, false, false, false]);
        let err = parse_compressions(&["pca".into()]).unwrap_err().to_string();
        assert!(err.contains("`pca`") && err.contains("pca1, pca1-2, iDCT1"), "{err}");
    }
}
