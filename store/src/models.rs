//! Which models filled the store's caches, and where their weights are: one row per model id in
//! the `models` table, written the first time a model's vectors are cached. A session opened
//! without a model takes the latest one, so `esmdb sql` goes on from where `esmdb reproduce` or
//! `esmdb embed` left the store, random-weight stand-ins included.
use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::schema::{self, primary_key_metadata};
use crate::store::Store;

/// The table of models.
pub const MODELS: &str = "models";
/// Its key: each model id once.
const MODELS_KEY: [&str; 1] = ["model_id"];

/// A model whose vectors the store caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRecord {
    /// The cache's model id (`name@checksum`).
    pub model_id: String,
    /// Where its weights were loaded from (a path, or the name as given).
    pub source: String,
    /// Vector width.
    pub dim: usize,
    /// When it was recorded, µs since the Unix epoch (UTC).
    pub recorded_at: i64,
}

/// `models`: model_id (the key), source, dim, recorded_at (UTC µs).
pub fn models_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model_id", DataType::Utf8, false).with_metadata(primary_key_metadata(1)),
        Field::new("source", DataType::Utf8, false),
        Field::new("dim", DataType::Int32, false),
        Field::new("recorded_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ]))
}

impl Store {
    /// Records that `model_id` (loaded from `source`, `dim` wide) has vectors in the store; a model
    /// recorded before keeps its row. Returns whether a row was added.
    pub async fn record_model(&self, model_id: &str, source: &str, dim: usize) -> Result<bool> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let dim = i32::try_from(dim).map_err(|_| Error::Option(format!("width {dim} is too large")))?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![model_id])),
            Arc::new(StringArray::from(vec![source])),
            Arc::new(Int32Array::from(vec![dim])),
            Arc::new(TimestampMicrosecondArray::from(vec![now]).with_timezone("UTC")),
        ];
        let batch = RecordBatch::try_new(models_schema(), columns).map_err(Error::arrow("building a models batch"))?;
        Ok(self.insert_new_keys(MODELS, &MODELS_KEY, batch).await?.inserted > 0)
    }

    /// The models recorded, the latest first.
    pub async fn models(&self) -> Result<Vec<ModelRecord>> {
        let Some(batch) = self.scan(MODELS, None, None, None).await? else { return Ok(Vec::new()) };
        let ids = schema::column::<StringArray>(&batch, MODELS, "model_id")?;
        let sources = schema::column::<StringArray>(&batch, MODELS, "source")?;
        let dims = schema::column::<Int32Array>(&batch, MODELS, "dim")?;
        let times = schema::column::<TimestampMicrosecondArray>(&batch, MODELS, "recorded_at")?;
        let mut out: Vec<ModelRecord> = (0..batch.num_rows())
            .map(|i| ModelRecord {
                model_id: ids.value(i).to_owned(),
                source: sources.value(i).to_owned(),
                dim: usize::try_from(dims.value(i)).unwrap_or(0),
                recorded_at: times.value(i),
            })
            .collect();
        out.sort_by(|a, b| b.recorded_at.cmp(&a.recorded_at).then_with(|| a.model_id.cmp(&b.model_id)));
        Ok(out)
    }
}
