//! Keeping many small commits cheap: compaction (`compact_files`) merges small fragments, cleanup
//! drops versions beyond a retention count. Runs automatically past a fragment threshold
//! ([`crate::StoreParams`]) and on demand (`esmdb compact`). Old versions stay readable until cleaned.
//!
//! On demand compaction also removes repeated keys from the embedding tables: esmdb versions that
//! appended cache rows without a merge could leave a key several times when writers ran at once.
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::row::{OwnedRow, RowConverter, SortField};
use arrow_array::{Array, UInt64Array};
use futures::TryStreamExt;
use lance::Dataset;
use lance::dataset::DeleteBuilder;
use lance::dataset::cleanup::CleanupPolicyBuilder;
use lance::dataset::optimize::{CompactionOptions, compact_files};

use crate::error::{Error, Result};
use crate::schema::{DATASETS, EMBEDDINGS_KEY, EMBEDDINGS_PREFIX, VARIANTS};
use crate::store::Store;

/// Lance's row-address meta column: fragment id in the high 32 bits, offset in the low ones.
const ROW_ADDR: &str = "_rowaddr";
/// Attempts at removing duplicates while other writers commit; each re-reads the table.
const DEDUPE_ATTEMPTS: usize = 5;

/// Compaction and cleanup settings.
#[derive(Debug, Clone)]
pub struct CompactParams {
    /// Rows per fragment to aim for (default 1,048,576, Lance's own).
    pub target_rows_per_fragment: usize,
    /// Versions to keep when cleaning up, the latest included (default 20; at least 1).
    pub retain_versions: usize,
}

impl Default for CompactParams {
    fn default() -> Self {
        CompactParams { target_rows_per_fragment: 1024 * 1024, retain_versions: 20 }
    }
}

/// What compacting one table did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactReport {
    /// The table.
    pub table: String,
    /// Fragments before and after.
    pub fragments_before: usize,
    /// Fragments after.
    pub fragments_after: usize,
    /// Rows removed because their key repeated an earlier row's (embedding tables only).
    pub duplicates_removed: u64,
    /// Versions removed by cleanup.
    pub versions_removed: u64,
    /// Bytes freed by cleanup.
    pub bytes_removed: u64,
}

/// One version of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableVersion {
    /// The table.
    pub table: String,
    /// Lance version number.
    pub version: u64,
    /// Commit time, µs since the Unix epoch (UTC).
    pub timestamp_micros: i64,
    /// Rows at that version (`None` when not computed).
    pub rows: Option<usize>,
    /// Whether this is the latest version.
    pub latest: bool,
}

impl Store {
    /// Names of the tables present (local stores list the directory; others check the fixed names).
    pub async fn tables(&self) -> Result<Vec<String>> {
        let local = !self.uri().contains("://") || self.uri().starts_with("file://");
        if local {
            let dir = self.uri().strip_prefix("file://").unwrap_or(self.uri());
            std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.into(), source })?;
            return Ok(self.table_names());
        }
        let mut names = Vec::new();
        for t in [VARIANTS, DATASETS] {
            if self.open_table(t).await?.is_some() {
                names.push(t.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Every version of `table` still on disk, oldest first.
    pub async fn versions(&self, table: &str) -> Result<Vec<TableVersion>> {
        let Some(ds) = self.open_table(table).await? else { return Ok(vec![]) };
        let latest = ds.version_id();
        let versions = ds.versions().await.map_err(Error::lance(table, "list versions"))?;
        let mut out = Vec::with_capacity(versions.len());
        for v in versions {
            let rows = match ds.checkout_version(v.version).await {
                Ok(at) => at.count_rows(None).await.ok(),
                Err(_) => None,
            };
            out.push(TableVersion {
                table: table.to_owned(),
                version: v.version,
                timestamp_micros: v.timestamp.timestamp_micros(),
                rows,
                latest: v.version == latest,
            });
        }
        Ok(out)
    }

    /// Compacts every table and cleans up versions beyond `params.retain_versions`. Embedding
    /// tables first lose the rows whose key repeats an earlier row's.
    pub async fn compact(&self, params: &CompactParams) -> Result<Vec<CompactReport>> {
        let mut reports = Vec::new();
        for table in self.tables().await? {
            let duplicates_removed = if table.starts_with(EMBEDDINGS_PREFIX) {
                self.remove_duplicate_keys(&table, &EMBEDDINGS_KEY).await?
            } else {
                0
            };
            if let Some(mut ds) = self.open_table(&table).await? {
                let report = compact_dataset(&mut ds, &table, params).await?;
                reports.push(CompactReport { duplicates_removed, ..report });
            }
        }
        Ok(reports)
    }

    /// Deletes every row of `table` whose `key` repeats an earlier row's, keeping per key the row
    /// with the lowest row address — the first in scan order, so the one lookups have been
    /// returning. Returns the rows deleted.
    ///
    /// The rows are deleted by address as one commit planned against the version they were found
    /// in, with Lance's own retries off: a retry would re-apply the addresses to a newer version,
    /// where a concurrent compaction may have moved other rows there. A conflicting commit instead
    /// starts over from the latest version. Concurrent inserts do not conflict.
    pub(crate) async fn remove_duplicate_keys(&self, table: &str, key: &[&str]) -> Result<u64> {
        let mut last_error = None;
        for _ in 0..DEDUPE_ATTEMPTS {
            let Some(ds) = self.open_table(table).await? else { return Ok(0) };
            let doomed = duplicate_row_addrs(&ds, table, key).await?;
            if doomed.is_empty() {
                return Ok(0);
            }
            let list: Vec<String> = doomed.iter().map(u64::to_string).collect();
            let predicate = format!("{ROW_ADDR} IN ({})", list.join(", "));
            match DeleteBuilder::new(Arc::new(ds), predicate).conflict_retries(0).execute().await {
                Ok(done) => return Ok(done.num_deleted_rows),
                Err(
                    e @ (lance::Error::TooMuchWriteContention { .. }
                    | lance::Error::RetryableCommitConflict { .. }
                    | lance::Error::CommitConflict { .. }),
                ) => last_error = Some(e),
                Err(source) => {
                    return Err(Error::Lance { table: table.to_owned(), operation: "remove duplicates", source });
                }
            }
        }
        match last_error {
            Some(source) => Err(Error::Lance { table: table.to_owned(), operation: "remove duplicates", source }),
            None => Ok(0),
        }
    }
}

/// Row addresses of the rows of `ds` whose `key` occurred at a lower address, sorted. Streams the
/// key columns only; holds one entry per distinct key.
async fn duplicate_row_addrs(ds: &Dataset, table: &str, key: &[&str]) -> Result<Vec<u64>> {
    let mut scanner = ds.scan();
    scanner.project(key).map_err(Error::lance(table, "project"))?;
    scanner.with_row_address();
    let mut stream = scanner.try_into_stream().await.map_err(Error::lance(table, "scan"))?;
    let mut converter: Option<RowConverter> = None;
    // Lowest address seen per key, and every address that lost to a lower one.
    let mut first: HashMap<OwnedRow, u64> = HashMap::new();
    let mut losers: HashSet<u64> = HashSet::new();
    while let Some(batch) = stream.try_next().await.map_err(Error::lance(table, "scan"))? {
        let columns = key
            .iter()
            .map(|k| {
                batch.column_by_name(k).cloned().ok_or_else(|| Error::Schema {
                    table: table.to_owned(),
                    message: format!("key column `{k}` is missing"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let addrs = crate::schema::column::<UInt64Array>(&batch, table, ROW_ADDR)?;
        if converter.is_none() {
            let fields = columns.iter().map(|c| SortField::new(c.data_type().clone())).collect();
            converter = Some(RowConverter::new(fields).map_err(Error::arrow(format!("{table}: comparing keys")))?);
        }
        let Some(converter) = converter.as_ref() else { continue };
        let rows = converter.convert_columns(&columns).map_err(Error::arrow(format!("{table}: comparing keys")))?;
        for (i, row) in rows.iter().enumerate() {
            let addr = addrs.value(i);
            match first.entry(row.owned()) {
                Entry::Vacant(slot) => {
                    slot.insert(addr);
                }
                Entry::Occupied(mut kept) if addr < *kept.get() => {
                    losers.insert(kept.insert(addr));
                }
                Entry::Occupied(_) => {
                    losers.insert(addr);
                }
            }
        }
    }
    let mut losers: Vec<u64> = losers.into_iter().collect();
    losers.sort_unstable();
    Ok(losers)
}

/// Compacts one table and cleans up old versions (one commit for the compaction; cleanup deletes
/// files only, never the latest version).
pub(crate) async fn compact_dataset(ds: &mut Dataset, table: &str, params: &CompactParams) -> Result<CompactReport> {
    let fragments_before = ds.count_fragments();
    let options = CompactionOptions { target_rows_per_fragment: params.target_rows_per_fragment, ..Default::default() };
    compact_files(ds, options, None).await.map_err(Error::lance(table, "compact"))?;
    let policy = CleanupPolicyBuilder::default()
        .retain_n_versions(ds, params.retain_versions.max(1))
        .await
        .map_err(Error::lance(table, "cleanup"))?
        .build();
    let removed = ds.cleanup_with_policy(policy).await.map_err(Error::lance(table, "cleanup"))?;
    Ok(CompactReport {
        table: table.to_owned(),
        fragments_before,
        fragments_after: ds.count_fragments(),
        duplicates_removed: 0,
        versions_removed: removed.old_versions,
        bytes_removed: removed.bytes_removed,
    })
}
