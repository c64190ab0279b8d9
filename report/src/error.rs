//! The crate's error type: one variant per failure class, each naming the file and line (1-based,
//! the header is line 1) a user has to look at.

use std::path::PathBuf;

/// Everything that can go wrong in `esmdb-report`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened, created, written or renamed into place.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Malformed CSV (unbalanced quotes, a row with a different number of fields, bad UTF-8).
    #[error("{}:{line}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line of the offending record (0 when the reader could not tell).
        line: u64,
        /// What the CSV reader or writer said.
        #[source]
        source: csv::Error,
    },
    /// The header lacks a column the results layout needs.
    #[error("{}:{line}: missing column {column:?}; the header has: {found}", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// Line of the header.
        line: u64,
        /// The column that is missing.
        column: &'static str,
        /// The header's columns, comma-separated.
        found: String,
    },
    /// A field that does not parse as its column's type.
    #[error("{}:{line}: column {column}: {value:?} is not {expected}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// Line of the record.
        line: u64,
        /// The column.
        column: &'static str,
        /// The field as written.
        value: String,
        /// What was expected ("a number", "an integer").
        expected: &'static str,
    },
    /// `svg_to_png` was given something usvg cannot parse.
    #[error("invalid SVG: {0}")]
    Svg(#[source] resvg::usvg::Error),
    /// Rasterizing or PNG encoding failed (an empty or huge canvas).
    #[error("cannot render PNG: {0}")]
    Render(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
