//! # esmdb-cluster
//!
//! esmdb's SQL on a Ballista cluster: one scheduler, any number of executors, one store (a shared
//! path or `s3://…`), and clients whose queries return what they return in one process.
//!
//! - [`scheduler::serve`] and [`executor::serve`]: Ballista's scheduler and executor carrying
//!   esmdb's functions ([`functions`]) and codecs ([`codec`]).
//! - [`client::connect`]: an [`esmdb_sql::Session`] whose queries run on the cluster.
//! - [`flight_sql`]: an Arrow Flight SQL endpoint over such a session, for ADBC/JDBC clients.
//!
//! Store tables travel as URI + version ([`esmdb_sql::scan`]), so every executor reads the
//! snapshot the client planned against; a scan is split by Lance fragments, and the embedding work
//! that follows it runs on whichever executor took each part, writing the shared cache there.
//!
//! What it must not contain: SQL functions or tables (`esmdb-sql`), model code, front-end code.
#![deny(missing_docs)]

pub mod address;
pub mod client;
pub mod codec;
mod error;
pub mod executor;
pub mod flight_sql;
pub mod functions;
pub mod plan_fix;
pub mod scheduler;

pub use address::Address;
pub use error::{Error, Result};
