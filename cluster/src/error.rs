//! Errors of the cluster layer: each names the address or process it is about.
use std::net::SocketAddr;

/// Errors of the cluster layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scheduler does not answer at this address.
    #[error(
        "cannot reach the esmdb scheduler at {address}: {source} (is `esmdb scheduler --bind {address}` running, and is \
         the address right?)"
    )]
    Unreachable {
        /// The address tried.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An address could not be parsed or resolved.
    #[error("{flag} `{value}`: {message}")]
    Address {
        /// The flag or variable it came from.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A process could not listen where asked.
    #[error("{role} cannot listen on {address}: {source}")]
    Bind {
        /// `scheduler` or `executor`.
        role: &'static str,
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A server stopped with an error.
    #[error("{role}: {message}")]
    Serve {
        /// Which server.
        role: &'static str,
        /// What happened.
        message: String,
    },
    /// Ballista's scheduler or executor failed.
    #[error("{role}: {source}")]
    Ballista {
        /// `scheduler` or `executor`.
        role: &'static str,
        /// The error.
        #[source]
        source: ballista_core::error::BallistaError,
    },
    /// Planning or a session failed.
    #[error(transparent)]
    Sql(#[from] esmdb_sql::datafusion::error::DataFusionError),
    /// A work directory could not be made.
    #[error("executor work directory {path}: {source}")]
    WorkDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
