//! Shared helpers for the parity tests: data generators, the DMS fixture, and the scikit-learn
//! reference (`tests/python/sklearn_ref.py`) run through the esmdb venv's Python.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde_json::Value;

/// Workspace root (the parent of `regress/`).
pub fn workspace() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("..")
}

/// The Python with scikit-learn: `$ESMDB_PYTHON`, else `<workspace>/.venv/bin/python`. Panics
/// (fails the test) when neither exists: these parity tests must not silently skip.
pub fn python() -> PathBuf {
    let candidate =
        std::env::var_os("ESMDB_PYTHON").map(PathBuf::from).unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        candidate.exists(),
        "no Python at {}: set ESMDB_PYTHON or run scripts/setup to create the venv with scikit-learn",
        candidate.display()
    );
    candidate
}

fn write_f64(path: &std::path::Path, values: impl Iterator<Item = f64>) {
    let bytes: Vec<u8> = values.flat_map(f64::to_le_bytes).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Runs the scikit-learn reference on `x`, `y` with the request fields in `req`.
pub fn sklearn(x: ArrayView2<f64>, y: ArrayView1<f64>, mut req: Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (xp, yp) = (dir.path().join("x.bin"), dir.path().join("y.bin"));
    write_f64(&xp, x.rows().into_iter().flat_map(|r| r.to_vec()));
    write_f64(&yp, y.iter().copied());
    req["x"] = xp.to_string_lossy().into();
    req["y"] = yp.to_string_lossy().into();
    req["n"] = x.nrows().into();
    req["p"] = x.ncols().into();
    let reqp = dir.path().join("req.json");
    let outp = dir.path().join("out.json");
    std::fs::write(&reqp, req.to_string()).unwrap();
    let script = workspace().join("tests/python/sklearn_ref.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(&reqp)
        .arg(&outp)
        .env("OMP_NUM_THREADS", req.get("threads").map_or("1".into(), |t| t.to_string()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "scikit-learn reference failed (is scikit-learn installed in {}? run scripts/setup):\n{}",
        python().display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(&outp).unwrap()).unwrap()
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

/// xorshift64* with Box–Muller normals: deterministic test data without a rand dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `y = X·w + noise` with `k` informative features; `rho` > 0 correlates neighbouring columns.
pub fn synthetic(n: usize, p: usize, k: usize, rho: f64, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = Rng::new(seed);
    let mut x = Array2::zeros((n, p));
    for i in 0..n {
        let mut prev = rng.normal();
        for j in 0..p {
            let z = rng.normal();
            prev = rho * prev + (1.0 - rho * rho).sqrt() * z;
            x[[i, j]] = prev;
        }
    }
    let w: Vec<f64> = (0..p).map(|j| if j < k { 1.0 + j as f64 * 0.5 } else { 0.0 }).collect();
    let y = Array1::from_shape_fn(n, |i| (0..p).map(|j| x[[i, j]] * w[j]).sum::<f64>() + 2.0 * rng.normal() + 3.0);
    (x, y)
}

/// The YAP1 DMS fixture: (mutants, targets, sequences).
pub fn yap1() -> (Vec<String>, Vec<f64>, Vec<String>) {
    let path = workspace().join("tests/fixtures/dms/YAP1_HUMAN_Fields2012_singles_metadata.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut mutants, mut targets, mut seqs) = (vec![], vec![], vec![]);
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        mutants.push(f[2].to_string());
        targets.push(f[3].parse().unwrap());
        seqs.push(f[4].to_string());
    }
    (mutants, targets, seqs)
}

/// Index of `alpha` on `grid` (relative tolerance 1e-12).
pub fn grid_index(grid: &[f64], alpha: f64) -> usize {
    grid.iter()
        .position(|g| ((g - alpha) / alpha).abs() < 1e-12)
        .unwrap_or_else(|| panic!("alpha {alpha} not on the grid"))
}
