//! Shared helpers for esmdb's integration and parity tests: the reference Python, fixtures, and
//! random-weight models.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root.
pub fn root() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .parent()
    .map(Path::to_path_buf)
    .unwrap_or_default()
}

/// The Python with the reference implementations: `$ESMDB_PYTHON`, else `<root>/.venv/bin/python`.
/// Parity tests are mandatory: without it they fail, telling how to set it up.
pub fn python() -> Result<PathBuf> {
    let p = std::env::var_os("ESMDB_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"));
    if !p.exists() {
        bail!("reference Python {} not found: run scripts/setup (or set ESMDB_PYTHON)", p.display());
    }
    Ok(p)
}

/// The Python with EvolutionaryScale's `esm` package (ESM C's reference; Python ≥ 3.12, its own venv because
/// its import name clashes with fair-esm's): `$ESMDB_ESMC_PYTHON`, else `<root>/.venv-esmc/bin/python`.
pub fn esmc_python() -> Result<PathBuf> {
    let p = std::env::var_os("ESMDB_ESMC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-esmc/bin/python"));
    if !p.exists() {
        bail!("ESM C reference Python {} not found: run scripts/setup (or set ESMDB_ESMC_PYTHON)", p.display());
    }
    Ok(p)
}

/// Runs `tests/python/<script>` with `args`, failing with its stderr on error.
pub fn run_python(script: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
    run_script(&python()?, script, args)
}

/// Runs `tests/python/<script>` with the ESM C venv's Python.
pub fn run_esmc_python(script: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
    run_script(&esmc_python()?, script, args)
}

fn run_script(py: &Path, script: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
    let out = Command::new(py)
        .arg(root().join("tests/python").join(script))
        .args(args)
        .output()
        .with_context(|| format!("running {}", py.display()))?;
    if !out.status.success() {
        bail!("{script} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// (id, sequence) of the shipped DMS fixture (YAP1, 362 single mutants).
pub fn dms_fixture() -> Result<Vec<(String, String)>> {
    let path = root().join("tests/fixtures/dms/YAP1_HUMAN_Fields2012_singles_muts.fasta");
    let records = esmdb_seq::fasta::read(&path)?;
    Ok(records.into_iter().map(|r| (r.id, r.sequence)).collect())
}

/// A seeded random-weight model of `arch` in a fresh temporary directory.
pub fn random_model(arch: &str, seed: u64) -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(arch);
    let config = esmdb_model::Config::for_architecture(arch)?;
    esmdb_model::init::write_random_model(&config, seed, &path)?;
    Ok((dir, path))
}

/// Max |a - b| over two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
