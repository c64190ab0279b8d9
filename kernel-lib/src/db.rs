//! [`Db`]: an esmdb store opened from a notebook, with SQL, ingest, embedding and cache statistics.
//!
//! Why every call opens its own runtime and SQL session: evcxr compiles each cell into its own
//! shared library, and each library carries its own copy of tokio, DataFusion and Lance with their
//! own thread-locals and statics. A runtime or session made by one cell and driven by the code of a
//! later cell panics ("no reactor running") the first time the old code spawns a task. So [`Db`]
//! keeps only plain data — the store location and the statements that define the session
//! (`SET`, `CREATE …`, `DROP …`) — and every call builds a fresh runtime and session from it, in
//! the calling cell's own code. Opening a session is cheap (no table is read until a query names it);
//! the model is loaded once per cell that uses it.
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use esmdb_engine::fill::DatasetFill;
use esmdb_engine::{self as engine, Model, StoreEmbedder};
use esmdb_sql::datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use esmdb_sql::datafusion::sql::parser::DFParser;
use esmdb_sql::datafusion::sql::sqlparser::dialect::dialect_from_str;
use esmdb_sql::{EngineConfig, Session};
use esmdb_store::{EmbedParams, EmbedProgress, IngestParams, IngestReport, Pooling, Store};

use crate::display::{emit_owned, escape, say, simple_table};
use crate::error::{Result, wrap};
use crate::figure::{self, Figure};
use crate::table::{Table, empty_schema};

/// An esmdb store with an SQL session's settings, for notebooks. See [`crate::open`].
#[derive(Debug)]
pub struct Db {
    store: String,
    /// Statements that define the session, replayed into every new one, in order.
    definitions: Mutex<Vec<String>>,
}

impl Db {
    /// Opens (creating if needed) the store at `path`.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Db> {
        let text = path.to_string_lossy();
        let store = if text.contains("://") {
            text.into_owned()
        } else {
            std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?.display().to_string()
        };
        block_on(async { Store::open_or_create(&store).await.with_context(|| format!("opening the store {store}")) })?;
        Ok(Db { store, definitions: Mutex::new(Vec::new()) })
    }

    /// The store's location.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// The same store with `esmdb.model` set (a name, a Hugging Face directory or a `.pt` file).
    pub fn with_model(self, model: &str) -> Result<Db> {
        self.set("model", model)?;
        Ok(self)
    }

    /// `SET esmdb.<key> = '<value>'` for this and every later call (`model`, `layer`, `device`,
    /// `precision`, `batch_tokens`, `threads`, `commit_every`); a key starting with `datafusion.`
    /// sets that DataFusion option instead.
    pub fn set(&self, key: &str, value: impl ToString) -> Result<()> {
        self.set_str(key, &value.to_string())
    }

    fn set_str(&self, key: &str, value: &str) -> Result<()> {
        wrap(|| {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                bail!("setting name `{key}`: use letters, digits, `_` and `.` only");
            }
            let full = if key.starts_with("datafusion.") || key.starts_with("esmdb.") {
                key.to_owned()
            } else {
                format!("esmdb.{key}")
            };
            self.sql(&format!("SET {full} = {}", esmdb_sql::quote(value)))?;
            Ok(())
        })
    }

    /// Runs `;`-separated SQL statements and returns the last one's result. `SET`, `CREATE` and
    /// `DROP` statements stay in effect for later calls (they are replayed into each new session;
    /// a `CREATE TABLE … AS SELECT` therefore re-runs its query: keep expensive results in a
    /// [`Table`] variable instead).
    pub fn sql(&self, query: &str) -> Result<Table> {
        wrap(|| {
            let replay = self.definitions()?;
            block_on(async {
                let session = self.session(&replay).await?;
                let statements = split(&session, query)?;
                if statements.is_empty() {
                    bail!("no SQL statement in {query:?}");
                }
                let n = statements.len();
                let mut last = Table::new(empty_schema(), Vec::new());
                for (i, (text, normalized)) in statements.iter().enumerate() {
                    let which = || format!("statement {} of {n}: {normalized}", i + 1);
                    let df = match session.sql(text).await {
                        Ok(df) => df,
                        Err(e) if n > 1 => return Err(anyhow::Error::new(e).context(which())),
                        Err(e) => return Err(e.into()),
                    };
                    let schema = Arc::clone(df.schema().inner());
                    let batches = match df.collect().await {
                        Ok(b) => b,
                        Err(e) if n > 1 => return Err(anyhow::Error::new(e).context(which())),
                        Err(e) => return Err(e.into()),
                    };
                    if is_definition(normalized) {
                        self.define(text.clone())?;
                    }
                    last = Table::new(schema, batches);
                }
                Ok(last)
            })
        })
    }

    /// The session's current `esmdb.*` settings.
    pub fn config(&self) -> Result<EngineConfig> {
        wrap(|| self.engine_config())
    }

    /// A short name of the current model (as figures and per-fold rows label it).
    pub fn model_label(&self) -> Result<String> {
        Ok(esmdb_model::short_name(&self.config()?.model))
    }

    /// Ingests `files` (the paper's `*_metadata.csv` and/or `*_muts.fasta`, a ProteinGym CSV, or a
    /// CSV/Parquet with `id`/`sequence` columns) into `dataset`. Only new variants are added.
    pub fn ingest<P: AsRef<Path>>(&self, dataset: &str, files: &[P]) -> Result<Table> {
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        self.ingest_files(dataset, &files)
    }

    // Why the public generic functions of this crate are one-line shims over concrete ones: a
    // generic body is compiled in the crate that calls it, and in evcxr that is every notebook
    // cell. `ingest`'s body (the store's whole write path) took ~90 s to compile per cell.
    fn ingest_files(&self, dataset: &str, files: &[PathBuf]) -> Result<Table> {
        wrap(|| {
            let report = block_on(async {
                let store = Store::open_or_create(&self.store).await?;
                store
                    .ingest(dataset, files, &IngestParams::default())
                    .await
                    .with_context(|| format!("ingesting `{dataset}`"))
            })?;
            ingest_table(&[report])
        })
    }

    /// Ingests every dataset of a directory in the paper's layout (`<NAME>_metadata.csv`, with
    /// `<NAME>_muts.fasta` cross-checked when present), each under its `<NAME>`.
    pub fn ingest_dir(&self, dir: impl AsRef<Path>) -> Result<Table> {
        self.ingest_paper_layout(dir.as_ref())
    }

    fn ingest_paper_layout(&self, dir: &Path) -> Result<Table> {
        wrap(|| {
            let datasets = esmdb_store::input::paper_layout(dir)?;
            let reports = block_on(async {
                let store = Store::open_or_create(&self.store).await?;
                let mut reports = Vec::new();
                for (name, files) in &datasets {
                    let report = store
                        .ingest(name, files, &IngestParams::default())
                        .await
                        .with_context(|| format!("ingesting `{name}`"))?;
                    reports.push(report);
                }
                Ok(reports)
            })?;
            ingest_table(&reports)
        })
    }

    /// Fills the embedding cache for `dataset` with the session's model at `esmdb.layer`, mean
    /// pooling (what `compress_mean(esm2_embed(sequence))` reads): only sequences not yet cached are
    /// embedded.
    pub fn embed(&self, dataset: &str) -> Result<Table> {
        wrap(|| self.embed_datasets(Some(dataset)))
    }

    /// [`Db::embed`] for every dataset of the store.
    pub fn embed_all(&self) -> Result<Table> {
        wrap(|| self.embed_datasets(None))
    }

    /// Per dataset (and for all datasets together): variants, distinct sequences, how many of those
    /// the cache holds for the current model (`esmdb.layer`, mean pooling), and how many it lacks.
    pub fn cache_stats(&self) -> Result<Table> {
        wrap(|| {
            let config = self.engine_config()?;
            let model = load_model(&config)?;
            let layer = engine::resolve_layer(config.layer, model.num_layers, &config.model)?;
            let embeddings = esmdb_store::embeddings_table(model.dim);
            let replay = self.definitions()?;
            let stats = block_on(async {
                let session = self.session(&replay).await?;
                let tables = Store::open_or_create(&self.store).await?.table_names();
                let df = session.sql(&cache_stats_sql(&tables, &embeddings, &model.id, layer)).await?;
                let schema = Arc::clone(df.schema().inner());
                Ok(Table::new(schema, df.collect().await?))
            })?;
            Ok(stats.with_title(format!("cache of {} (layer {layer}, mean)", model.id)))
        })
    }

    /// [`Db::cache_stats`] as a bar chart.
    pub fn cache_figure(&self) -> Result<Figure> {
        figure::cache_figure(&self.cache_stats()?)
    }

    /// Runs `sql` — per-fold rows with `lasso_cv_eval`'s fields as columns — and plots mean test R²
    /// against model size (see [`crate::r2_figure`]); rows without a `model` column are labelled
    /// with the current model.
    pub fn r2_figure(&self, sql: &str) -> Result<Figure> {
        let folds = self.sql(sql)?;
        let rows = figure::fold_rows(&folds, &self.model_label()?, "mean")?;
        Ok(figure::r2_figure(&rows))
    }

    /// Store, settings and datasets, as HTML.
    pub fn to_html(&self) -> Result<String> {
        wrap(|| {
            let config = self.engine_config()?;
            let datasets = block_on(async { Ok(Store::open_or_create(&self.store).await?.datasets().await?) })?;
            let mut rows = vec![
                vec!["store".to_owned(), self.store.clone()],
                vec!["model (esmdb.model)".to_owned(), config.model.clone()],
                vec!["layer (esmdb.layer)".to_owned(), config.layer.to_string()],
                vec!["device, precision".to_owned(), format!("{}, {}", config.device, config.precision)],
            ];
            let list: Vec<String> = datasets.iter().map(|d| format!("{} ({} variants)", d.name, d.rows)).collect();
            rows.push(vec![
                "datasets".to_owned(),
                if list.is_empty() { "none yet".to_owned() } else { list.join(", ") },
            ]);
            Ok(simple_table("esmdb", &["", ""], &rows))
        })
    }

    /// What a notebook shows: `(mime, content)` pairs, HTML and plain text.
    pub fn display_blocks(&self) -> Vec<(String, String)> {
        let html = self.to_html().unwrap_or_else(|e| format!("<pre>{}</pre>", escape(&e.to_string())));
        vec![("text/html".to_owned(), html), ("text/plain".to_owned(), format!("esmdb store {}", self.store))]
    }

    /// Shows store, settings and datasets (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        emit_owned(&self.display_blocks());
    }

    fn definitions(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.definitions.lock().map_err(|_| anyhow!("the session settings lock was poisoned"))?.clone())
    }

    fn define(&self, statement: String) -> anyhow::Result<()> {
        self.definitions.lock().map_err(|_| anyhow!("the session settings lock was poisoned"))?.push(statement);
        Ok(())
    }

    /// A new session over the store with the recorded definitions applied.
    async fn session(&self, replay: &[String]) -> anyhow::Result<Session> {
        let options = EngineConfig { store: self.store.clone(), ..EngineConfig::default() };
        let session = Session::open(options).await.with_context(|| format!("opening the store {}", self.store))?;
        for statement in replay {
            let df = session.sql(statement).await.with_context(|| format!("re-applying `{statement}`"))?;
            df.collect().await.with_context(|| format!("re-applying `{statement}`"))?;
        }
        Ok(session)
    }

    fn engine_config(&self) -> anyhow::Result<EngineConfig> {
        let replay = self.definitions()?;
        block_on(async { Ok(self.session(&replay).await?.config()) })
    }

    fn embed_datasets(&self, only: Option<&str>) -> anyhow::Result<Table> {
        let config = self.engine_config()?;
        let model = load_model(&config)?;
        let layer = i32::try_from(config.layer).context("esmdb.layer is out of range")?;
        let embedder = StoreEmbedder::new(Arc::clone(&model), config.batch_tokens, None);
        let params = EmbedParams { outputs: vec![(layer, Pooling::Mean)], batch_sequences: config.commit_every.max(1) };
        let done = block_on(async {
            let store = Store::open_or_create(&self.store).await?;
            let names: Vec<String> = match only {
                Some(name) => {
                    if store.dataset_info(name).await?.is_none() {
                        bail!("the store {} has no dataset `{name}`; ingest it first (db.ingest)", store.uri());
                    }
                    vec![name.to_owned()]
                }
                None => store.datasets().await?.into_iter().map(|d| d.name).collect(),
            };
            let mut progress: Option<Progress> = None;
            let done = engine::fill::fill(&store, &names, &embedder, &params, &mut |dataset, p| {
                if progress.as_ref().is_none_or(|pr| pr.dataset != dataset) {
                    progress = Some(Progress::new(dataset));
                }
                if let Some(pr) = progress.as_mut() {
                    pr.update(p);
                }
            })
            .await?;
            Ok(done)
        })?;
        embed_table(&model.id, &done)
    }
}

/// Runs `future` to completion on a new multi-thread runtime made by the calling cell's code (see
/// the module doc). Inside an async cell (evcxr's own runtime) it steps out with `block_in_place`.
pub(crate) fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let run = move || -> anyhow::Result<T> {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting an async runtime")?;
        runtime.block_on(future)
    };
    match tokio::runtime::Handle::try_current() {
        Err(_) => run(),
        Ok(h) if matches!(h.runtime_flavor(), tokio::runtime::RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(run)
        }
        Ok(_) => {
            bail!("esmdb_kernel blocks until done: call it outside async code, not inside a current-thread runtime")
        }
    }
}

/// The session's model, loaded (once per cell's code) from the registry.
fn load_model(config: &EngineConfig) -> anyhow::Result<Arc<Model>> {
    engine::model(&config.model_key(&config.model)).with_context(|| format!("loading the model {}", config.model))
}

/// Splits a script into (text to run, normalized text) per statement. A single statement runs as
/// written; several run as the parser prints them back.
fn split(session: &Session, script: &str) -> anyhow::Result<Vec<(String, String)>> {
    let name = session.context().state().config().options().sql_parser.dialect;
    let dialect = dialect_from_str(name).ok_or_else(|| anyhow!("unknown SQL dialect {name:?}"))?;
    let parsed = DFParser::parse_sql_with_dialect(script, dialect.as_ref())?;
    Ok(match parsed.len() {
        1 => {
            let text = script.trim().trim_end_matches(';').to_owned();
            vec![(text, parsed[0].to_string())]
        }
        _ => parsed.iter().map(|s| (s.to_string(), s.to_string())).collect(),
    })
}

/// Statements that change the session rather than query it.
fn is_definition(statement: &str) -> bool {
    let head = statement.trim_start().get(..7).unwrap_or(statement).to_ascii_uppercase();
    ["CREATE ", "DROP ", "SET ", "RESET "].iter().any(|k| head.starts_with(k))
}

/// The cache statistics query over the tables the store has.
fn cache_stats_sql(tables: &[String], embeddings: &str, model_id: &str, layer: i64) -> String {
    if !tables.iter().any(|t| t == esmdb_store::VARIANTS) {
        return "SELECT CAST(NULL AS VARCHAR) AS dataset, CAST(0 AS BIGINT) AS variants, \
                CAST(0 AS BIGINT) AS sequences, CAST(0 AS BIGINT) AS cached, CAST(0 AS BIGINT) AS missing LIMIT 0"
            .to_owned();
    }
    let cached = if tables.iter().any(|t| t == embeddings) {
        format!(
            "SELECT DISTINCT seq_hash FROM {embeddings} WHERE model_id = {} AND layer = {layer} AND pooling = 'mean'",
            esmdb_sql::quote(model_id)
        )
    } else {
        "SELECT seq_hash FROM variants WHERE false".to_owned()
    };
    format!(
        "WITH cached AS ({cached}), \
         joined AS (SELECT v.dataset AS dataset, v.seq_hash AS seq_hash, c.seq_hash AS hit \
                    FROM variants v LEFT JOIN cached c ON v.seq_hash = c.seq_hash), \
         per AS (SELECT dataset, count(*) AS variants, count(DISTINCT seq_hash) AS sequences, \
                 count(DISTINCT hit) AS cached FROM joined GROUP BY dataset), \
         total AS (SELECT '(all datasets)' AS dataset, count(*) AS variants, count(DISTINCT seq_hash) AS sequences, \
                   count(DISTINCT hit) AS cached FROM joined) \
         SELECT dataset, variants, sequences, cached, sequences - cached AS missing \
         FROM (SELECT * FROM per UNION ALL SELECT * FROM total) \
         ORDER BY CASE WHEN dataset = '(all datasets)' THEN 1 ELSE 0 END, dataset"
    )
}

fn ints(values: impl Iterator<Item = usize>) -> ArrayRef {
    Arc::new(Int64Array::from(values.map(|v| i64::try_from(v).unwrap_or(i64::MAX)).collect::<Vec<_>>()))
}

fn ingest_table(reports: &[IngestReport]) -> anyhow::Result<Table> {
    let versions: Vec<Option<i64>> = reports.iter().map(|r| r.version.and_then(|v| i64::try_from(v).ok())).collect();
    Table::from_columns(vec![
        (
            "dataset",
            Arc::new(StringArray::from(reports.iter().map(|r| r.dataset.clone()).collect::<Vec<_>>())) as ArrayRef,
        ),
        ("input_rows", ints(reports.iter().map(|r| r.input_rows))),
        ("added", ints(reports.iter().map(|r| r.added))),
        ("unchanged", ints(reports.iter().map(|r| r.unchanged))),
        ("replaced", ints(reports.iter().map(|r| r.replaced))),
        ("total_rows", ints(reports.iter().map(|r| r.total_rows))),
        ("version", Arc::new(Int64Array::from(versions)) as ArrayRef),
    ])
    .map(|t| t.with_title("ingest"))
}

fn embed_table(model_id: &str, done: &[DatasetFill]) -> anyhow::Result<Table> {
    Table::from_columns(vec![
        (
            "dataset",
            Arc::new(StringArray::from(done.iter().map(|d| d.dataset.clone()).collect::<Vec<_>>())) as ArrayRef,
        ),
        ("variants", ints(done.iter().map(|d| d.report.requested))),
        ("sequences", ints(done.iter().map(|d| d.report.unique))),
        ("cached", ints(done.iter().map(|d| d.report.hits))),
        ("embedded", ints(done.iter().map(|d| d.report.embedded))),
        ("vectors_written", ints(done.iter().map(|d| d.report.vectors_written))),
        ("seconds", Arc::new(Float64Array::from(done.iter().map(|d| d.seconds).collect::<Vec<_>>())) as ArrayRef),
    ])
    .map(|t| t.with_title(format!("embedded with {model_id}")))
}

/// Progress lines while a dataset is embedded: the plan, then at most one line per 10 s.
struct Progress {
    dataset: String,
    last: Option<Instant>,
}

impl Progress {
    fn new(dataset: &str) -> Self {
        Progress { dataset: dataset.to_owned(), last: None }
    }

    fn update(&mut self, p: EmbedProgress) {
        match self.last {
            None => say(&format!(
                "{}: {} distinct sequences, {} cached, {} to embed",
                self.dataset, p.unique, p.hits, p.misses
            )),
            Some(t) if t.elapsed().as_secs() >= 10 || (p.misses > 0 && p.embedded == p.misses) => {
                say(&format!("{}: embedded {}/{}", self.dataset, p.embedded, p.misses))
            }
            Some(_) => return,
        }
        self.last = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../tests/fixtures/dms")
        .join(name)
    }

    #[test]
    fn definitions_are_classified() {
        assert!(is_definition("SET esmdb.layer = 3"));
        assert!(is_definition("create view v AS SELECT 1"));
        assert!(is_definition("DROP VIEW v"));
        assert!(!is_definition("SELECT 1"));
        assert!(!is_definition("COPY (SELECT 1) TO 'x.csv'"));
        assert!(!is_definition("SET"));
    }

    #[test]
    fn settings_and_views_outlive_the_call_that_made_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::open(dir.path().join("store")).unwrap();
        db.set("layer", 3).unwrap();
        db.sql("CREATE VIEW two AS SELECT 2 AS x; SET esmdb.batch_tokens = 1024").unwrap();
        let config = db.config().unwrap();
        assert_eq!((config.layer, config.batch_tokens), (3, 1024));
        assert_eq!(db.sql("SELECT x FROM two").unwrap().column_f64("x").unwrap(), vec![2.0]);
        let err = db.sql("SELECT nope FROM two").unwrap_err().to_string();
        assert!(err.starts_with("esmdb error: ") && err.contains("nope"), "{err}");
        assert!(db.set("bad key", 1).is_err());
    }

    #[test]
    fn ingest_reports_and_queries_the_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::open(dir.path().join("store")).unwrap();
        let stem = "YAP1_HUMAN_Fields2012_singles";
        let files = [fixture(&format!("{stem}_metadata.csv")), fixture(&format!("{stem}_muts.fasta"))];
        let report = db.ingest(stem, &files).unwrap();
        assert_eq!(report.column_f64("added").unwrap(), vec![362.0]);
        // The directory holds IF1_ECOLI (new) and YAP1 (already there), in name order.
        assert_eq!(db.ingest_dir(fixture("")).unwrap().column_f64("added").unwrap(), vec![1439.0, 0.0]);
        let n =
            db.sql(&format!("SELECT count(DISTINCT seq_hash) AS n FROM variants WHERE dataset = '{stem}'")).unwrap();
        assert_eq!(n.column_f64("n").unwrap(), vec![362.0]);
        let missing = db.embed("nope").unwrap_err().to_string();
        assert!(missing.contains("no dataset `nope`") || missing.contains("loading the model"), "{missing}");
    }
}
