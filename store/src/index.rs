//! The cache tables' key index: a Lance BTree on `seq_hash`, so that asking for k sequences reads
//! O(k) rows of `embeddings_d{dim}` or `log_probs`, whatever the table holds.
//!
//! A lookup filters `model_id = … AND layer = … AND pooling = … AND seq_hash IN (…)`: Lance answers
//! the `IN` from the index for the fragments it covers, reads only those rows, checks the rest of the
//! key on them, and scans the fragments written since the index was last brought up to date in full.
//! So every write that leaves at least [`crate::StoreParams::index_every`] rows outside the index
//! folds them in: as a new index segment (cost: the new rows), and once [`MAX_SEGMENTS`] segments
//! have piled up, as one merged segment (cost: the index's size, every `MAX_SEGMENTS` refreshes).
//!
//! Only `seq_hash` is indexed, never every key column: Lance's `merge_insert` takes its older
//! indexed path when all of its `on` columns are indexed, and that path records no inserted keys,
//! which the keyed merge's exactness under concurrent writers depends on (see [`crate::keyed`]).
//!
//! Index work never fails a write: the write has committed, and an index that is behind only
//! costs scan time (the next write to the table tries again). An index commit is written
//! after its files, so a process killed while building one leaves the table as it was.
use lance::Dataset;
use lance::index::DatasetIndexExt;
use lance_index::IndexType;
use lance_index::optimize::OptimizeOptions;
use lance_index::scalar::ScalarIndexParams;

use crate::error::{Error, Result};

/// Name of the BTree index on `seq_hash` in the cache tables.
pub const KEY_INDEX: &str = "seq_hash_idx";
/// The indexed column.
const KEY_COLUMN: &str = "seq_hash";
/// Rows per BTree page (Lance's default is 4,096). A lookup reads every page that holds one of its
/// keys, and random keys spread over the pages: k keys among N rows read about min(k·page, N) keys of
/// the index, so small pages keep that near k·page instead of the whole index once k·4,096 > N.
pub const ZONE_ROWS: usize = 64;
/// Index segments at which a refresh merges them all into one instead of adding another: a lookup
/// searches every segment, so their number stays bounded.
pub const MAX_SEGMENTS: usize = 8;

/// The state of a table's key index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIndexState {
    /// Index segments (0: the table has no key index).
    pub segments: usize,
    /// Rows of fragments no segment covers (scanned in full by a lookup).
    pub unindexed_rows: usize,
}

/// The key index of `ds`: its segments and the rows it does not cover.
pub async fn key_index_state(ds: &Dataset, table: &str) -> Result<KeyIndexState> {
    let segments = ds.load_indices_by_name(KEY_INDEX).await.map_err(Error::lance(table, "load indices"))?;
    let covered = |fragment: u64| {
        u32::try_from(fragment).is_ok_and(|id| {
            segments.iter().any(|s| s.fragment_bitmap.as_ref().is_some_and(|bitmap| bitmap.contains(id)))
        })
    };
    let unindexed_rows = ds.fragments().iter().filter(|f| !covered(f.id)).map(|f| f.physical_rows.unwrap_or(0)).sum();
    Ok(KeyIndexState { segments: segments.len(), unindexed_rows })
}

/// Creates the key index when `ds` has none, and folds unindexed rows into it once there are at
/// least `every` of them (0: whenever any). Returns the state after.
pub async fn maintain_key_index(ds: &mut Dataset, table: &str, every: usize) -> Result<KeyIndexState> {
    let state = key_index_state(ds, table).await?;
    if state.segments == 0 {
        let params =
            ScalarIndexParams { params: Some(format!(r#"{{"zone_size":{ZONE_ROWS}}}"#)), ..Default::default() };
        ds.create_index(&[KEY_COLUMN], IndexType::BTree, Some(KEY_INDEX.to_owned()), &params, false)
            .await
            .map_err(Error::lance(table, "create the seq_hash index"))?;
    } else if state.unindexed_rows > 0 && state.unindexed_rows >= every {
        let options = if state.segments >= MAX_SEGMENTS {
            OptimizeOptions::merge(state.segments)
        } else {
            OptimizeOptions::append()
        };
        ds.optimize_indices(&options.index_names(vec![KEY_INDEX.to_owned()]))
            .await
            .map_err(Error::lance(table, "update the seq_hash index"))?;
    } else {
        return Ok(state);
    }
    key_index_state(ds, table).await
}
