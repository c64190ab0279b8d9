//! Errors of the study pipeline, each naming the dataset, model, file or argument involved.
use std::path::PathBuf;

/// Errors of the study pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad study parameter (unknown compression, no datasets, a bad protocol string).
    #[error("{option}: {message}")]
    Param {
        /// The parameter (`--compress`, `--datasets`, `--protocol`).
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A dataset named neither a file, a directory nor a dataset of the store.
    #[error("dataset `{name}` is neither a file, a directory nor a dataset of the store {store}")]
    UnknownDataset {
        /// As given.
        name: String,
        /// The store's URI.
        store: String,
    },
    /// A fit failed in SQL.
    #[error("fitting {dataset} with {model}: {source}")]
    Fit {
        /// Dataset.
        dataset: String,
        /// Model, as given.
        model: String,
        /// The SQL error (its chain holds the typed cause).
        #[source]
        source: esmdb_sql::datafusion::error::DataFusionError,
    },
    /// A fit returned no per-fold rows.
    #[error("fitting {dataset} with {model}: the dataset has no variants with a target")]
    NoFolds {
        /// Dataset.
        dataset: String,
        /// Model.
        model: String,
    },
    /// Per-fold rows could not be read from a table.
    #[error("per-fold rows: {0}")]
    Folds(String),
    /// The engine failed (model load, cache fill).
    #[error(transparent)]
    Engine(#[from] esmdb_engine::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] esmdb_store::Error),
    /// Opening the SQL session failed.
    #[error(transparent)]
    Session(#[from] esmdb_sql::datafusion::error::DataFusionError),
    /// Reading or writing results and figures failed.
    #[error(transparent)]
    Report(#[from] esmdb_report::Error),
    /// A file or directory could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
