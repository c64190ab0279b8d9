//! Writing query results: pretty tables with long vectors abbreviated, CSV, JSON lines, Parquet.
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::{DataFusionError, Result};

/// Output formats of `esmdb sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A pretty table (vectors abbreviated).
    Table,
    /// CSV with a header; vectors written whole as `[v1, v2, …]`.
    Csv,
    /// One JSON object per row.
    Json,
    /// Parquet (needs a file).
    Parquet,
}

impl FromStr for Format {
    type Err = DataFusionError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" | "ndjson" => Ok(Format::Json),
            "parquet" => Ok(Format::Parquet),
            other => Err(DataFusionError::Configuration(format!(
                "unknown format `{other}`; expected table, csv, json or parquet"
            ))),
        }
    }
}

/// Replaces list (vector) columns by strings: the first `max_values` values, then `… (N values)`.
/// Other columns are kept as they are.
pub fn abbreviate(batch: &RecordBatch, max_values: usize) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if is_list(field.data_type()) {
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(vector_strings(column, max_values)?));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

fn is_list(t: &DataType) -> bool {
    matches!(t, DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..))
}

fn vector_strings(column: &ArrayRef, max_values: usize) -> Result<StringArray> {
    use arrow::array::AsArray;
    let value = |i: usize| -> ArrayRef {
        match column.data_type() {
            DataType::List(_) => column.as_list::<i32>().value(i),
            DataType::LargeList(_) => column.as_list::<i64>().value(i),
            _ => column.as_fixed_size_list().value(i),
        }
    };
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::with_capacity(column.len());
    for i in 0..column.len() {
        if column.is_null(i) {
            out.push(None);
            continue;
        }
        let v = value(i);
        let shown = v.len().min(max_values);
        let head = v.slice(0, shown);
        let f = ArrayFormatter::try_new(head.as_ref(), &options)?;
        let mut s = String::from("[");
        for j in 0..shown {
            if j > 0 {
                s.push_str(", ");
            }
            s.push_str(&f.value(j).to_string());
        }
        if v.len() > shown {
            s.push_str(&format!(", … ({} values)", v.len()));
        }
        s.push(']');
        out.push(Some(s));
    }
    Ok(StringArray::from(out))
}

/// A pretty table of `batches`, vectors abbreviated to 4 values.
pub fn pretty(batches: &[RecordBatch]) -> Result<String> {
    let shown = batches.iter().map(|b| abbreviate(b, 4)).collect::<Result<Vec<_>>>()?;
    Ok(arrow::util::pretty::pretty_format_batches(&shown)?.to_string())
}

/// Writes batches as they come, in one format, to `out`.
pub struct Writer<W: Write + Send> {
    format: Format,
    inner: WriterInner<W>,
}

enum WriterInner<W: Write + Send> {
    Table(W),
    Csv(Option<W>, bool),
    Json(arrow::json::LineDelimitedWriter<W>),
    Parquet(datafusion::parquet::arrow::ArrowWriter<W>),
    Pending(W),
}

impl<W: Write + Send> Writer<W> {
    /// A writer of `format` to `out`.
    pub fn new(format: Format, out: W) -> Self {
        let inner = match format {
            Format::Table => WriterInner::Table(out),
            Format::Csv => WriterInner::Csv(Some(out), true),
            Format::Json => WriterInner::Json(arrow::json::LineDelimitedWriter::new(out)),
            Format::Parquet => WriterInner::Pending(out),
        };
        Writer { format, inner }
    }

    /// Writes one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if let WriterInner::Pending(_) = self.inner {
            let WriterInner::Pending(out) = std::mem::replace(&mut self.inner, WriterInner::Csv(None, false)) else {
                unreachable!()
            };
            self.inner =
                WriterInner::Parquet(datafusion::parquet::arrow::ArrowWriter::try_new(out, batch.schema(), None)?);
        }
        match &mut self.inner {
            WriterInner::Table(out) => {
                if batch.num_rows() > 0 {
                    writeln!(out, "{}", pretty(std::slice::from_ref(batch))?)?;
                    // Rows appear as they are computed, not when the query ends.
                    out.flush()?;
                }
            }
            WriterInner::Csv(out, header) => {
                let Some(out) = out.as_mut() else { return Ok(()) };
                let full = abbreviate(batch, usize::MAX)?;
                let mut w = arrow::csv::WriterBuilder::new().with_header(*header).build(&mut *out);
                w.write(&full)?;
                *header = false;
                drop(w);
                out.flush()?;
            }
            WriterInner::Json(w) => w.write(batch)?,
            WriterInner::Parquet(w) => w.write(batch)?,
            WriterInner::Pending(_) => {}
        }
        Ok(())
    }

    /// Finishes the output (Parquet footer, JSON flush). `schema` is used when no batch came.
    pub fn finish(self, schema: &Schema) -> Result<()> {
        match self.inner {
            WriterInner::Table(mut out) => out.flush()?,
            WriterInner::Csv(Some(mut out), header) => {
                if header {
                    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    writeln!(out, "{}", names.join(","))?;
                }
                out.flush()?
            }
            WriterInner::Csv(None, _) => {}
            WriterInner::Json(mut w) => w.finish()?,
            WriterInner::Parquet(w) => {
                w.close()?;
            }
            WriterInner::Pending(out) => {
                let w = datafusion::parquet::arrow::ArrowWriter::try_new(out, Arc::new(schema.clone()), None)?;
                w.close()?;
            }
        }
        let _ = self.format;
        Ok(())
    }
}
