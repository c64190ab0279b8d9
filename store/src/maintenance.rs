//! Keeping many small commits cheap: compaction (`compact_files`) merges small fragments, cleanup
//! drops versions beyond a retention count. Runs automatically past a fragment threshold
//! ([`crate::StoreParams`]) and on demand (`esmdb compact`). Old versions stay readable until cleaned.
use lance::Dataset;
use lance::dataset::cleanup::CleanupPolicyBuilder;
use lance::dataset::optimize::{CompactionOptions, compact_files};

use crate::error::{Error, Result};
use crate::schema::{DATASETS, VARIANTS};
use crate::store::Store;

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

    /// Compacts every table and cleans up versions beyond `params.retain_versions`.
    pub async fn compact(&self, params: &CompactParams) -> Result<Vec<CompactReport>> {
        let mut reports = Vec::new();
        for table in self.tables().await? {
            if let Some(mut ds) = self.open_table(&table).await? {
                reports.push(compact_dataset(&mut ds, &table, params).await?);
            }
        }
        Ok(reports)
    }
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
        versions_removed: removed.old_versions,
        bytes_removed: removed.bytes_removed,
    })
}
