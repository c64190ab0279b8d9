//! The Rust notebooks, run the way a person runs them.
//!
//! - `kernel_runs_a_cell_*`: the `esmdb-rust` kernel (from `scripts/setup`) started by `jupyter execute` and by
//!   `scripts/notebook`'s JupyterLab server, each running one plain cell (`tests/notebooks/kernel_smoke.py`).
//!   Seconds: these run in every `scripts/test`.
//! - `notebooks_run_headless`: the three notebooks (`notebooks/*.ipynb`) executed by
//!   `tests/notebooks/run_notebooks.py`; every cell must run and show its tables and figures. It embeds two DMS
//!   sets with the random-weight model (2.5 min for the three on 2 cores), so it is `#[ignore]`d:
//!   `scripts/test --notebooks` (CI) runs it.
//! - `notebooks_run_in_jupyterlab_in_a_browser`: the same three as a person runs them, in JupyterLab in headless
//!   Chromium (`tests/notebooks/browser.py`: `scripts/notebook`, Run → Run All Cells, then the rendered page is
//!   checked and a screenshot kept under `target/notebook-browser/`). Also `#[ignore]`d, for the same reason.
//!
//! Each starts its Python from a plain shell environment: the variables cargo sets for test processes are removed
//! (`LD_LIBRARY_PATH` among them, which once hid a kernel that died at start everywhere but under `cargo test`).
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use esmdb_tests::{python, root};

/// `run_notebooks.py --check`'s exit code when the kernel is not installed.
const NOT_INSTALLED: i32 = 3;

/// `program` in the environment of a login shell: HOME, USER, locale, TMPDIR, the user's own `ESMDB_*` settings
/// (ESMDB_VENV, ESMDB_CACHE, …), `CARGO_TARGET_DIR` when the user set it, and a PATH without the toolchain directories cargo and rustup add. Nothing of what
/// cargo sets for a test process (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `LD_LIBRARY_PATH`, `RUSTUP_TOOLCHAIN`,
/// `OUT_DIR`, …) gets through.
fn plain_shell(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for (key, value) in std::env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        let keep = matches!(name, "HOME" | "USER" | "LOGNAME" | "LANG" | "LC_ALL" | "TERM" | "TMPDIR" | "SHELL")
            || name == "CARGO_TARGET_DIR" // the user's build location: where the kernel library is
            || name.starts_with("ESMDB_");
        if keep {
            cmd.env(&key, value);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|d| {
        let d = d.to_string_lossy();
        !d.contains("/.rustup/toolchains/") && !d.contains("/target/")
    });
    cmd.env("PATH", std::env::join_paths(dirs).unwrap_or_default());
    cmd
}

/// Fails with the kernel's problem when `scripts/setup` has not installed it.
fn kernel_installed(py: &Path) -> Result<()> {
    let script = root().join("tests/notebooks/run_notebooks.py");
    let check = plain_shell(py).arg(&script).arg("--check").output().context("running run_notebooks.py --check")?;
    match check.status.code() {
        Some(0) => Ok(()),
        Some(NOT_INSTALLED) => bail!(
            "the notebook kernel is not installed: {} Run scripts/setup (without ESMDB_NOTEBOOKS=0).",
            String::from_utf8_lossy(&check.stderr).trim()
        ),
        _ => bail!("run_notebooks.py --check failed ({}):\n{}", check.status, String::from_utf8_lossy(&check.stderr)),
    }
}

fn smoke(mode: &str) -> Result<()> {
    let py = python()?;
    kernel_installed(&py)?;
    let out = plain_shell(&py)
        .arg(root().join("tests/notebooks/kernel_smoke.py"))
        .arg(mode)
        .current_dir(root())
        .output()
        .context("running kernel_smoke.py")?;
    eprint!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("kernel_smoke.py {mode} failed ({}); see its output above", out.status);
    }
    Ok(())
}

#[test]
fn kernel_runs_a_cell_from_jupyter_execute() -> Result<()> {
    smoke("execute")
}

#[test]
fn kernel_runs_a_cell_from_the_notebook_server() -> Result<()> {
    smoke("server")
}

#[test]
#[ignore = "runs the three notebooks end to end (~2.5 min on 2 cores): scripts/test --notebooks runs it"]
fn notebooks_run_headless() -> Result<()> {
    let py = python()?;
    kernel_installed(&py)?;
    // Output goes straight through: the first run compiles the kernel's dependencies for a long while,
    // and the per-notebook times are part of the report.
    let status = plain_shell(&py)
        .arg(root().join("tests/notebooks/run_notebooks.py"))
        .current_dir(root())
        .status()
        .context("running run_notebooks.py")?;
    if !status.success() {
        bail!("the notebooks failed ({status}); see the output above");
    }
    Ok(())
}

#[test]
#[ignore = "runs the three notebooks in JupyterLab in a browser (~3 min on 2 cores): scripts/test --notebooks runs it"]
fn notebooks_run_in_jupyterlab_in_a_browser() -> Result<()> {
    let py = python()?;
    let status = plain_shell(&py)
        .arg(root().join("tests/notebooks/browser.py"))
        .current_dir(root())
        .status()
        .context("running browser.py")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(NOT_INSTALLED) => bail!("a prerequisite of the browser test is missing (see above): run scripts/setup"),
        _ => bail!("the notebooks failed in the browser ({status}); see the output above"),
    }
}
