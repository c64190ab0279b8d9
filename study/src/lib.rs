//! # esmdb-study
//!
//! The runtime above SQL: the paper's study as one pipeline that every front end calls. `esmdb
//! reproduce` is this crate plus arguments and progress bars; the notebooks use its result rows.
//!
//! 1. Ingest what the store lacks (ingest is idempotent).
//! 2. Per model, fill the embedding cache for every dataset (`esmdb_engine::fill`; only misses run
//!    the model).
//! 3. Per dataset × model × compression, one SQL statement
//!    (`lasso_cv_eval(compress_*(esm2_embed(sequence, model, layer)), target, protocol ORDER BY input_row)`)
//!    unless a finished part for the same inputs exists under `out/parts/`.
//! 4. `results.csv` (the paper's columns), `summary.csv`, figures, `run.json`.
//!
//! What it knows: the store, the engine, SQL (as statements), the report's row types. What it must
//! not contain: numerical code (it asks SQL), argument parsing or terminal output (front ends).
#![deny(missing_docs)]

mod compression;
mod error;
mod folds;
mod outputs;
mod pipeline;
mod sources;

pub use compression::{COMPRESSIONS, Compression, parse_compressions};
pub use error::{Error, Result};
pub use folds::{FoldDefaults, fit, fold_rows};
pub use outputs::{Outputs, Totals, write_outputs};
pub use pipeline::{Progress, StudyParams, StudyReport, run, run_in, session_config};
pub use sources::{DatasetSource, dataset_sources};
