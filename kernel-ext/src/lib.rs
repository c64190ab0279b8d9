//! # esmdb-kernel
//!
//! esmdb in a Rust Jupyter notebook (the [evcxr](https://github.com/evcxr/evcxr) kernel): open a
//! store, run SQL, and see tables and figures inline.
//!
//! ```text
//! :dep esmdb-kernel = { path = "../kernel-ext" }
//! let db: esmdb_kernel::Db = esmdb_kernel::open(".esmdb-data/store")?;
//! db.ingest("YAP1", &["YAP1_metadata.csv", "YAP1_muts.fasta"])?;
//! db.sql("SELECT dataset, count(*) FROM variants GROUP BY dataset")?
//! ```
//!
//! - [`open`] gives a [`Db`]: [`Db::sql`] returns a [`Table`], which a cell shows as an HTML table;
//!   [`Db::ingest`], [`Db::embed`] and [`Db::cache_stats`] return tables too. [`Table::to_ipc`] hands a
//!   table to cells that want Arrow record batches (`:dep arrow`, `polars`).
//! - [`Figure`]s (SVG) come from [`Db::r2_figure`], [`Db::cache_figure`], [`fold_bars`], [`zero_shot_figure`],
//!   [`predicted_vs_measured`] and [`compare_published`].
//! - [`model_or_random`] picks real weights (any family) when this machine has them and a seeded
//!   random-weight model otherwise, and says which.
//! - Every failure is an [`Error`] whose message carries its whole cause chain.
//!
//! Why this crate is thin: evcxr compiles a `:dep` crate and its whole dependency graph in its own target
//! directory, with its own flags, and DataFusion, Lance and the libtorch glue took ~25 minutes there on 2
//! cores. So the work is done by the kernel library `libesmdb_kernel_lib.so` (crate `esmdb-kernel-lib`,
//! built once by the workspace build, the same compiled code the CLI and the tests use), which this crate
//! loads and calls through a small C ABI ([`wire`]). This crate has no dependency but `libloading` and
//! compiles in seconds. Where the library is looked for: see [`library_path`].
#![deny(missing_docs)]

mod db;
mod display;
mod error;
mod figure;
mod handle;
mod library;
mod model;
mod table;
pub mod wire;

use std::path::{Path, PathBuf};

pub use db::Db;
pub use error::{Error, Result};
pub use figure::{
    Comparison, Figure, FoldRow, compare_published, fold_bars, fold_rows, predicted_vs_measured, r2_figure,
    summary_table, zero_shot_figure,
};
pub use model::{ModelChoice, find_local, model_or_random, model_or_random_layers};
pub use table::{MAX_ROWS_SHOWN, Table, VECTOR_VALUES_SHOWN};

/// Opens the store at `path` (a directory, created if missing, or an object-store URI).
pub fn open(path: impl AsRef<Path>) -> Result<Db> {
    Db::open(path.as_ref(), false)
}

/// Opens an empty store at `path`, deleting the store already there — for demonstrations that must
/// start from nothing. Refuses to delete a directory holding anything but esmdb's Lance tables.
pub fn open_fresh(path: impl AsRef<Path>) -> Result<Db> {
    Db::open(path.as_ref(), true)
}

/// [`Db::cache_stats`] as a bar chart.
pub fn cache_figure(stats: &Table) -> Result<Figure> {
    figure::cache_figure(stats)
}

/// Where the shipped notebooks keep their store and models: `$ESMDB_NOTEBOOK_DATA`, else
/// `.esmdb-data` next to the notebook (the kernel's working directory), as an absolute path. Tests
/// point it at a temporary directory so that a run never touches the user's data.
pub fn notebook_data_dir() -> PathBuf {
    let dir = std::env::var_os("ESMDB_NOTEBOOK_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".esmdb-data"));
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Uses the kernel library at `path` rather than searching for it; only before the first esmdb call.
pub fn use_library(path: impl AsRef<Path>) -> Result<()> {
    library::choose(path.as_ref())
}

/// The kernel library in use (loading it if no call has yet). Looked for, first found wins: the path given to
/// [`use_library`], `$ESMDB_KERNEL_LIB`, `$CARGO_TARGET_DIR/debug/`, then `target/debug/` of the checkout this
/// crate was compiled from. `scripts/notebook` builds it before starting JupyterLab.
pub fn library_path() -> Result<PathBuf> {
    library::path()
}

/// Where the kernel library is looked for, in order (see [`library_path`]).
pub fn library_candidates() -> Vec<PathBuf> {
    library::candidates()
}
