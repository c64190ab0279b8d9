//! Integration tests: the store: cache, ingest, import, indexes, versions, concurrent writers.
//!
//! One binary for all of them (`autotests = false`, this file lists the modules): each test binary links the
//! crate with everything below it, and a binary per file cost a link and its disk space per file. One file's
//! tests: `cargo test --workspace --test integration -- cache::`.

mod cache;
mod common;
mod concurrent;
mod import;
mod index;
mod ingest;
mod versions;
mod write_cost;
