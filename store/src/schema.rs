//! Table names and Arrow schemas of the store, and conversions between records and record batches.
//!
//! These are the store's public contract with the SQL layer and with Python (`pylance`): change a
//! column here and both see it.
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::input::VariantRecord;

/// Variants of every dataset: one row per (dataset, id).
pub const VARIANTS: &str = "variants";
/// One row per dataset: sources, row count, ingest time, the `variants` version the ingest produced.
pub const DATASETS: &str = "datasets";
/// Prefix of the embedding tables; one table per vector width: `embeddings_d320`, `embeddings_d1280`.
pub const EMBEDDINGS_PREFIX: &str = "embeddings_d";

/// The embedding table for vectors of `dim` floats.
pub fn embeddings_table(dim: usize) -> String {
    format!("{EMBEDDINGS_PREFIX}{dim}")
}

/// `variants`: dataset, id, mutant?, sequence, seq_hash, target?, input_row, extra? (JSON object of
/// the input's other columns).
pub fn variants_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("dataset", DataType::Utf8, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("mutant", DataType::Utf8, true),
        Field::new("sequence", DataType::Utf8, false),
        Field::new("seq_hash", DataType::Utf8, false),
        Field::new("target", DataType::Float64, true),
        Field::new("input_row", DataType::Int64, false),
        Field::new("extra", DataType::Utf8, true),
    ]))
}

/// `datasets`: name, sources (list of paths), rows, ingested_at (UTC µs), version (of `variants`).
pub fn datasets_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("sources", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        Field::new("rows", DataType::Int64, false),
        Field::new("ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("version", DataType::UInt64, false),
    ]))
}

/// The content key of an `embeddings_d{dim}` row, in primary-key order: each key is stored once.
pub const EMBEDDINGS_KEY: [&str; 4] = ["model_id", "layer", "pooling", "seq_hash"];

/// Arrow field metadata that makes a column part of a Lance table's unenforced primary key.
const PRIMARY_KEY: &str = "lance-schema:unenforced-primary-key";
/// Its 1-based position within a composite key.
const PRIMARY_KEY_POSITION: &str = "lance-schema:unenforced-primary-key:position";

/// The field metadata declaring a column the `position`-th (1-based) column of the table's primary
/// key. Lance does not enforce uniqueness, but a `merge_insert` on exactly these columns records the
/// keys it inserts, so two concurrent writers inserting the same key conflict and one retries.
pub(crate) fn primary_key_metadata(position: usize) -> HashMap<String, String> {
    HashMap::from([
        (PRIMARY_KEY.to_owned(), "true".to_owned()),
        (PRIMARY_KEY_POSITION.to_owned(), position.to_string()),
    ])
}

/// `embeddings_d{dim}`: model_id, layer, pooling, seq_hash, vector (FixedSizeList<Float32, dim>).
/// The first four columns are the table's primary key ([`EMBEDDINGS_KEY`]).
pub fn embeddings_schema(dim: usize) -> SchemaRef {
    let key = |position: usize, name: &str, data_type: DataType| {
        Field::new(name, data_type, false).with_metadata(primary_key_metadata(position))
    };
    Arc::new(Schema::new(vec![
        key(1, EMBEDDINGS_KEY[0], DataType::Utf8),
        key(2, EMBEDDINGS_KEY[1], DataType::Int32),
        key(3, EMBEDDINGS_KEY[2], DataType::Utf8),
        key(4, EMBEDDINGS_KEY[3], DataType::Utf8),
        Field::new(
            "vector",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim as i32),
            false,
        ),
    ]))
}

/// Per-position tables of one sequence (zero-shot scoring's log-probabilities), computed once per
/// (model, method, sequence).
pub const LOG_PROBS: &str = "log_probs";

/// The content key of a `log_probs` row, in primary-key order.
pub const LOG_PROBS_KEY: [&str; 3] = ["model_id", "method", "seq_hash"];

/// `log_probs`: model_id, method, seq_hash (the key, [`LOG_PROBS_KEY`]), length (rows), width
/// (values per row), values (`List<Float32>`, `length × width`, row-major).
pub fn log_probs_schema() -> SchemaRef {
    let key = |position: usize, name: &str| {
        Field::new(name, DataType::Utf8, false).with_metadata(primary_key_metadata(position))
    };
    Arc::new(Schema::new(vec![
        key(1, LOG_PROBS_KEY[0]),
        key(2, LOG_PROBS_KEY[1]),
        key(3, LOG_PROBS_KEY[2]),
        Field::new("length", DataType::Int32, false),
        Field::new("width", DataType::Int32, false),
        Field::new("values", DataType::List(Arc::new(Field::new("item", DataType::Float32, true))), false),
    ]))
}

/// Builds a `log_probs` batch: one row per (seq_hash, table).
pub fn log_probs_batch(model_id: &str, method: &str, rows: &[(&str, &crate::TokenTable)]) -> Result<RecordBatch> {
    let mut values =
        ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new("item", DataType::Float32, true)));
    for (_, t) in rows {
        values.values().append_slice(&t.values);
        values.append(true);
    }
    let int = |v: usize, what: &str| {
        i32::try_from(v).map_err(|_| Error::Option(format!("a log-probability table's {what} {v} is too large")))
    };
    let lengths = rows.iter().map(|(_, t)| int(t.length, "length")).collect::<Result<Vec<_>>>()?;
    let widths = rows.iter().map(|(_, t)| int(t.width, "width")).collect::<Result<Vec<_>>>()?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| model_id))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| method))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int32Array::from(lengths)),
        Arc::new(Int32Array::from(widths)),
        Arc::new(values.finish()),
    ];
    RecordBatch::try_new(log_probs_schema(), columns).map_err(Error::arrow("building a log_probs batch"))
}

/// Builds a `variants` batch.
pub fn variants_batch(dataset: &str, records: &[&VariantRecord]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(records.iter().map(|_| dataset))),
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.id.as_str()))),
        Arc::new(records.iter().map(|r| r.mutant.as_deref()).collect::<StringArray>()),
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.sequence.as_str()))),
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.seq_hash.as_str()))),
        Arc::new(records.iter().map(|r| r.target).collect::<Float64Array>()),
        Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.input_row))),
        Arc::new(records.iter().map(|r| r.extra.as_deref()).collect::<StringArray>()),
    ];
    RecordBatch::try_new(variants_schema(), columns).map_err(Error::arrow("building a variants batch"))
}

/// A row of the `datasets` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    /// Dataset name.
    pub name: String,
    /// Input files ingested into it, in ingest order.
    pub sources: Vec<String>,
    /// Variant count after the last ingest.
    pub rows: i64,
    /// Time of the last ingest, µs since the Unix epoch (UTC).
    pub ingested_at: i64,
    /// The `variants` table version that ingest produced (or found, if it added nothing).
    pub version: u64,
}

/// Builds a `datasets` batch.
pub fn datasets_batch(infos: &[DatasetInfo]) -> Result<RecordBatch> {
    let mut sources = ListBuilder::new(StringBuilder::new());
    for info in infos {
        for s in &info.sources {
            sources.values().append_value(s);
        }
        sources.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(infos.iter().map(|i| i.name.as_str()))),
        Arc::new(sources.finish()),
        Arc::new(Int64Array::from_iter_values(infos.iter().map(|i| i.rows))),
        Arc::new(TimestampMicrosecondArray::from_iter_values(infos.iter().map(|i| i.ingested_at)).with_timezone("UTC")),
        Arc::new(UInt64Array::from_iter_values(infos.iter().map(|i| i.version))),
    ];
    RecordBatch::try_new(datasets_schema(), columns).map_err(Error::arrow("building a datasets batch"))
}

/// Reads `datasets` rows back.
pub fn dataset_infos(batch: &RecordBatch) -> Result<Vec<DatasetInfo>> {
    let names = column::<StringArray>(batch, DATASETS, "name")?;
    let sources = column::<arrow_array::ListArray>(batch, DATASETS, "sources")?;
    let rows = column::<Int64Array>(batch, DATASETS, "rows")?;
    let at = column::<TimestampMicrosecondArray>(batch, DATASETS, "ingested_at")?;
    let version = column::<UInt64Array>(batch, DATASETS, "version")?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let list = sources.value(i);
        let list = list.as_any().downcast_ref::<StringArray>().ok_or_else(|| schema_error(DATASETS, "sources"))?;
        out.push(DatasetInfo {
            name: names.value(i).to_owned(),
            sources: list.iter().flatten().map(str::to_owned).collect(),
            rows: rows.value(i),
            ingested_at: at.value(i),
            version: version.value(i),
        });
    }
    Ok(out)
}

/// Builds an `embeddings_d{dim}` batch from flat `[n, dim]` vectors.
pub fn embeddings_batch(
    dim: usize,
    model_id: &str,
    rows: &[(i32, &str, &str)],
    vectors: &[f32],
) -> Result<RecordBatch> {
    let mut vector =
        FixedSizeListBuilder::with_capacity(Float32Builder::with_capacity(vectors.len()), dim as i32, rows.len())
            .with_field(Arc::new(Field::new("item", DataType::Float32, true)));
    for row in vectors.chunks(dim) {
        vector.values().append_slice(row);
        vector.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| model_id))),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        Arc::new(vector.finish()),
    ];
    RecordBatch::try_new(embeddings_schema(dim), columns).map_err(Error::arrow("building an embeddings batch"))
}

/// A typed column of a batch read from `table`, or a [`Error::Schema`].
pub fn column<'a, T: 'static>(batch: &'a RecordBatch, table: &str, name: &str) -> Result<&'a T> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<T>()).ok_or_else(|| schema_error(table, name))
}

fn schema_error(table: &str, name: &str) -> Error {
    Error::Schema { table: table.to_owned(), message: format!("column `{name}` is missing or has an unexpected type") }
}
