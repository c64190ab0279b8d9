//! [`Table`]: a query result held by the kernel library, shown inline as an HTML table.
//!
//! The rows stay in the library (as Arrow batches); this side asks for what a cell wants next: a numeric column
//! as `Vec<f64>`, CSV text, or the whole table as Arrow IPC bytes for `:dep arrow` / `polars` cells.
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::display::emit_reply;
use crate::error::Result;
use crate::handle::Handle;
use crate::library::call;
use crate::wire::Value;

/// Rows an inline table shows; the caption gives the full count.
pub const MAX_ROWS_SHOWN: usize = 50;

/// Values shown of each vector (embedding) cell, followed by `… (N values)`.
pub const VECTOR_VALUES_SHOWN: usize = 4;

/// The result of a query (or a report built like one). Cloning is cheap: clones share the library's copy.
#[derive(Debug, Clone)]
pub struct Table {
    handle: Arc<Handle>,
}

impl Table {
    pub(crate) fn from_reply(value: Value) -> Result<Table> {
        Ok(Table { handle: Arc::new(Handle::from_reply(value)?) })
    }

    pub(crate) fn arg(&self) -> Value {
        self.handle.arg()
    }

    fn ask(&self, op: &str, mut args: Vec<Value>) -> Result<Value> {
        args.insert(0, self.arg());
        call(op, args)
    }

    /// Rows, over all batches.
    pub fn num_rows(&self) -> Result<usize> {
        Ok(usize::try_from(self.ask("table.num_rows", vec![])?.as_i64()?).unwrap_or(0))
    }

    /// Columns.
    pub fn num_columns(&self) -> Result<usize> {
        Ok(self.column_names()?.len())
    }

    /// Column names, in order.
    pub fn column_names(&self) -> Result<Vec<String>> {
        strings(self.ask("table.column_names", vec![])?)
    }

    /// Column types as Arrow prints them (`Int64`, `FixedSizeList(320 x Float32)`, …), in order.
    pub fn column_types(&self) -> Result<Vec<String>> {
        strings(self.ask("table.column_types", vec![])?)
    }

    /// Whether a column of that name exists.
    pub fn has_column(&self, name: &str) -> bool {
        self.column_names().is_ok_and(|names| names.iter().any(|n| n == name))
    }

    /// CSV with a header; vectors are written whole as `[v1, v2, …]`.
    pub fn to_csv(&self) -> Result<String> {
        Ok(self.ask("table.to_csv", vec![])?.into_string()?)
    }

    /// Writes [`Table::to_csv`] to `path`.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write_csv_to(path.as_ref())
    }

    fn write_csv_to(&self, path: &Path) -> Result<()> {
        self.ask("table.write_csv", vec![Value::Str(path.to_string_lossy().into_owned())])?;
        Ok(())
    }

    /// A numeric column as floats (integers converted, NULL as NaN).
    pub fn column_f64(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self.ask("table.column_f64", vec![Value::Str(name.to_owned())])?.into_f64s()?)
    }

    /// A column as text, whatever its type (NULL → empty string).
    pub fn column_strings(&self, name: &str) -> Result<Vec<String>> {
        strings(self.ask("table.column_strings", vec![Value::Str(name.to_owned())])?)
    }

    /// The whole table in the Arrow IPC stream format, for cells that want Arrow record batches:
    /// `:dep arrow` then `arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)`.
    pub fn to_ipc(&self) -> Result<Vec<u8>> {
        Ok(self.ask("table.to_ipc", vec![])?.into_bytes()?)
    }

    /// The inline HTML (caption, typed headers, at most [`MAX_ROWS_SHOWN`] rows, vectors abbreviated).
    pub fn to_html(&self) -> Result<String> {
        Ok(self.ask("html", vec![])?.into_string()?)
    }

    /// Shows the table in the notebook (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        emit_reply(self.ask("display", vec![]));
    }
}

impl fmt::Display for Table {
    /// A text table (first [`MAX_ROWS_SHOWN`] rows, vectors abbreviated) under the caption.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ask("table.text", vec![]).and_then(|v| Ok(v.into_string()?)) {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "(cannot format the table: {e})"),
        }
    }
}

pub(crate) fn strings(value: Value) -> Result<Vec<String>> {
    value.into_list()?.into_iter().map(|v| Ok(v.into_string()?)).collect()
}
