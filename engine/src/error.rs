//! Errors of the engine layer: each names the model (as the user wrote it) and what failed.

/// Errors of the engine layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model could not be resolved or loaded.
    ///
    /// The cause is kept as text: the message goes on with the list of known architectures, and a
    /// printer that walks sources would show the cause twice.
    #[error("unknown model `{name}`: {message}\nknown architectures: {}", esmdb_model::architecture_names().join(", "))]
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
    /// A bad engine setting (device, precision, threads).
    #[error("setting {name} = '{value}': {message}")]
    Setting {
        /// Setting name (`esmdb.device`, …).
        name: &'static str,
        /// Value.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A forward pass or a model load failed or panicked.
    #[error("model `{model}`: {message}")]
    Engine {
        /// Model.
        model: String,
        /// What failed.
        message: String,
    },
    /// Filling the store's cache failed.
    #[error("embedding `{dataset}` with {model}: {source}")]
    Fill {
        /// Dataset.
        dataset: String,
        /// Model id.
        model: String,
        /// The store's error (boxed: it is large, and every engine call returns this type).
        #[source]
        source: Box<esmdb_store::Error>,
    },
    /// A variant's mutant does not parse or does not fit its sequence.
    #[error("{variant}: {message}")]
    Variant {
        /// The variant (`row 12`, an id).
        variant: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the store's embedding cache failed.
    #[error("embedding cache of {store}: {source}")]
    Cache {
        /// The store's URI.
        store: String,
        /// The store's error.
        #[source]
        source: Box<esmdb_store::Error>,
    },
    /// Reading or writing the store's zero-shot cache failed.
    #[error("scoring with {model}: {source}")]
    Store {
        /// Model id.
        model: String,
        /// The store's error.
        #[source]
        source: Box<esmdb_store::Error>,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
