//! The store's error type: one variant per failure class, each carrying the context a user needs to
//! find the problem (file, line, id, column) and the underlying error as `#[source]`.
use std::path::PathBuf;

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from an [`crate::Embedder`] implementation.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An input file has no data at all.
    #[error("{}: file is empty", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// Malformed input at a known place (FASTA syntax, CSV syntax, a bad value).
    #[error("{}:{line}: {message}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// 1-based line (for Parquet: 1-based row).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A sequence the sequence policy refuses ([`esmdb_seq::normalize`]): a gap, a stop codon, a digit, a
    /// model token, another non-residue character, or nothing at all. The same words as `esmdb embed
    /// --fasta` and SQL's `esm2_embed` use for the same sequence.
    #[error("{}:{line}: {source}", path.display())]
    Sequence {
        /// The file.
        path: PathBuf,
        /// 1-based line of the record (for Parquet: 1-based row + 1).
        line: usize,
        /// The sequence's id and why it is refused.
        #[source]
        source: esmdb_seq::SequenceError,
    },
    /// A FASTA file that is not valid FASTA (no records, data before the first header, a header
    /// without an id), in the words of the one FASTA reader ([`esmdb_seq::fasta`]).
    #[error("{source}")]
    Fasta {
        /// The reader's error, naming the file and line.
        #[source]
        source: esmdb_seq::fasta::FastaError,
    },
    /// An id occurs twice in one input.
    #[error("{}:{line}: duplicate id `{id}` (first seen on line {first_line})", path.display())]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second occurrence.
        line: usize,
        /// 1-based line of the first occurrence.
        first_line: usize,
        /// The id.
        id: String,
    },
    /// A target value that is not a finite number.
    #[error("{}:{line}: `{id}`: column `{column}` must be a finite number, got `{value}`", path.display())]
    InvalidTarget {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The variant id.
        id: String,
        /// The target column.
        column: String,
        /// The value as written.
        value: String,
    },
    /// A required column is absent.
    #[error("{}: missing required column `{column}` (found: {found})", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The columns that are there, comma-separated.
        found: String,
    },
    /// A metadata CSV and a FASTA of the same dataset disagree.
    #[error("{}:{line}: `{id}` {problem} (checked against {})", path.display(), other.display())]
    Mismatch {
        /// The file where the disagreement was found.
        path: PathBuf,
        /// 1-based line there.
        line: usize,
        /// The id.
        id: String,
        /// The file it was checked against.
        other: PathBuf,
        /// What disagrees.
        problem: String,
    },
    /// The input format could not be recognized or is not usable as given.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An id already in the dataset arrives with a different sequence or target.
    #[error(
        "dataset `{dataset}`: id `{id}` is already stored with a different {field} \
         (stored {stored}, new {new}); pass --replace to overwrite"
    )]
    Conflict {
        /// The dataset.
        dataset: String,
        /// The id.
        id: String,
        /// `sequence` or `target`.
        field: &'static str,
        /// The stored value.
        stored: String,
        /// The incoming value.
        new: String,
    },
    /// No dataset of that name in the store.
    #[error("unknown dataset `{name}` (the store has: {known})")]
    UnknownDataset {
        /// The requested name.
        name: String,
        /// The names in the store, comma-separated, or `none`.
        known: String,
    },
    /// A dataset or model name that cannot be used.
    #[error("invalid {what} `{name}`: {reason}")]
    InvalidName {
        /// `dataset name`, `model id`, ….
        what: &'static str,
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The store location cannot be used.
    #[error("store `{uri}`: {message}")]
    StoreLocation {
        /// The store URI or path.
        uri: String,
        /// What is wrong.
        message: String,
        /// The cause, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// An object-store root (`s3://bucket/prefix`) cannot be reached or listed: a missing bucket, a
    /// wrong endpoint, refused credentials.
    #[error("store `{uri}`: cannot list it ({hint}): {source}")]
    ObjectStore {
        /// The store URI.
        uri: String,
        /// What to check.
        hint: &'static str,
        /// Lance's error.
        #[source]
        source: lance::Error,
    },
    /// A stored table does not have the layout this version of esmdb expects.
    #[error("table `{table}`: {message}")]
    Schema {
        /// The table.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// A Lance operation failed.
    #[error("table `{table}`: {operation} failed: {source}")]
    Lance {
        /// The table.
        table: String,
        /// What was being done.
        operation: &'static str,
        /// The cause.
        #[source]
        source: lance::Error,
    },
    /// An Arrow operation failed (building or converting record batches).
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A Parquet input could not be read.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The embedder failed.
    #[error("embedding with `{model}` failed: {source}")]
    Embedder {
        /// The model id.
        model: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// An invalid option or parameter.
    #[error("{0}")]
    Option(String),
}

impl Error {
    /// A FASTA reader error as the store's: a refused sequence is an [`Error::Sequence`] and a duplicate id an
    /// [`Error::DuplicateId`] whichever format they came in, the rest an [`Error::Fasta`].
    pub(crate) fn fasta(e: esmdb_seq::fasta::FastaError) -> Error {
        use esmdb_seq::fasta::FastaErrorKind;
        match e.kind {
            FastaErrorKind::Sequence(source) => Error::Sequence { path: e.path, line: e.line, source },
            FastaErrorKind::DuplicateId { id, first_line } => {
                Error::DuplicateId { path: e.path, line: e.line, first_line, id }
            }
            kind => Error::Fasta { source: esmdb_seq::fasta::FastaError { kind, ..e } },
        }
    }

    pub(crate) fn lance<'a>(table: &'a str, operation: &'static str) -> impl FnOnce(lance::Error) -> Error + 'a {
        move |source| Error::Lance { table: table.to_owned(), operation, source }
    }

    pub(crate) fn arrow(context: impl Into<String>) -> impl FnOnce(arrow_schema::ArrowError) -> Error {
        let context = context.into();
        move |source| Error::Arrow { context, source }
    }
}
