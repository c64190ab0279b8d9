//! Errors of the SQL layer. Each names what the user wrote (setting, model, function, row) and
//! converts into a DataFusion error so it reaches `esmdb sql` with its message and its causes.
use datafusion::error::DataFusionError;

/// Errors of the SQL layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine (model resolution, loading, a forward pass) failed.
    #[error(transparent)]
    Engine(#[from] esmdb_engine::Error),
    /// A function was called wrongly.
    #[error("{function}: {message}")]
    Call {
        /// Function name.
        function: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A store error.
    #[error(transparent)]
    Store(#[from] esmdb_store::Error),
    /// A regression error.
    #[error("{function}: {source}")]
    Regress {
        /// Function name.
        function: &'static str,
        /// The error.
        #[source]
        source: esmdb_regress::Error,
    },
    /// A compression refused a row's matrix.
    #[error("{function}: row {row}: {source}")]
    Compress {
        /// Function name.
        function: &'static str,
        /// The row, from 1.
        row: usize,
        /// The error.
        #[source]
        source: esmdb_compress::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error travels as `DataFusionError::External`, so a caller can walk `source()` from
/// DataFusion's error to the typed [`Error`] and on to the regression or store error inside it.
/// Each cause's text ends the one before it (`External error: lasso_cv: unknown option …`, then
/// `lasso_cv: unknown option …`, then `unknown option …`), so a printer that skips a cause its
/// message already ends with shows the message once.
impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// An error of `function` (a wrong argument, or a row it cannot take).
pub(crate) fn call_error(function: &'static str, message: impl Into<String>) -> DataFusionError {
    Error::Call { function, message: message.into() }.into()
}

/// `function`'s error for the row at index `row` (from 0; printed from 1) whose matrix
/// [`esmdb_compress`] refused.
pub(crate) fn compress_error(function: &'static str, row: usize, source: esmdb_compress::Error) -> DataFusionError {
    Error::Compress { function, row: row + 1, source }.into()
}
