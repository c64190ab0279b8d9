//! The model crate's error type: one variant per failure class, each carrying the file, tensor or
//! sequence it is about, so that a message alone tells the user what to fix.
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while resolving, loading or running an ESM2 model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` (or a fair-esm checkpoint's `cfg`) is missing, unparsable or describes no ESM2 model.
    #[error("{path}: invalid model config: {message}")]
    Config {
        /// The config file or checkpoint.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A weights file is corrupt or in a format we cannot read.
    #[error("{path}: cannot read weights: {message}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor the architecture needs is not in the checkpoint.
    #[error("{path}: tensor `{name}` is missing")]
    MissingTensor {
        /// The weights file (or directory for sharded checkpoints).
        path: PathBuf,
        /// The tensor's checkpoint name.
        name: String,
    },
    /// A tensor has the wrong shape for the configured architecture.
    #[error("{path}: tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        /// The weights file.
        path: PathBuf,
        /// The tensor's checkpoint name.
        name: String,
        /// Shape found in the file.
        actual: Vec<i64>,
        /// Shape the config implies.
        expected: Vec<i64>,
    },
    /// A bare model name could not be found locally nor downloaded.
    #[error("model `{name}` not found; searched: {}", searched.join(", "))]
    ModelNotFound {
        /// The name asked for.
        name: String,
        /// Every place that was looked at, in order.
        searched: Vec<String>,
    },
    /// Downloading from the Hugging Face hub failed.
    #[error("Hugging Face hub ({repo}): {message}")]
    Hub {
        /// The hub repository.
        repo: String,
        /// What went wrong.
        message: String,
    },
    /// A file downloaded from the Hugging Face hub does not have the SHA-256 the hub announced for it
    /// (its `X-Linked-Etag`). The download was deleted; the next try starts from the beginning.
    #[error("Hugging Face hub ({repo}): {file}: SHA-256 mismatch: expected {expected}, got {actual}")]
    HubChecksum {
        /// The hub repository.
        repo: String,
        /// The file in the repository.
        file: String,
        /// The hash the hub announced, 64 lowercase hex digits.
        expected: String,
        /// The hash of the bytes received, 64 lowercase hex digits.
        actual: String,
    },
    /// A sequence contains a character outside the ESM alphabet.
    #[error(
        "sequence `{id}`: invalid residue `{residue}` at position {position} (1-based); \
         expected one of LAGVSERTIDPKQNFYMHWCXBUZO.- (any case) or <mask>/<unk>/<cls>/<eos>/<pad>"
    )]
    InvalidResidue {
        /// The sequence's id.
        id: String,
        /// The offending character (or token).
        residue: String,
        /// 1-based position in the sequence.
        position: usize,
    },
    /// A sequence is empty.
    #[error("sequence `{id}` is empty")]
    EmptySequence {
        /// The sequence's id.
        id: String,
    },
    /// An embedding option is invalid for this model (layer out of range, unknown pooling, ...).
    #[error("invalid option: {0}")]
    Option(String),
    /// The requested device or dtype is unavailable.
    #[error("device: {0}")]
    Device(String),
    /// An error from libtorch during inference.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
