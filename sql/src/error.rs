//! Errors of the SQL layer. Each names what the user wrote (setting, model, function, row) and
//! converts into a DataFusion error so it reaches `esmdb sql` with its message and its causes.
use datafusion::error::DataFusionError;

/// Errors of the SQL layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model could not be resolved or loaded.
    #[error("unknown model `{name}`: {message}\nknown architectures: {}", esmdb_model::ARCHITECTURES.iter().map(|a| a.0).collect::<Vec<_>>().join(", "))]
    UnknownModel {
        /// As written.
        name: String,
        /// Why (the places searched, or the load error).
        message: String,
    },
    /// A layer outside the model.
    #[error("layer {layer} is out of range for `{model}`, which has layers 0..={num_layers} (or -1..=-{})", num_layers + 1)]
    Layer {
        /// The model.
        model: String,
        /// As written.
        layer: i64,
        /// The model's transformer layers.
        num_layers: i64,
    },
    /// A bad `esmdb.*` setting.
    #[error("setting {name} = '{value}': {message}")]
    Setting {
        /// Setting name.
        name: &'static str,
        /// Value.
        value: String,
        /// What is wrong.
        message: String,
    },
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
    /// The engine failed.
    #[error("model `{model}`: {message}")]
    Engine {
        /// Model.
        model: String,
        /// What failed.
        message: String,
    },
    /// A lock was poisoned by a panic in another query.
    #[error("internal: the {0} lock was poisoned by an earlier panic")]
    Poisoned(&'static str),
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
