//! [`Db`]: an esmdb store opened from a notebook, with SQL, ingest, embedding and cache statistics.
//!
//! The store, its SQL session settings and the loaded model live in the kernel library, once per kernel: a
//! `Db` made in one cell works in every later one.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::display::emit_reply;
use crate::error::Result;
use crate::figure::Figure;
use crate::handle::Handle;
use crate::library::call;
use crate::table::Table;
use crate::wire::Value;

/// An esmdb store with an SQL session's settings, for notebooks. See [`crate::open`].
#[derive(Debug, Clone)]
pub struct Db {
    handle: Arc<Handle>,
}

impl Db {
    pub(crate) fn open(path: &Path, fresh: bool) -> Result<Db> {
        let reply = call("open", vec![Value::Str(path.to_string_lossy().into_owned()), Value::Bool(fresh)])?;
        Ok(Db { handle: Arc::new(Handle::from_reply(reply)?) })
    }

    fn ask(&self, op: &str, mut args: Vec<Value>) -> Result<Value> {
        args.insert(0, self.handle.arg());
        call(op, args)
    }

    fn table(&self, op: &str, args: Vec<Value>) -> Result<Table> {
        Table::from_reply(self.ask(op, args)?)
    }

    /// The store's location.
    pub fn store(&self) -> Result<String> {
        Ok(self.ask("db.store", vec![])?.into_string()?)
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
        self.ask("db.set", vec![Value::Str(key.to_owned()), Value::Str(value.to_string())])?;
        Ok(())
    }

    /// Runs `;`-separated SQL statements and returns the last one's result. `SET`, `CREATE` and `DROP`
    /// statements stay in effect for later calls.
    pub fn sql(&self, query: &str) -> Result<Table> {
        self.table("db.sql", vec![Value::Str(query.to_owned())])
    }

    /// A short name of the current model (as figures and per-fold rows label it).
    pub fn model_label(&self) -> Result<String> {
        Ok(self.ask("db.model_label", vec![])?.into_string()?)
    }

    /// Ingests `files` (the paper's `*_metadata.csv` and/or `*_muts.fasta`, a ProteinGym CSV, or a
    /// CSV/Parquet with `id`/`sequence` columns) into `dataset`. Only new variants are added.
    pub fn ingest<P: AsRef<Path>>(&self, dataset: &str, files: &[P]) -> Result<Table> {
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        self.ingest_files(dataset, &files)
    }

    fn ingest_files(&self, dataset: &str, files: &[PathBuf]) -> Result<Table> {
        let files = files.iter().map(|f| Value::Str(f.to_string_lossy().into_owned())).collect();
        self.table("db.ingest", vec![Value::Str(dataset.to_owned()), Value::List(files)])
    }

    /// Ingests every dataset of a directory in the paper's layout (`<NAME>_metadata.csv`, with
    /// `<NAME>_muts.fasta` cross-checked when present), each under its `<NAME>`.
    pub fn ingest_dir(&self, dir: impl AsRef<Path>) -> Result<Table> {
        self.table("db.ingest_dir", vec![Value::Str(dir.as_ref().to_string_lossy().into_owned())])
    }

    /// Fills the embedding cache for `dataset` with the session's model at `esmdb.layer`, mean pooling (what
    /// `compress_mean(esm2_embed(sequence))` reads): only sequences not yet cached are embedded.
    pub fn embed(&self, dataset: &str) -> Result<Table> {
        self.table("db.embed", vec![Value::Str(dataset.to_owned())])
    }

    /// [`Db::embed`] for every dataset of the store.
    pub fn embed_all(&self) -> Result<Table> {
        self.table("db.embed", vec![Value::Null])
    }

    /// Per dataset (and for all datasets together): variants, distinct sequences, how many of those the cache
    /// holds for the current model (`esmdb.layer`, mean pooling), and how many it lacks.
    pub fn cache_stats(&self) -> Result<Table> {
        self.table("db.cache_stats", vec![])
    }

    /// [`Db::cache_stats`] as a bar chart.
    pub fn cache_figure(&self) -> Result<Figure> {
        Figure::from_reply(self.ask("db.cache_figure", vec![])?)
    }

    /// Runs `sql` — per-fold rows with `lasso_cv_eval`'s fields as columns — and plots mean test R² against
    /// model size (see [`crate::r2_figure`]).
    pub fn r2_figure(&self, sql: &str) -> Result<Figure> {
        Figure::from_reply(self.ask("db.r2_figure", vec![Value::Str(sql.to_owned())])?)
    }

    /// Store, settings and datasets, as HTML.
    pub fn to_html(&self) -> Result<String> {
        Ok(self.ask("html", vec![])?.into_string()?)
    }

    /// Shows store, settings and datasets (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        emit_reply(self.ask("display", vec![]));
    }
}
