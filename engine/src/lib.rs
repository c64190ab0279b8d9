//! # esmdb-engine
//!
//! The runtime below SQL, shared by every front end (CLI, notebooks, SQL functions, cluster
//! executors): protein language models loaded once per process ([`model`]), the one thread that
//! runs their forward passes ([`on_engine_thread`]), and [`StoreEmbedder`], the bridge from a loaded
//! model to the store's [`esmdb_store::Embedder`] trait, with [`cache`] (the vectors of given
//! sequences, computing the misses, over store handles opened once per process), [`fill`] to fill
//! the store's embedding cache for whole datasets, and [`score`], zero-shot variant scores through
//! the store's `log_probs` cache.
//!
//! What it knows: `esmdb-model` (weights, forward passes) and `esmdb-store` (the cache). What it
//! must never import: DataFusion (filling the cache must not need the SQL engine), figures, CLI
//! or notebook code. Callers identify a model by a [`ModelKey`] of plain strings, so a plan that
//! names a model can travel to another process and load it there.
#![deny(missing_docs)]

pub mod cache;
mod embedder;
mod error;
pub mod fill;
mod registry;
pub mod score;
mod stats;
mod thread;

pub use embedder::StoreEmbedder;
pub use error::{Error, Result};
pub use registry::{
    MAX_THREADS, Model, ModelKey, ModelShape, ProcessPins, model, model_shape, pin_process, resolve_layer,
};
pub use stats::{EngineStats, StatsSnapshot, stats};
pub use thread::{off_runtime, on_engine_thread};
