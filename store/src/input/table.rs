//! CSV and Parquet inputs read into one shape — a header and rows of optional strings with their line
//! numbers — so that the three tabular formats share one column-mapping and validation path.
use std::path::Path;

use arrow_array::{Array, RecordBatchReader, StringArray};
use arrow_schema::DataType;

use crate::error::{Error, Result};

/// A tabular input: column names and rows of cells (`None` = empty or null).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names in file order.
    pub header: Vec<String>,
    /// Data rows in file order.
    pub rows: Vec<Row>,
}

/// One data row.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based line in the file (for Parquet, the 1-based row number plus one, as if a header line).
    pub line: usize,
    /// One cell per header column.
    pub cells: Vec<Option<String>>,
}

impl Table {
    /// Position of a column by exact name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The column or a [`Error::MissingColumn`] naming the file and listing what is there.
    pub fn require(&self, path: &Path, name: &str) -> Result<usize> {
        self.column(name).ok_or_else(|| Error::MissingColumn {
            path: path.to_owned(),
            column: name.to_owned(),
            found: self
                .header
                .iter()
                .map(|h| if h.is_empty() { "<unnamed>" } else { h })
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Reads a CSV file (comma-separated, first line the header).
pub fn read_csv(path: &Path, text: &str) -> Result<Table> {
    if text.trim().is_empty() {
        return Err(Error::EmptyFile { path: path.to_owned() });
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
        Error::Input { path: path.to_owned(), line, message: format!("malformed CSV: {e}") }
    };
    let header: Vec<String> = reader.headers().map_err(csv_error)?.iter().map(|h| h.trim().to_owned()).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let cells = record.iter().map(|c| if c.trim().is_empty() { None } else { Some(c.to_owned()) }).collect();
        rows.push(Row { line, cells });
    }
    if rows.is_empty() {
        return Err(Error::Format { path: path.to_owned(), message: "has a header but no data rows".into() });
    }
    Ok(Table { header, rows })
}

/// Reads a Parquet file, casting every column to text (numbers round-trip exactly through their
/// shortest decimal form).
pub fn read_parquet(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(Error::EmptyFile { path: path.to_owned() });
    }
    let parquet_error = |source| Error::Parquet { path: path.to_owned(), source };
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet_error)?
        .build()
        .map_err(parquet_error)?;
    let mut table = Table { header: reader.schema().fields().iter().map(|f| f.name().clone()).collect(), rows: vec![] };
    for batch in reader {
        let batch = batch.map_err(Error::arrow(format!("reading {}", path.display())))?;
        let columns = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::arrow(format!("{}: converting columns to text", path.display())))?;
        let columns: Vec<&StringArray> = columns.iter().filter_map(|c| c.as_any().downcast_ref()).collect();
        for r in 0..batch.num_rows() {
            let line = table.rows.len() + 2;
            let cells = columns.iter().map(|c| (!c.is_null(r)).then(|| c.value(r).to_owned())).collect();
            table.rows.push(Row { line, cells });
        }
    }
    if table.rows.is_empty() {
        return Err(Error::Format { path: path.to_owned(), message: "has no rows".into() });
    }
    Ok(table)
}
