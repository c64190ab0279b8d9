//! The esmdb store: DMS datasets, their variants and a content-addressed embedding cache, as
//! versioned Lance tables under one root (a directory, or an object-store URI such as `s3://…`
//! through Lance's object-store support).
//!
//! What this crate knows: the tables and their schemas ([`schema`]), reading and validating DMS
//! inputs ([`input`]; which sequences are accepted is `esmdb-seq`'s policy, shared with `esmdb embed`
//! and SQL), idempotent ingest ([`Store::ingest`]), filling and reading the embedding cache
//! ([`Store::embed_dataset`], [`Store::get_or_embed`], [`Store::lookup`] through the cache's key
//! [`index`]), importing vectors computed elsewhere ([`Store::import_vectors`]), the per-position
//! log-probability tables of zero-shot scoring ([`Store::lookup_log_probs`]), versions and
//! compaction. What it must not know:
//! how embeddings are computed — models come in through the [`Embedder`] trait, so the store never
//! depends on tch — nor SQL.
//!
//! Every write is one Lance commit: an ingest commits all its variants or none; the cache commits
//! each embedded batch, so an interrupted run keeps finished batches and resumes. Cache commits are
//! merges on the content key with Lance's conflict detection, so any number of processes may fill
//! one cache at once and each key is stored once.
//!
//! ```no_run
//! # async fn demo() -> esmdb_store::Result<()> {
//! use esmdb_store::{IngestParams, Store};
//! let store = Store::open_or_create("./esmdb-data").await?;
//! let files = ["YAP1_metadata.csv".into(), "YAP1_muts.fasta".into()];
//! let report = store.ingest("YAP1", &files, &IngestParams::default()).await?;
//! assert_eq!(report.total_rows, 362);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod cache;
mod error;
mod import;
pub mod index;
mod ingest;
pub mod input;
mod keyed;
mod log_probs;
mod maintenance;
mod models;
pub mod schema;
mod store;

pub use cache::{EmbedParams, EmbedProgress, EmbedReport, Embedder, OutputKey, Pooling, resolve_outputs};
pub use error::{BoxError, Error, Result};
/// The sequence policy and content address every input goes through (re-exported from `esmdb-seq`).
pub use esmdb_seq::{MutantError, Mutation, SequenceError, normalize, parse_mutant, seq_hash, wild_type};
pub use import::{ImportParams, ImportReport, ImportTarget};
pub use ingest::{IngestParams, IngestReport};
pub use input::{ColumnMap, InputFormat, ReadParams, VariantRecord};
pub use log_probs::TokenTable;
pub use maintenance::{CompactParams, CompactReport, TableVersion};
pub use models::{MODELS, ModelRecord};
pub use schema::{DATASETS, DatasetInfo, EMBEDDINGS_KEY, LOG_PROBS, VARIANTS, embeddings_table};
pub use store::{DEFAULT_STORE, Store, StoreParams, sql_literal};

/// Re-exported so callers use the same Lance as the store.
pub use lance;
