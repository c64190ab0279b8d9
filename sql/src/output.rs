//! Writing query results: pretty tables with long vectors abbreviated, CSV, JSON lines, Parquet.
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::config_err;
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
            other => config_err!("unknown format `{other}`; expected table, csv, json or parquet"),
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

/// Rows a table holds back to size its columns before it prints its header.
pub const TABLE_SIZING_ROWS: usize = 100;
/// The widest a table column grows (longer cells end in `…`).
const MAX_CELL_WIDTH: usize = 80;

/// One table however many batches a result arrives in: the first [`TABLE_SIZING_ROWS`] rows (or all,
/// if fewer) size the columns, then rows print as they come under the one header, in one frame.
struct TableStream<W: Write> {
    out: W,
    header: Vec<String>,
    widths: Vec<usize>,
    held: Vec<Vec<String>>,
    printing: bool,
    rows: usize,
}

impl<W: Write> TableStream<W> {
    fn new(out: W) -> Self {
        TableStream { out, header: Vec::new(), widths: Vec::new(), held: Vec::new(), printing: false, rows: 0 }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.header.is_empty() {
            self.set_header(&batch.schema());
        }
        let shown = abbreviate(batch, 4)?;
        let options = FormatOptions::default().with_null("NULL");
        let formatters = shown
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..shown.num_rows() {
            let cells: Vec<String> = formatters.iter().map(|f| f.value(row).to_string()).collect();
            self.rows += 1;
            if self.printing {
                self.print_row(&cells)?;
            } else {
                self.held.push(cells);
            }
        }
        if !self.printing && self.held.len() >= TABLE_SIZING_ROWS {
            self.start()?;
        }
        if self.printing {
            // Rows appear as they are computed, not when the query ends.
            self.out.flush()?;
        }
        Ok(())
    }

    fn set_header(&mut self, schema: &Schema) {
        self.header = schema.fields().iter().map(|f| f.name().clone()).collect();
    }

    /// Sizes the columns from the header and the rows held, prints the head and those rows.
    fn start(&mut self) -> Result<()> {
        let width = |s: &str| s.chars().count().min(MAX_CELL_WIDTH);
        self.widths = self.header.iter().map(|h| width(h)).collect();
        for row in &self.held {
            for (w, cell) in self.widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        self.printing = true;
        self.rule()?;
        let header = self.header.clone();
        self.print_row(&header)?;
        self.rule()?;
        for row in std::mem::take(&mut self.held) {
            self.print_row(&row)?;
        }
        Ok(())
    }

    fn rule(&mut self) -> Result<()> {
        let mut line = String::from("+");
        for w in &self.widths {
            line.push_str(&"-".repeat(w + 2));
            line.push('+');
        }
        writeln!(self.out, "{line}")?;
        Ok(())
    }

    fn print_row(&mut self, cells: &[String]) -> Result<()> {
        let mut line = String::from("|");
        for (cell, &w) in cells.iter().zip(&self.widths) {
            let n = cell.chars().count();
            let shown: String =
                if n > w { cell.chars().take(w.saturating_sub(1)).chain(['…']).collect() } else { cell.clone() };
            let pad = w.saturating_sub(shown.chars().count());
            line.push(' ');
            line.push_str(&shown);
            line.push_str(&" ".repeat(pad + 1));
            line.push('|');
        }
        writeln!(self.out, "{line}")?;
        Ok(())
    }

    /// Prints what is held (or just the header, for no rows) and the closing rule; returns the rows.
    fn finish(mut self, schema: &Schema) -> Result<usize> {
        if self.header.is_empty() {
            self.set_header(schema);
        }
        if !self.printing {
            self.start()?;
        }
        self.rule()?;
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// Writes batches as they come, in one format, to `out`.
pub struct Writer<W: Write + Send> {
    format: Format,
    inner: WriterInner<W>,
}

enum WriterInner<W: Write + Send> {
    Table(TableStream<W>),
    Csv(Option<W>, bool),
    Json(arrow::json::LineDelimitedWriter<W>),
    Parquet(datafusion::parquet::arrow::ArrowWriter<W>),
    Pending(W),
}

impl<W: Write + Send> Writer<W> {
    /// A writer of `format` to `out`.
    pub fn new(format: Format, out: W) -> Self {
        let inner = match format {
            Format::Table => WriterInner::Table(TableStream::new(out)),
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
            WriterInner::Table(table) => table.write(batch)?,
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

    /// Finishes the output (the table's closing rule, Parquet footer, JSON flush). `schema` is used
    /// when no batch came.
    pub fn finish(self, schema: &Schema) -> Result<()> {
        match self.inner {
            WriterInner::Table(table) => {
                table.finish(schema)?;
            }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;

    use super::{Format, TABLE_SIZING_ROWS, Writer};

    fn batch(names: &[&str], counts: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("dataset", DataType::Utf8, false),
            Field::new("count(*)", DataType::Int64, false),
        ]));
        let columns: Vec<arrow::array::ArrayRef> =
            vec![Arc::new(StringArray::from(names.to_vec())), Arc::new(Int64Array::from(counts.to_vec()))];
        RecordBatch::try_new(schema, columns).expect("batch")
    }

    fn table(batches: &[RecordBatch]) -> String {
        let mut out = Vec::new();
        let mut w = Writer::new(Format::Table, &mut out);
        for b in batches {
            w.write(b).expect("write");
        }
        w.finish(&batches[0].schema()).expect("finish");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_result_of_several_batches_is_one_table() {
        let shown = table(&[batch(&["YAP1"], &[362]), batch(&["IF1_ECOLI_long_name"], &[1439])]);
        let want = "\
+---------------------+----------+
| dataset             | count(*) |
+---------------------+----------+
| YAP1                | 362      |
| IF1_ECOLI_long_name | 1439     |
+---------------------+----------+
";
        assert_eq!(shown, want);
        // No rows: the header in its frame.
        let empty = table(&[batch(&[], &[])]);
        assert_eq!(empty.lines().count(), 4, "{empty}");
    }

    #[test]
    fn rows_past_the_sizing_rows_stream_under_the_same_header() {
        let first: Vec<String> = (0..TABLE_SIZING_ROWS).map(|i| format!("d{i}")).collect();
        let first: Vec<&str> = first.iter().map(String::as_str).collect();
        let counts = vec![1; first.len()];
        let shown = table(&[batch(&first, &counts), batch(&["a much longer dataset name"], &[2])]);
        assert_eq!(shown.matches("| dataset").count(), 1);
        let widths: Vec<usize> = shown.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "one frame: {widths:?}");
        assert!(shown.contains("| a much… | 2 "), "cut to the column's width:\n{shown}");
        assert_eq!(shown.lines().count(), TABLE_SIZING_ROWS + 1 + 4);
    }
}
