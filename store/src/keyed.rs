//! Keyed inserts: the rows of a batch whose key is not in the table yet are added, the others are
//! dropped — one Lance `merge_insert` commit, with any number of concurrent writers.
//!
//! Why concurrent writers cannot duplicate a key: the table declares its key columns as Lance's
//! *unenforced primary key* (field metadata, see [`schema::primary_key_metadata`]). A
//! `merge_insert` joined on exactly those columns, in key order, records a Bloom filter of the keys
//! it inserted in its transaction. When two writers commit concurrently, Lance's conflict resolver
//! intersects the later one's filter with the earlier one's (a transaction without a filter counts
//! as overlapping), and the later writer re-runs its merge against the new version, where the
//! other's rows now match and are skipped. Disjoint inserts commit side by side without a retry.
//! Without the declared key the resolver sees two inserts that touch no common fragment and commits
//! both: that is how three processes once left 3,755 cache rows for 1,388 sequences.
//!
//! Two things keep it so: a merge must be planned against a version that already has the key (a
//! merge planned without it records no filter, and a keyed writer committing before it would not
//! see its rows), and the table must never get a scalar index on *all* key columns (Lance then takes
//! its older merge path, which records no inserted keys either).
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use lance::Dataset;
use lance::dataset::{MergeInsertBuilder, WhenMatched, WhenNotMatched};

use crate::error::{Error, Result};
use crate::schema;
use crate::store::Store;

/// Merge attempts after a conflicting commit. Every retry means another writer committed, so the
/// store as a whole makes progress; the bound only stops one writer from waiting forever. Generous,
/// because giving up throws away a batch the model has already computed.
const CONFLICT_RETRIES: u32 = 40;
/// Time one keyed insert may spend retrying before it gives up with an error.
const RETRY_TIMEOUT: Duration = Duration::from_secs(600);
/// Attempts at declaring the key on a table that lacks it, while other writers may be doing the same.
const DECLARE_ATTEMPTS: usize = 5;

/// What a keyed insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyedInsert {
    /// The table version the insert produced.
    pub version: u64,
    /// Rows added; the batch's other rows had keys already present (another writer's, or earlier).
    pub inserted: u64,
    /// Merge attempts (1 when no concurrent writer got in the way).
    pub attempts: u32,
}

impl Store {
    /// Adds the rows of `batch` whose `key` is not yet in `table`, as one commit, creating the table
    /// on first write; then compacts it past the fragment threshold. `batch` must not repeat a key,
    /// and its schema must declare `key` as the primary key (see [`schema::embeddings_schema`]).
    pub(crate) async fn insert_new_keys(&self, table: &str, key: &[&str], batch: RecordBatch) -> Result<KeyedInsert> {
        let rows = batch.num_rows() as u64;
        let ds = match self.open_table(table).await? {
            Some(ds) => ds,
            None => match self.create_table(table, batch.clone()).await? {
                Some(mut ds) => {
                    let version = ds.version_id();
                    self.maintain_index(table, &mut ds).await;
                    self.maybe_compact(table, ds).await;
                    return Ok(KeyedInsert { version, inserted: rows, attempts: 1 });
                }
                // Another writer created it first: merge into theirs.
                None => self.open_existing(table).await?,
            },
        };
        let ds = self.declare_key(ds, table, key).await?;
        let mut builder = MergeInsertBuilder::try_new(Arc::new(ds), key.iter().map(|k| (*k).to_owned()).collect())
            .map_err(Error::lance(table, "merge insert"))?;
        builder
            .when_matched(WhenMatched::DoNothing)
            .when_not_matched(WhenNotMatched::InsertAll)
            .conflict_retries(CONFLICT_RETRIES)
            .retry_timeout(RETRY_TIMEOUT);
        let job = builder.try_build().map_err(Error::lance(table, "merge insert"))?;
        let (ds, stats) = job.execute_batches(vec![batch]).await.map_err(Error::lance(table, "merge insert"))?;
        let mut ds = Arc::unwrap_or_clone(ds);
        let version = ds.version_id();
        self.maintain_index(table, &mut ds).await;
        self.maybe_compact(table, ds).await;
        Ok(KeyedInsert { version, inserted: stats.num_inserted_rows, attempts: stats.num_attempts })
    }

    /// Returns `ds` at a version whose primary key is `key`, declaring it on tables written before
    /// esmdb declared one (one metadata commit; Lance lets a key be set once and never changed, so of
    /// several writers declaring it at once one succeeds and the others find it declared). The writer
    /// that declares it then removes the duplicate keys unkeyed concurrent appends may have left.
    /// A table with another primary key is an error.
    async fn declare_key(&self, mut ds: Dataset, table: &str, key: &[&str]) -> Result<Dataset> {
        let mut last_error = None;
        for _ in 0..DECLARE_ATTEMPTS {
            let declared: Vec<&str> = ds.schema().unenforced_primary_key().iter().map(|f| f.name.as_str()).collect();
            if declared == key {
                return Ok(ds);
            }
            if !declared.is_empty() {
                return Err(Error::Schema {
                    table: table.to_owned(),
                    message: format!("primary key is ({}), expected ({})", declared.join(", "), key.join(", ")),
                });
            }
            let mut update = ds.update_field_metadata();
            for (i, column) in key.iter().enumerate() {
                update = update
                    .update(*column, schema::primary_key_metadata(i + 1))
                    .map_err(Error::lance(table, "declare primary key"))?;
            }
            match update.await {
                Ok(_) => {
                    // Duplicates only cost space and scan time (reads take the first row of a key),
                    // so failing to remove them does not fail the write; `esmdb compact` retries.
                    match self.remove_duplicate_keys(table, key).await {
                        Ok(removed) => tracing::info!(table, removed, "declared the primary key, removed duplicates"),
                        Err(e) => {
                            tracing::warn!(table, error = %e, "declared the primary key; removing duplicates failed")
                        }
                    }
                    return self.open_existing(table).await;
                }
                // Most likely another writer declared it at the same time (Lance rejects a second
                // declaration, even of the same key): look again at the latest version.
                Err(e) => {
                    tracing::debug!(table, error = %e, "declaring the primary key failed; re-reading the table");
                    last_error = Some(e);
                    ds = self.open_existing(table).await?;
                }
            }
        }
        match last_error {
            Some(source) => Err(Error::Lance { table: table.to_owned(), operation: "declare primary key", source }),
            None => Err(Error::Schema { table: table.to_owned(), message: "primary key could not be declared".into() }),
        }
    }
}
