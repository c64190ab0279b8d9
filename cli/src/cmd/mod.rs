//! One module per subcommand.
pub mod cluster;
pub mod embed;
pub mod embed_dataset;
pub mod import;
pub mod ingest;
pub mod model;
pub mod reproduce;
pub mod shell;
pub mod sql;
pub mod store_admin;
