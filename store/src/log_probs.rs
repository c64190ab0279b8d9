//! The per-position table cache: zero-shot scoring's log-probabilities of a wild type, one row per
//! (model id, method, seq_hash) in the `log_probs` table.
//!
//! Why a cache: a DMS dataset's thousands of variants share one wild type, and `masked-marginals`
//! costs one forward pass per wild-type position. With the table stored, every variant's score is a
//! lookup, a repeated query runs no model at all, and the table outlives the process. Writes are
//! keyed merges as for embeddings ([`crate::keyed`]): concurrent writers store each key once.
use std::collections::{HashMap, HashSet};

use arrow_array::{Array, Float32Array, Int32Array, ListArray, StringArray};
use lance::deps::datafusion::prelude::{col, lit};

use crate::error::{Error, Result};
use crate::schema::{self, LOG_PROBS, LOG_PROBS_KEY};
use crate::store::Store;

/// A per-position table of one sequence: `length` rows of `width` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenTable {
    /// Rows (residue positions).
    pub length: usize,
    /// Values per row (the model's vocabulary).
    pub width: usize,
    /// `length × width` values.
    pub values: Vec<f32>,
}

impl Store {
    /// The cached tables of (`model_id`, `method`) among `hashes`; absent ones are absent from the map.
    pub async fn lookup_log_probs(
        &self,
        model_id: &str,
        method: &str,
        hashes: &[String],
    ) -> Result<HashMap<String, TokenTable>> {
        let wanted: Vec<&str> = hashes.iter().map(String::as_str).collect::<HashSet<_>>().into_iter().collect();
        let filter = col("model_id").eq(lit(model_id)).and(col("method").eq(lit(method)));
        let columns = ["seq_hash", "length", "width", "values"];
        let mut out = HashMap::new();
        self.scan_keys(LOG_PROBS, filter, &wanted, &columns, &mut |batch| {
            let seq_hashes = schema::column::<StringArray>(batch, LOG_PROBS, "seq_hash")?;
            let lengths = schema::column::<Int32Array>(batch, LOG_PROBS, "length")?;
            let widths = schema::column::<Int32Array>(batch, LOG_PROBS, "width")?;
            let lists = schema::column::<ListArray>(batch, LOG_PROBS, "values")?;
            for i in 0..batch.num_rows() {
                let hash = seq_hashes.value(i);
                if out.contains_key(hash) {
                    continue;
                }
                let row = lists.value(i);
                let values = row.as_any().downcast_ref::<Float32Array>().ok_or_else(|| Error::Schema {
                    table: LOG_PROBS.into(),
                    message: "values are not Float32".into(),
                })?;
                let (length, width) = (lengths.value(i).max(0) as usize, widths.value(i).max(0) as usize);
                if values.len() != length * width || values.null_count() > 0 {
                    return Err(Error::Schema {
                        table: LOG_PROBS.into(),
                        message: format!(
                            "the row of {model_id} / {method} / {hash} holds {} values for {length} × {width}",
                            values.len()
                        ),
                    });
                }
                out.insert(hash.to_owned(), TokenTable { length, width, values: values.values().to_vec() });
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Stores tables under (`model_id`, `method`, seq_hash) as one keyed commit; keys already present
    /// (another writer's) are left as they are. Returns the rows added.
    pub async fn insert_log_probs(
        &self,
        model_id: &str,
        method: &str,
        tables: &[(String, TokenTable)],
    ) -> Result<usize> {
        let mut seen = HashSet::new();
        let rows: Vec<(&str, &TokenTable)> =
            tables.iter().filter(|(h, _)| seen.insert(h.as_str())).map(|(h, t)| (h.as_str(), t)).collect();
        if let Some((hash, t)) = rows.iter().find(|(_, t)| t.values.len() != t.length * t.width) {
            return Err(Error::Option(format!(
                "log-probability table for {hash}: {} values for {} × {}",
                t.values.len(),
                t.length,
                t.width
            )));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let batch = schema::log_probs_batch(model_id, method, &rows)?;
        let written = self.insert_new_keys(LOG_PROBS, &LOG_PROBS_KEY, batch).await?;
        Ok(usize::try_from(written.inserted).unwrap_or(rows.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(length: usize, seed: f32) -> TokenTable {
        TokenTable { length, width: 3, values: (0..length * 3).map(|i| seed + i as f32).collect() }
    }

    #[tokio::test]
    async fn tables_round_trip_once_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path().to_str().unwrap()).await.unwrap();
        let hashes = vec!["h1".to_owned(), "h2".to_owned()];
        assert!(store.lookup_log_probs("m@1", "masked-marginals", &hashes).await.unwrap().is_empty());
        let rows = vec![("h1".to_owned(), table(2, 0.5)), ("h2".to_owned(), table(4, -1.0))];
        assert_eq!(store.insert_log_probs("m@1", "masked-marginals", &rows).await.unwrap(), 2);
        // Same keys again (a second writer): nothing added, the first rows kept.
        let again = vec![("h1".to_owned(), table(2, 9.0))];
        assert_eq!(store.insert_log_probs("m@1", "masked-marginals", &again).await.unwrap(), 0);
        let found = store.lookup_log_probs("m@1", "masked-marginals", &hashes).await.unwrap();
        assert_eq!(found["h1"], table(2, 0.5));
        assert_eq!(found["h2"], table(4, -1.0));
        // Method and model are part of the key.
        assert!(store.lookup_log_probs("m@1", "wt-marginals", &hashes).await.unwrap().is_empty());
        assert!(store.lookup_log_probs("m@2", "masked-marginals", &hashes).await.unwrap().is_empty());
        let bad = vec![("h3".to_owned(), TokenTable { length: 2, width: 3, values: vec![0.0; 5] })];
        let err = store.insert_log_probs("m@1", "masked-marginals", &bad).await.unwrap_err().to_string();
        assert!(err.contains("h3") && err.contains("5 values for 2 × 3"), "{err}");
    }
}
