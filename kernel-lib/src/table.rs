//! [`Table`]: a query result held in memory, shown inline as an HTML table.
//!
//! Why a type of our own rather than `Vec<RecordBatch>`: the last value of a cell needs an
//! `evcxr_display` method to render as HTML, and notebook users want the few conversions they
//! reach for next (a numeric column as `Vec<f64>`, CSV text) without learning Arrow's API.
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use esmdb_sql::datafusion::arrow::array::{Array, ArrayRef, AsArray};
use esmdb_sql::datafusion::arrow::compute::cast;
use esmdb_sql::datafusion::arrow::datatypes::{DataType, Float64Type, Schema, SchemaRef};
use esmdb_sql::datafusion::arrow::ipc::writer::StreamWriter;
use esmdb_sql::datafusion::arrow::record_batch::RecordBatch;
use esmdb_sql::datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use esmdb_sql::output::{self, Format, Writer};

use crate::display::{emit_owned, escape, float};
use crate::error::{Result, wrap};

/// Rows an inline table shows; the caption gives the full count.
pub const MAX_ROWS_SHOWN: usize = 50;

/// Values shown of each vector (embedding) cell, followed by `… (N values)`.
pub const VECTOR_VALUES_SHOWN: usize = 4;

/// The result of a query (or a report built like one): Arrow batches and their schema.
#[derive(Debug, Clone)]
pub struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    title: Option<String>,
}

impl Table {
    /// A table of `batches`, all of `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Table { schema, batches, title: None }
    }

    /// A one-batch table from named columns of equal length.
    pub(crate) fn from_columns(columns: Vec<(&str, ArrayRef)>) -> anyhow::Result<Self> {
        let batch = RecordBatch::try_from_iter(columns).context("building a result table")?;
        Ok(Table::new(batch.schema(), vec![batch]))
    }

    /// The same table with a title shown above it.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The schema (column names and Arrow types).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows, over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Columns.
    pub fn num_columns(&self) -> usize {
        self.schema.fields().len()
    }

    /// Column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Column types as Arrow prints them, in order.
    pub fn column_types(&self) -> Vec<String> {
        self.schema.fields().iter().map(|f| f.data_type().to_string()).collect()
    }

    /// The table in the Arrow IPC stream format (what the thin notebook crate hands to `:dep arrow` cells).
    pub fn to_ipc(&self) -> Result<Vec<u8>> {
        wrap(|| {
            let mut bytes = Vec::new();
            let mut writer = StreamWriter::try_new(&mut bytes, &self.schema)?;
            for batch in &self.batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            drop(writer);
            Ok(bytes)
        })
    }

    /// The Arrow batches (cheap: arrays are reference-counted).
    pub fn to_batches(&self) -> Vec<RecordBatch> {
        self.batches.clone()
    }

    /// CSV with a header; vectors are written whole as `[v1, v2, …]`.
    pub fn to_csv(&self) -> Result<String> {
        wrap(|| {
            let mut bytes = Vec::new();
            let mut writer = Writer::new(Format::Csv, &mut bytes);
            for batch in &self.batches {
                writer.write(batch)?;
            }
            writer.finish(&self.schema)?;
            Ok(String::from_utf8(bytes)?)
        })
    }

    /// Writes [`Table::to_csv`] to `path`.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let csv = self.to_csv()?;
        let path = path.as_ref();
        wrap(|| std::fs::write(path, csv).with_context(|| format!("writing {}", path.display())))
    }

    /// A numeric column as `f64` (NULL → NaN), e.g. to plot it.
    pub fn column_f64(&self, name: &str) -> Result<Vec<f64>> {
        wrap(|| {
            let mut out = Vec::with_capacity(self.num_rows());
            for column in self.columns(name)? {
                let t = column.data_type();
                if !(t.is_numeric() || matches!(t, DataType::Boolean | DataType::Null)) {
                    bail!("column `{name}` is {t}, not numeric");
                }
                let values = cast(&column, &DataType::Float64)?;
                let values = values.as_primitive::<Float64Type>();
                out.extend((0..values.len()).map(|i| if values.is_null(i) { f64::NAN } else { values.value(i) }));
            }
            Ok(out)
        })
    }

    /// A column as text (NULL → empty string), whatever its type.
    pub fn column_strings(&self, name: &str) -> Result<Vec<String>> {
        wrap(|| {
            let options = FormatOptions::default();
            let mut out = Vec::with_capacity(self.num_rows());
            for column in self.columns(name)? {
                let f = ArrayFormatter::try_new(column.as_ref(), &options)?;
                out.extend(
                    (0..column.len()).map(|i| if column.is_null(i) { String::new() } else { f.value(i).to_string() }),
                );
            }
            Ok(out)
        })
    }

    /// Whether the table has a column `name`.
    pub fn has_column(&self, name: &str) -> bool {
        self.schema.index_of(name).is_ok()
    }

    /// One array per batch of column `name`, or an error listing the columns there are.
    fn columns(&self, name: &str) -> anyhow::Result<Vec<ArrayRef>> {
        if !self.has_column(name) {
            return Err(anyhow!("no column `{name}`; the columns are {}", self.column_names().join(", ")));
        }
        self.batches
            .iter()
            .map(|b| {
                let i = b.schema().index_of(name).map_err(|e| anyhow!("column `{name}`: {e}"))?;
                Ok(Arc::clone(b.column(i)))
            })
            .collect()
    }

    /// The first `limit` rows as batches.
    fn head(&self, limit: usize) -> Vec<RecordBatch> {
        let mut left = limit;
        let mut out = Vec::new();
        for b in &self.batches {
            if left == 0 {
                break;
            }
            let n = b.num_rows().min(left);
            out.push(b.slice(0, n));
            left -= n;
        }
        out
    }

    /// "N rows × M columns", after the title if there is one.
    fn caption(&self) -> String {
        let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
        let size = format!("{} × {}", plural(self.num_rows(), "row"), plural(self.num_columns(), "column"));
        match &self.title {
            Some(t) => format!("{t} · {size}"),
            None => size,
        }
    }

    /// The inline HTML: a caption, headers with their Arrow types, at most [`MAX_ROWS_SHOWN`] rows
    /// with vectors abbreviated, and a note when rows are left out.
    pub fn to_html(&self) -> Result<String> {
        wrap(|| {
            if self.num_columns() == 0 {
                return Ok("<div><em>OK (the statement returns no columns)</em></div>".to_owned());
            }
            let mut html = String::from("<table class=\"esmdb-table\">");
            html.push_str(&format!(
                "<caption style=\"caption-side:top;text-align:left\">{}</caption><thead><tr>",
                escape(&self.caption())
            ));
            for field in self.schema.fields() {
                html.push_str(&format!(
                    "<th>{}<br><span style=\"font-weight:normal;color:#777;font-size:85%\">{}</span></th>",
                    escape(field.name()),
                    escape(&field.data_type().to_string())
                ));
            }
            html.push_str("</tr></thead><tbody>");
            let numeric: Vec<bool> = self.schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
            let options = FormatOptions::default().with_null("NULL");
            let mut shown = 0;
            for batch in self.head(MAX_ROWS_SHOWN) {
                let batch = output::abbreviate(&batch, VECTOR_VALUES_SHOWN)?;
                let cells =
                    batch.columns().iter().map(|c| cell_strings(c, &options)).collect::<anyhow::Result<Vec<_>>>()?;
                for row in 0..batch.num_rows() {
                    html.push_str("<tr>");
                    for (c, column) in cells.iter().enumerate() {
                        let align =
                            if numeric.get(c).copied().unwrap_or(false) { " style=\"text-align:right\"" } else { "" };
                        html.push_str(&format!("<td{align}>{}</td>", escape(&column[row])));
                    }
                    html.push_str("</tr>");
                }
                shown += batch.num_rows();
            }
            let total = self.num_rows();
            if total > shown {
                html.push_str(&format!(
                    "<tr><td colspan=\"{}\" style=\"text-align:left;font-style:italic\">… {} more rows not shown \
                     (the first {shown} are); use SQL LIMIT/OFFSET, .to_csv() or .to_batches() for the rest</td></tr>",
                    self.num_columns(),
                    total - shown
                ));
            }
            html.push_str("</tbody></table>");
            Ok(html)
        })
    }

    /// What a notebook shows: `(mime, content)` pairs, HTML and plain text.
    pub fn display_blocks(&self) -> Vec<(String, String)> {
        let html = self.to_html().unwrap_or_else(|e| format!("<pre>{}</pre>", escape(&e.to_string())));
        vec![("text/html".to_owned(), html), ("text/plain".to_owned(), self.to_string())]
    }

    /// Shows the table in the notebook (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        emit_owned(&self.display_blocks());
    }
}

/// The cells of one column as display strings: floats shortened, everything else as Arrow prints it.
fn cell_strings(column: &ArrayRef, options: &FormatOptions) -> anyhow::Result<Vec<String>> {
    let n = column.len();
    match column.data_type() {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let values = cast(column, &DataType::Float64)?;
            let values = values.as_primitive::<Float64Type>();
            Ok((0..n).map(|i| if values.is_null(i) { "NULL".to_owned() } else { float(values.value(i)) }).collect())
        }
        _ => {
            let f = ArrayFormatter::try_new(column.as_ref(), options)?;
            Ok((0..n).map(|i| f.value(i).to_string()).collect())
        }
    }
}

impl fmt::Display for Table {
    /// A text table (first [`MAX_ROWS_SHOWN`] rows, vectors abbreviated) under the caption.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.caption())?;
        if self.num_columns() == 0 {
            return Ok(());
        }
        match output::pretty(&self.head(MAX_ROWS_SHOWN)) {
            Ok(text) => write!(f, "{text}")?,
            Err(e) => write!(f, "(cannot format the table: {e})")?,
        }
        if self.num_rows() > MAX_ROWS_SHOWN {
            write!(f, "\n… {} more rows", self.num_rows() - MAX_ROWS_SHOWN)?;
        }
        Ok(())
    }
}

/// An empty schema (for statements that return nothing).
pub(crate) fn empty_schema() -> SchemaRef {
    Arc::new(Schema::empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use esmdb_sql::datafusion::arrow::array::{
        FixedSizeListArray, Float32Array, Float64Array, Int64Array, StringArray,
    };
    use esmdb_sql::datafusion::arrow::datatypes::Field;

    fn sample(rows: usize) -> Table {
        let ids: Vec<String> = (0..rows).map(|i| format!("v<{i}>")).collect();
        let values = Float32Array::from((0..rows * 6).map(|i| i as f32).collect::<Vec<_>>());
        let vectors =
            FixedSizeListArray::new(Arc::new(Field::new("item", DataType::Float32, true)), 6, Arc::new(values), None);
        Table::from_columns(vec![
            ("id", Arc::new(StringArray::from(ids)) as ArrayRef),
            ("fold", Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())) as ArrayRef),
            (
                "r2_test",
                Arc::new(Float64Array::from((0..rows).map(|i| i as f64 / 3.0).collect::<Vec<_>>())) as ArrayRef,
            ),
            ("embedding", Arc::new(vectors) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn html_has_caption_typed_headers_and_abbreviated_vectors() {
        let html = sample(3).with_title("demo").to_html().unwrap();
        assert!(html.contains("demo · 3 rows × 4 columns"), "{html}");
        assert!(html.contains("<th>fold<br>") && html.contains(">Int64</span>"), "{html}");
        assert!(html.contains("<th>embedding<br>") && html.contains("FixedSizeList"), "{html}");
        assert!(html.contains("… (6 values)]"), "{html}");
        assert!(html.contains("v&lt;2&gt;") && html.contains("0.3333"), "{html}");
        assert!(!html.contains("more rows"), "{html}");
    }

    #[test]
    fn long_tables_are_cut_with_a_note() {
        let html = sample(120).to_html().unwrap();
        assert_eq!(html.matches("<tr>").count(), 1 + MAX_ROWS_SHOWN + 1, "{html}");
        assert!(html.contains("… 70 more rows not shown"), "{html}");
        assert!(sample(120).to_string().ends_with("… 70 more rows"));
    }

    #[test]
    fn columns_convert() {
        let t = sample(3);
        assert_eq!(t.column_f64("fold").unwrap(), vec![0.0, 1.0, 2.0]);
        assert_eq!(t.column_strings("id").unwrap(), vec!["v<0>", "v<1>", "v<2>"]);
        let missing = t.column_f64("nope").unwrap_err().to_string();
        assert!(missing.contains("no column `nope`; the columns are id, fold, r2_test, embedding"), "{missing}");
        assert!(t.column_f64("id").unwrap_err().to_string().contains("not numeric"));
        let csv = t.to_csv().unwrap();
        assert!(csv.starts_with("id,fold,r2_test,embedding\n"), "{csv}");
    }
}
