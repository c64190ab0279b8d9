//! Vectors computed elsewhere, put into the embedding cache under a model's identity: Parquet files
//! with a `sequence` (or `id`, resolved through a dataset's variants) column and a vector column
//! (`FixedSizeList` or `List` of floats), one row per sequence.
//!
//! Everything is read and checked before the store is touched — widths, NaN/inf, repeated
//! sequences, unknown ids, sequences the sequence policy refuses — so a bad file writes nothing.
//! Then the vectors are committed as keyed merges ([`crate::keyed`]) of [`ImportParams::batch_rows`]
//! rows: keys already cached are left as they are, and an import running beside other writers stores
//! each key once.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;

use crate::cache::OutputKey;
use crate::error::{Error, Result};
use crate::schema::{self, EMBEDDINGS_KEY, VARIANTS};
use crate::store::Store;

/// Where imported vectors go: a model identity (as the cache keys it, `name@checksum`), its width,
/// and the output (layer, pooling) they are.
#[derive(Debug, Clone)]
pub struct ImportTarget {
    /// The model id the vectors are cached under.
    pub model_id: String,
    /// The model's vector width; every vector must have it.
    pub dim: usize,
    /// Layer and pooling.
    pub key: OutputKey,
}

/// How to read the files.
#[derive(Debug, Clone)]
pub struct ImportParams {
    /// The sequence column (default `sequence`); used when present.
    pub sequence_col: String,
    /// The id column (default `id`), used when there is no sequence column: ids of `dataset`.
    pub id_col: String,
    /// The dataset whose variants the ids name.
    pub dataset: Option<String>,
    /// The vector column (default `vector`).
    pub vector_col: String,
    /// Vectors per commit (default 65,536).
    pub batch_rows: usize,
}

impl Default for ImportParams {
    fn default() -> Self {
        ImportParams {
            sequence_col: "sequence".into(),
            id_col: "id".into(),
            dataset: None,
            vector_col: "vector".into(),
            batch_rows: 65_536,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Vectors read from the files.
    pub rows: usize,
    /// Vectors added to the cache.
    pub written: usize,
    /// Vectors whose key was cached already (left as they were).
    pub already_cached: usize,
    /// Commits.
    pub commits: usize,
}

impl Store {
    /// Imports the vectors of `files` (Parquet) into the cache under `target` (see the module doc).
    pub async fn import_vectors(
        &self,
        files: &[PathBuf],
        target: &ImportTarget,
        params: &ImportParams,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<ImportReport> {
        if target.dim == 0 || params.batch_rows == 0 {
            return Err(Error::Option("import: the width and the batch size must be positive".into()));
        }
        let ids = self.ids_of(files, params).await?;
        // Pass 1 reads and checks every file and keeps only the hashes (for repeats), so nothing is
        // written unless all of it is good; pass 2 reads them again and commits.
        let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
        for (f, path) in files.iter().enumerate() {
            let mut row = 0;
            let mut reader = CheckedReader::open(path, target, params, ids.as_ref())?;
            while let Some((hashes, _)) = reader.next_batch()? {
                for h in hashes {
                    row += 1;
                    if let Some(&(g, first)) = seen.get(h.as_str()) {
                        let at = if g == f { format!("row {first}") } else { files[g].display().to_string() };
                        return Err(Error::Input {
                            path: path.clone(),
                            line: row,
                            message: format!("the sequence of this row was given before ({at})"),
                        });
                    }
                    seen.insert(h, (f, row));
                }
            }
            if row == 0 {
                return Err(Error::EmptyFile { path: path.clone() });
            }
        }
        let total = seen.len();
        drop(seen);
        let table = schema::embeddings_table(target.dim);
        let mut report = ImportReport { rows: total, ..Default::default() };
        progress(0, total);
        for path in files {
            let mut reader = CheckedReader::open(path, target, params, ids.as_ref())?;
            let mut hashes: Vec<String> = Vec::new();
            let mut values: Vec<f32> = Vec::new();
            loop {
                let more = reader.next_batch()?;
                if let Some((h, v)) = more.as_ref() {
                    hashes.extend_from_slice(h);
                    values.extend_from_slice(v);
                }
                // Commit whole batches as they fill, and the rest at the file's end.
                while hashes.len() >= params.batch_rows || (more.is_none() && !hashes.is_empty()) {
                    let n = hashes.len().min(params.batch_rows);
                    let chunk: Vec<String> = hashes.drain(..n).collect();
                    let chunk_values: Vec<f32> = values.drain(..n * target.dim).collect();
                    let rows: Vec<(i32, &str, &str)> =
                        chunk.iter().map(|h| (target.key.layer, target.key.pooling.name(), h.as_str())).collect();
                    let batch = schema::embeddings_batch(target.dim, &target.model_id, &rows, &chunk_values)?;
                    let written = self.insert_new_keys(&table, &EMBEDDINGS_KEY, batch).await?;
                    let inserted = usize::try_from(written.inserted).unwrap_or(rows.len()).min(rows.len());
                    report.written += inserted;
                    report.already_cached += rows.len() - inserted;
                    report.commits += 1;
                    progress(report.written + report.already_cached, total);
                }
                if more.is_none() {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// With an id column: the dataset's id → seq_hash map (`None` when the files give sequences).
    async fn ids_of(&self, files: &[PathBuf], params: &ImportParams) -> Result<Option<HashMap<String, String>>> {
        let mut by_id = false;
        for path in files {
            let names = column_names(path)?;
            let has = |c: &str| names.iter().any(|n| n == c);
            if has(&params.sequence_col) {
                continue;
            }
            if !has(&params.id_col) {
                return Err(Error::MissingColumn {
                    path: path.clone(),
                    column: format!("{} (or {})", params.sequence_col, params.id_col),
                    found: names.join(", "),
                });
            }
            by_id = true;
        }
        if !by_id {
            return Ok(None);
        }
        let Some(dataset) = &params.dataset else {
            return Err(Error::Option(format!(
                "import: the files give ids (column `{}`) and no sequences: name the dataset they belong to",
                params.id_col
            )));
        };
        let batch = self.variants(dataset, None).await?;
        let ids = schema::column::<StringArray>(&batch, VARIANTS, "id")?;
        let hashes = schema::column::<StringArray>(&batch, VARIANTS, "seq_hash")?;
        Ok(Some((0..batch.num_rows()).map(|i| (ids.value(i).to_owned(), hashes.value(i).to_owned())).collect()))
    }
}

fn parquet_error(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> Error + '_ {
    move |source| Error::Parquet { path: path.to_owned(), source }
}

fn open(path: &Path) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error(path))
}

fn column_names(path: &Path) -> Result<Vec<String>> {
    Ok(open(path)?.schema().fields().iter().map(|f| f.name().clone()).collect())
}

/// One file read and checked a record batch at a time: each row's seq_hash and vector.
struct CheckedReader<'a> {
    path: &'a Path,
    target: &'a ImportTarget,
    params: &'a ImportParams,
    ids: Option<&'a HashMap<String, String>>,
    by_sequence: bool,
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    rows: usize,
}

impl<'a> CheckedReader<'a> {
    fn open(
        path: &'a Path,
        target: &'a ImportTarget,
        params: &'a ImportParams,
        ids: Option<&'a HashMap<String, String>>,
    ) -> Result<Self> {
        let builder = open(path)?;
        let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
        if !names.contains(&params.vector_col) {
            return Err(Error::MissingColumn {
                path: path.to_owned(),
                column: params.vector_col.clone(),
                found: names.join(", "),
            });
        }
        let by_sequence = names.contains(&params.sequence_col);
        let reader = builder.build().map_err(parquet_error(path))?;
        Ok(CheckedReader { path, target, params, ids, by_sequence, reader, rows: 0 })
    }

    /// The next record batch's hashes and flat vectors, checked; `None` at the end.
    fn next_batch(&mut self) -> Result<Option<(Vec<String>, Vec<f32>)>> {
        let Some(batch) = self.reader.next() else { return Ok(None) };
        let path = self.path;
        let batch = batch.map_err(Error::arrow(format!("{}: reading", path.display())))?;
        let column = if self.by_sequence { &self.params.sequence_col } else { &self.params.id_col };
        let keys = text_column(&batch, column, path)?;
        let vectors = batch.column_by_name(&self.params.vector_col).cloned().ok_or_else(|| Error::Format {
            path: path.to_owned(),
            message: format!("column `{}` vanished", self.params.vector_col),
        })?;
        let mut hashes = Vec::with_capacity(batch.num_rows());
        let mut values = Vec::with_capacity(batch.num_rows() * self.target.dim);
        for i in 0..batch.num_rows() {
            self.rows += 1;
            let row = self.rows;
            let bad = |message: String| Error::Input { path: path.to_owned(), line: row, message };
            let key = keys.is_valid(i).then(|| keys.value(i)).ok_or_else(|| bad("no sequence or id".into()))?;
            let hash = if self.by_sequence {
                let normalized = esmdb_seq::normalize(key)
                    .map_err(|refusal| bad(refusal.for_id(&format!("row {row}")).to_string()))?;
                esmdb_seq::seq_hash(&normalized)
            } else {
                self.ids.and_then(|m| m.get(key)).cloned().ok_or_else(|| {
                    bad(format!(
                        "id `{key}` is not a variant of dataset `{}`",
                        self.params.dataset.as_deref().unwrap_or("")
                    ))
                })?
            };
            push_vector(&vectors, i, self.target, &mut values).map_err(bad)?;
            hashes.push(hash);
        }
        Ok(Some((hashes, values)))
    }
}

/// A string column of `batch` (Utf8, LargeUtf8 or Utf8View, cast to Utf8).
fn text_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<StringArray> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Format { path: path.to_owned(), message: format!("column `{name}` vanished") })?;
    let cast = arrow::compute::cast(column, &DataType::Utf8)
        .map_err(|_| Error::Format { path: path.to_owned(), message: format!("column `{name}` is not text") })?;
    Ok(cast.as_string::<i32>().clone())
}

/// Appends row `i`'s vector, checked: present, `dim` values, all finite.
fn push_vector(
    column: &ArrayRef,
    i: usize,
    target: &ImportTarget,
    out: &mut Vec<f32>,
) -> std::result::Result<(), String> {
    if column.is_null(i) {
        return Err("the vector is missing".into());
    }
    let values: ArrayRef = match column.data_type() {
        DataType::FixedSizeList(_, _) => column.as_fixed_size_list().value(i),
        DataType::List(_) => column.as_list::<i32>().value(i),
        DataType::LargeList(_) => column.as_list::<i64>().value(i),
        other => return Err(format!("the vector column is {other}, not a list of floats")),
    };
    let start = out.len();
    match values.data_type() {
        DataType::Float32 => out.extend(values.as_primitive::<Float32Type>().iter().map(|v| v.unwrap_or(f32::NAN))),
        DataType::Float64 => {
            out.extend(values.as_primitive::<Float64Type>().iter().map(|v| v.map_or(f32::NAN, |v| v as f32)));
        }
        other => return Err(format!("the vector holds {other}, not floats")),
    }
    let got = out.len() - start;
    if got != target.dim {
        out.truncate(start);
        return Err(format!("the vector has {got} values, but `{}` is {} wide", target.model_id, target.dim));
    }
    if let Some(j) = out[start..].iter().position(|v| !v.is_finite()) {
        return Err(format!("value {} of the vector is {} (NaN, infinite or missing)", j + 1, out[start + j]));
    }
    Ok(())
}
