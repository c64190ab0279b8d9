//! Integration tests: the `esmdb` binary run as a user runs it: commands, the store on disk and on S3, the cluster.
//!
//! One binary for all of them (`autotests = false`, this file lists the modules): each test binary links the
//! crate with everything below it, and a binary per file cost a link and its disk space per file. One file's
//! tests: `cargo test --workspace --test integration -- cli::`.

mod cli;
mod cluster;
mod common;
mod s3_store;
mod sequence_policy;
mod sql_reproduce;
mod store_cli;
mod store_crash;
mod store_pylance;
