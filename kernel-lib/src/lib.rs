//! # esmdb-kernel-lib
//!
//! The notebook front end's implementation: open a store, run SQL, ingest and embed, and render tables
//! and figures for a notebook. Notebooks do not compile this crate: the workspace build makes it into
//! `libesmdb_kernel_lib.so`, and the thin `esmdb-kernel` crate (`kernel-ext/`, what a notebook `:dep`s)
//! loads that library and calls it through the C ABI in [`abi`]. Rust code may also use it directly.
//!
//! - [`open`] gives a [`Db`]: [`Db::sql`] returns a [`Table`] (HTML for a notebook, CSV, Arrow IPC);
//!   [`Db::ingest`], [`Db::embed`] and [`Db::cache_stats`] return tables too.
//! - [`Figure`]s (SVG) come from [`Db::r2_figure`], [`Db::cache_figure`], [`fold_bars`],
//!   [`predicted_vs_measured`] and [`compare_published`], drawn by `esmdb-report`.
//! - [`model_or_random`] picks real weights (any family) when this machine has them and a seeded
//!   random-weight model otherwise, and says which.
//! - Every failure is an [`Error`] whose message carries its whole cause chain.
//!
//! What this crate knows: how a notebook wants to call esmdb, and evcxr's display protocol (MIME blocks).
//! What it must not know: SQL functions, storage or models beyond the public APIs of `esmdb-sql`,
//! `esmdb-store` and `esmdb-model` — it is a front end, like the CLI. Calls block; each builds its own
//! async runtime and SQL session (see [`Db`]).
#![deny(missing_docs)]

pub mod abi;
mod db;
mod display;
mod error;
mod figure;
mod model;
mod table;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub use db::Db;
pub use error::{Error, Result};
pub use esmdb_model::find_local;
pub use figure::{
    Comparison, Figure, cache_figure, compare_labelled, compare_published, fold_bars, fold_rows, predicted_vs_measured,
    r2_figure, summary_table, zero_shot_figure,
};
pub use model::{ModelChoice, model_or_random, model_or_random_layers};
pub use table::{MAX_ROWS_SHOWN, Table, VECTOR_VALUES_SHOWN};

/// The crates underneath, so a notebook can reach them with a single `:dep`.
pub use esmdb_model;
pub use esmdb_report;
pub use esmdb_report::{FoldRow, Summary};
pub use esmdb_sql;
pub use esmdb_store;

/// Opens the store at `path` (a directory, created if missing, or an object-store URI).
pub fn open(path: impl AsRef<Path>) -> Result<Db> {
    let path = path.as_ref();
    error::wrap(|| Db::open(path))
}

/// Opens an empty store at `path`, deleting the store already there — for demonstrations that must
/// start from nothing. Refuses to delete a directory holding anything but esmdb's Lance tables.
pub fn open_fresh(path: impl AsRef<Path>) -> Result<Db> {
    empty_and_open(path.as_ref())
}

/// [`open_fresh`] without the generic parameter: generic bodies compile in each notebook cell.
fn empty_and_open(path: &Path) -> Result<Db> {
    error::wrap(|| {
        if path.exists() {
            for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
                let entry = entry.with_context(|| format!("reading {}", path.display()))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !(entry.path().is_dir() && name.ends_with(".lance")) {
                    bail!("refusing to empty {}: `{name}` is not a table of an esmdb store", path.display());
                }
            }
            std::fs::remove_dir_all(path).with_context(|| format!("emptying {}", path.display()))?;
        }
        Db::open(path)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_fresh_only_empties_stores() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir_all(store.join("variants.lance")).unwrap();
        open_fresh(&store).unwrap();
        assert!(!store.join("variants.lance").exists());
        std::fs::write(store.join("notes.txt"), "mine").unwrap();
        let err = open_fresh(&store).unwrap_err().to_string();
        assert!(err.contains("refusing to empty") && err.contains("notes.txt"), "{err}");
        assert!(store.join("notes.txt").exists());
    }
}
