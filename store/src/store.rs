//! [`Store`]: a directory (or object-store URI) of Lance tables, and the few table operations every
//! part of the store is built from — open-if-present, scan, append-or-create — each write one commit.
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lance::Dataset;
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::scanner::ExecutionSummaryCounts;
use lance::dataset::{CommitBuilder, InsertBuilder, WriteMode, WriteParams};
use lance::deps::datafusion::prelude::{Expr, col, lit};
use lance::session::Session;

use crate::error::{Error, Result};
use crate::maintenance::CompactParams;
use crate::models::MODELS;
use crate::schema::{DATASETS, EMBEDDINGS_PREFIX, LOG_PROBS, VARIANTS};

/// Default store location when neither `--store` nor `$ESMDB_STORE` is given.
pub const DEFAULT_STORE: &str = "./esmdb-data";

/// How a [`Store`] behaves.
#[derive(Debug, Clone)]
pub struct StoreParams {
    /// After a write, compact a table (and clean up old versions) once it has more than this many
    /// fragments. Default 32; `None` turns automatic compaction off.
    pub compact_above_fragments: Option<usize>,
    /// Compaction settings used by automatic compaction.
    pub compact: CompactParams,
    /// After a write to a cache table, fold the rows its key index does not cover into it once
    /// there are at least this many (default 8,192: a lookup scans at most about that many rows
    /// in full, besides what the index finds). See [`crate::index`].
    pub index_every: usize,
}

impl Default for StoreParams {
    fn default() -> Self {
        StoreParams { compact_above_fragments: Some(32), compact: CompactParams::default(), index_every: 8192 }
    }
}

/// An esmdb store: the `variants`, `datasets` and `embeddings_d{dim}` Lance tables under one root.
///
/// Tables are opened afresh for every operation, so a `Store` always sees the latest committed
/// version and is cheap to share. Its clones share one Lance session: the indexes and file
/// metadata they have read stay cached between operations.
#[derive(Debug, Clone)]
pub struct Store {
    uri: String,
    params: StoreParams,
    /// An object-store root's tables as last listed (a local root is read on every call instead).
    listed: Arc<RwLock<Vec<String>>>,
    session: Arc<Session>,
    /// Rows Lance read for [`Store::scan_keys`] (its `rows_scanned` metric), over every clone.
    key_rows_scanned: Arc<AtomicU64>,
}

impl Store {
    /// Opens an existing store. A local path must be a readable directory; an object-store root
    /// (`s3://bucket/prefix`, configured by the usual `AWS_*` variables) must be listable — a missing
    /// bucket or refused credentials fail here, before anything is written.
    pub async fn open(uri: &str) -> Result<Self> {
        check_location(uri, false)?;
        Self::at(uri).await
    }

    /// Opens a store, creating the directory when it does not exist (local paths; on object stores
    /// the bucket must exist, the prefix is created by the first write).
    pub async fn open_or_create(uri: &str) -> Result<Self> {
        check_location(uri, true)?;
        Self::at(uri).await
    }

    async fn at(uri: &str) -> Result<Self> {
        let store = Store {
            uri: trim_uri(uri),
            params: StoreParams::default(),
            listed: Arc::default(),
            session: Arc::default(),
            key_rows_scanned: Arc::default(),
        };
        if !is_local(&store.uri) {
            store.list_tables().await?;
        }
        Ok(store)
    }

    /// Replaces the store's behaviour settings.
    pub fn with_params(mut self, params: StoreParams) -> Self {
        self.params = params;
        self
    }

    /// The store's root URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Rows of the cache tables that key lookups have read so far, this handle and its clones
    /// together: what a lookup of k sequences costs, which the key index keeps near k.
    pub fn key_rows_scanned(&self) -> u64 {
        self.key_rows_scanned.load(Ordering::Relaxed)
    }

    /// The settings in use.
    pub fn params(&self) -> &StoreParams {
        &self.params
    }

    /// The URI of a table (`<root>/<table>.lance`).
    pub fn table_uri(&self, table: &str) -> String {
        format!("{}/{table}.lance", self.uri)
    }

    /// Names of the store's tables (its `variants`, `datasets`, `models`, `log_probs` and `embeddings_d*`), sorted, without
    /// touching Lance or the network (so it can run while planning): a local root is read now, an object-store
    /// root as [`Store::list_tables`] last listed it (at open, and after each table this process created).
    pub fn table_names(&self) -> Vec<String> {
        if !is_local(&self.uri) {
            return self.listed.read().map(|l| l.clone()).unwrap_or_default();
        }
        let root = Path::new(self.uri.strip_prefix("file://").unwrap_or(&self.uri));
        let entries = std::fs::read_dir(root).into_iter().flatten().flatten().filter(|e| e.path().is_dir());
        store_tables(entries.filter_map(|e| e.file_name().to_str().map(str::to_owned)))
    }

    /// Names of the store's tables, listed afresh (on an object store, one `LIST` of the root).
    pub async fn list_tables(&self) -> Result<Vec<String>> {
        if is_local(&self.uri) {
            return Ok(self.table_names());
        }
        let fail = |source| Error::ObjectStore {
            uri: self.uri.clone(),
            hint: "does the bucket exist; are AWS_ENDPOINT, AWS_REGION and the credentials right?",
            source,
        };
        let (object_store, root) = lance::io::ObjectStore::from_uri(&self.uri).await.map_err(fail)?;
        let entries = object_store.read_dir(root).await.map_err(fail)?;
        let names = store_tables(entries);
        if let Ok(mut listed) = self.listed.write() {
            listed.clone_from(&names);
        }
        Ok(names)
    }

    /// Records a table this process created, for [`Store::table_names`] on object stores.
    fn note_table(&self, table: &str) {
        if let Ok(mut listed) = self.listed.write()
            && !listed.iter().any(|t| t == table)
        {
            listed.push(table.to_owned());
            listed.sort();
        }
    }

    /// Opens a table at its latest version, or `None` if it has never been written.
    pub async fn open_table(&self, table: &str) -> Result<Option<Dataset>> {
        match self.load(table).await {
            Ok(ds) => Ok(Some(ds)),
            Err(lance::Error::DatasetNotFound { .. }) | Err(lance::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(Error::Lance { table: table.to_owned(), operation: "open", source }),
        }
    }

    /// Opens a table at `version` (any version not yet cleaned up), or the latest when `None`.
    pub async fn checkout(&self, table: &str, version: Option<u64>) -> Result<Option<Dataset>> {
        let Some(ds) = self.open_table(table).await? else { return Ok(None) };
        match version {
            None => Ok(Some(ds)),
            Some(v) => ds.checkout_version(v).await.map(Some).map_err(Error::lance(table, "checkout version")),
        }
    }

    /// Scans a table with an optional SQL filter and projection; an absent table reads as no rows
    /// (`None`).
    pub async fn scan(
        &self,
        table: &str,
        filter: Option<&str>,
        columns: Option<&[&str]>,
        version: Option<u64>,
    ) -> Result<Option<RecordBatch>> {
        let Some(ds) = self.checkout(table, version).await? else { return Ok(None) };
        scan_dataset(&ds, table, filter, columns).await.map(Some)
    }

    /// Appends `batch` to `table` as one commit, creating the table on first write; then compacts it
    /// if it has grown past the fragment threshold. Returns the new version.
    pub(crate) async fn append(&self, table: &str, batch: RecordBatch) -> Result<u64> {
        let ds = match self.open_table(table).await? {
            Some(ds) => append_to(Arc::new(ds), table, batch).await?,
            None => match self.create_table(table, batch.clone()).await? {
                Some(ds) => ds,
                // Another writer created it first: append to theirs.
                None => append_to(Arc::new(self.open_existing(table).await?), table, batch).await?,
            },
        };
        let version = ds.version_id();
        self.maybe_compact(table, ds).await;
        Ok(version)
    }

    /// Creates `table` with `batch` as its first version (the table's schema is the batch's, field
    /// metadata included). `None` when another writer created it first; the batch is then not
    /// written.
    ///
    /// The commit is Lance's strict one (no retries): a plain `WriteMode::Create` that finds the
    /// table created between its existence check and its commit (while it wrote its data files)
    /// commits as an *overwrite* of the other writer's table, dropping its rows.
    pub(crate) async fn create_table(&self, table: &str, batch: RecordBatch) -> Result<Option<Dataset>> {
        let uri = self.table_uri(table);
        let params = WriteParams { mode: WriteMode::Create, ..Default::default() };
        let transaction =
            match InsertBuilder::new(uri.as_str()).with_params(&params).execute_uncommitted(vec![batch]).await {
                Ok(transaction) => transaction,
                Err(lance::Error::DatasetAlreadyExists { .. }) => return Ok(None),
                Err(source) => return Err(Error::Lance { table: table.to_owned(), operation: "create", source }),
            };
        match CommitBuilder::new(uri.as_str()).with_max_retries(0).execute(transaction).await {
            Ok(ds) => {
                self.note_table(table);
                Ok(Some(ds))
            }
            Err(lance::Error::DatasetAlreadyExists { .. }) => Ok(None),
            // A strict commit onto a table that appeared meanwhile fails (it cannot read the
            // version 0 it was planned against); any failure while the table exists is that race.
            Err(source) => match self.open_table(table).await? {
                Some(_) => {
                    tracing::debug!(table, error = %source, "another writer created the table first");
                    Ok(None)
                }
                None => Err(Error::Lance { table: table.to_owned(), operation: "create", source }),
            },
        }
    }

    /// Opens a table known to exist (another writer created it, or this one just changed it).
    pub(crate) async fn open_existing(&self, table: &str) -> Result<Dataset> {
        self.load(table).await.map_err(Error::lance(table, "open"))
    }

    /// Opens a table's latest version in the store's Lance session.
    async fn load(&self, table: &str) -> lance::Result<Dataset> {
        DatasetBuilder::from_uri(self.table_uri(table)).with_session(Arc::clone(&self.session)).load().await
    }

    /// Brings a cache table's key index up to date after a write (see [`crate::index`]). Failures
    /// are logged, not returned: the write has committed, and a late index only costs scan time.
    pub(crate) async fn maintain_index(&self, table: &str, ds: &mut Dataset) {
        if table != LOG_PROBS && !table.starts_with(EMBEDDINGS_PREFIX) {
            return;
        }
        if let Err(e) = crate::index::maintain_key_index(ds, table, self.params.index_every).await {
            tracing::warn!(table, error = %e, "updating the seq_hash index failed");
        }
    }

    /// Runs automatic compaction when `ds` has more fragments than the threshold. Failures are
    /// logged, not returned: the write that triggered it has already committed.
    pub(crate) async fn maybe_compact(&self, table: &str, mut ds: Dataset) {
        let Some(limit) = self.params.compact_above_fragments else { return };
        if ds.count_fragments() <= limit {
            return;
        }
        if let Err(e) = crate::maintenance::compact_dataset(&mut ds, table, &self.params.compact).await {
            tracing::warn!(table, error = %e, "automatic compaction failed");
        }
    }
}

async fn append_to(ds: Arc<Dataset>, table: &str, batch: RecordBatch) -> Result<Dataset> {
    let params = WriteParams { mode: WriteMode::Append, ..Default::default() };
    InsertBuilder::new(ds).with_params(&params).execute(vec![batch]).await.map_err(Error::lance(table, "append"))
}

/// Hashes per `seq_hash IN (…)` scan of [`Store::scan_keys`]: each scan searches the key index once
/// per segment, so bigger lists cost fewer searches, and a list stays a small expression.
const KEYS_PER_SCAN: usize = 4096;
/// Lance's scan metric of rows read (`lance_datafusion::utils::ROWS_SCANNED_METRIC`).
const ROWS_SCANNED: &str = "rows_scanned";

impl Store {
    /// Streams the rows of `table` that pass `filter` and whose `seq_hash` is one of `hashes`
    /// (columns `columns`) to `each`, a batch at a time. The table is opened once; the hashes go to
    /// Lance in lists of [`KEYS_PER_SCAN`], which its `seq_hash` index answers (see
    /// [`crate::index`]), so the rows read follow `hashes`, not the table. An absent table has no
    /// rows.
    pub(crate) async fn scan_keys(
        &self,
        table: &str,
        filter: Expr,
        hashes: &[&str],
        columns: &[&str],
        each: &mut (dyn FnMut(&RecordBatch) -> Result<()> + Send),
    ) -> Result<()> {
        if hashes.is_empty() {
            return Ok(());
        }
        let Some(ds) = self.open_table(table).await? else { return Ok(()) };
        for chunk in hashes.chunks(KEYS_PER_SCAN) {
            let list = chunk.iter().map(|h| lit(*h)).collect();
            let mut scanner = ds.scan();
            scanner.project(columns).map_err(Error::lance(table, "project"))?;
            scanner.filter_expr(filter.clone().and(col("seq_hash").in_list(list, false)));
            let counter = Arc::clone(&self.key_rows_scanned);
            scanner.scan_stats_callback(Arc::new(move |stats: &ExecutionSummaryCounts| {
                let rows = stats.all_counts.get(ROWS_SCANNED).copied().unwrap_or(0);
                counter.fetch_add(rows as u64, Ordering::Relaxed);
            }));
            let mut stream = scanner.try_into_stream().await.map_err(Error::lance(table, "scan"))?;
            while let Some(batch) = stream.try_next().await.map_err(Error::lance(table, "scan"))? {
                each(&batch)?;
            }
        }
        Ok(())
    }
}

/// Scans `ds` into one batch.
pub(crate) async fn scan_dataset(
    ds: &Dataset,
    table: &str,
    filter: Option<&str>,
    columns: Option<&[&str]>,
) -> Result<RecordBatch> {
    let mut scanner = ds.scan();
    if let Some(f) = filter {
        scanner.filter(f).map_err(Error::lance(table, "filter"))?;
    }
    if let Some(c) = columns {
        scanner.project(c).map_err(Error::lance(table, "project"))?;
    }
    scanner.try_into_batch().await.map_err(Error::lance(table, "scan"))
}

/// `s` as a SQL string literal (`'…'`, single quotes doubled): for Lance filters here, and for the
/// statements front ends build (`esmdb_sql::quote`). One quoting rule for the whole project.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The store's tables among directory entries named `<table>.lance`, sorted.
fn store_tables(entries: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = entries
        .into_iter()
        .filter_map(|n| n.strip_suffix(".lance").map(str::to_owned))
        .filter(|t| t == VARIANTS || t == DATASETS || t == LOG_PROBS || t == MODELS || t.starts_with(EMBEDDINGS_PREFIX))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn trim_uri(uri: &str) -> String {
    let t = uri.trim_end_matches('/');
    if t.is_empty() { uri.to_owned() } else { t.to_owned() }
}

fn is_local(uri: &str) -> bool {
    !uri.contains("://") || uri.starts_with("file://")
}

/// Local stores must be readable directories; object-store URIs are checked by Lance on first use.
fn check_location(uri: &str, create: bool) -> Result<()> {
    if uri.is_empty() {
        return Err(Error::StoreLocation { uri: uri.into(), message: "empty store path".into(), source: None });
    }
    if !is_local(uri) {
        return Ok(());
    }
    let path = Path::new(uri.strip_prefix("file://").unwrap_or(uri));
    let fail = |message: &str, source| Error::StoreLocation { uri: uri.to_owned(), message: message.into(), source };
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => Err(fail("is not a directory", None)),
        Ok(_) => std::fs::read_dir(path).map(|_| ()).map_err(|e| fail("cannot be read", Some(e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            std::fs::create_dir_all(path).map_err(|e| fail("cannot be created", Some(e)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(fail("does not exist (`esmdb ingest` creates it)", Some(e)))
        }
        Err(e) => Err(fail("cannot be read", Some(e))),
    }
}

/// Checks a dataset name: 1–128 characters of letters, digits, `_`, `-`, `.`.
pub(crate) fn check_dataset_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 128 {
        Some("it is longer than 128 characters")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        Some("use letters, digits, `_`, `-` and `.` only")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName { what: "dataset name", name: name.to_owned(), reason }),
        None => Ok(()),
    }
}
