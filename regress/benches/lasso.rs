//! esmdb LassoCV vs scikit-learn 1.9.1 LassoCV (and linfa-elasticnet's plain path) on random
//! data, plus the paper's full protocol. Not a timed test: run with
//! `cargo bench -p esmdb-regress --bench lasso` and read the table.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use esmdb_regress::{LassoCvParams, ProtocolOptions, protocol};
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Array2};
use serde_json::json;

fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..reps {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.unwrap())
}

fn row(label: &str, threads: usize, ours: f64, theirs: f64, same: &str) {
    println!("| {label:<28} | {threads} | {ours:>9.3} | {theirs:>9.3} | {:>7.1}x | {same:<14} |", theirs / ours);
}

/// scikit-learn at `threads` threads in its faster configuration: `n_jobs = threads` (folds in
/// parallel, what LassoCV(n_jobs) does) or `n_jobs = 1` with `threads` BLAS threads. On two cores
/// the first oversubscribes (2 joblib threads × 2 BLAS threads) and can be slower than one thread.
fn sklearn_best(x: ndarray::ArrayView2<f64>, y: ndarray::ArrayView1<f64>, req: serde_json::Value) -> serde_json::Value {
    let threads = req["threads"].as_u64().unwrap_or(1);
    let mut best = common::sklearn(x, y, req.clone());
    if threads > 1 {
        let mut one_job = req;
        one_job["n_jobs"] = 1.into();
        let other = common::sklearn(x, y, one_job);
        if other["seconds"].as_f64().unwrap() < best["seconds"].as_f64().unwrap() {
            best = other;
        }
    }
    best
}

fn data(n: usize, p: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    common::synthetic(n, p, 20, 0.3, seed)
}

fn main() {
    let reps = std::env::var("BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    println!("| case                         | threads | esmdb s | sklearn s | speedup | alpha equal    |");
    println!("|------------------------------|---|-----------|-----------|---------|----------------|");
    for p in [320, 640, 1280] {
        let (x, y) = data(5000, p, p as u64);
        for threads in [1, 2] {
            let params = LassoCvParams { n_threads: threads, ..LassoCvParams::default() };
            let (t, m) = best_of(reps, || params.fit_arrays(x.view(), y.view()).unwrap());
            let r = sklearn_best(x.view(), y.view(), json!({"mode": "lassocv", "threads": threads, "repeat": reps}));
            let alpha = r["alpha"].as_f64().unwrap();
            let same = if ((alpha - m.alpha) / alpha).abs() < 1e-12 {
                "yes".to_string()
            } else {
                let g: Vec<f64> = m.alphas.to_vec();
                format!("no ({} steps)", common::grid_index(&g, m.alpha).abs_diff(common::grid_index(&g, alpha)))
            };
            row(&format!("LassoCV 5000x{p}"), threads, t, r["seconds"].as_f64().unwrap(), &same);
        }
        // linfa-elasticnet: the same 100 alphas on the full data, one fit each (no CV, no warm
        // start), single-threaded. Only at p = 320: it takes ~25 s there already.
        if p != 320 {
            continue;
        }
        let m = LassoCvParams::default().fit_arrays(x.view(), y.view()).unwrap();
        let ds = DatasetBase::new(x.clone(), y.clone());
        let t = Instant::now();
        for &a in &m.alphas {
            let _ = ElasticNet::<f64>::lasso().penalty(a).max_iterations(1000).tolerance(1e-4).fit(&ds);
        }
        println!(
            "| linfa path (100 fits) 5000x{p:<5}| 1 | {:>9.3} |           |         | (no CV)        |",
            t.elapsed().as_secs_f64()
        );
    }
    // The last case is shaped like a small DMS dataset with uninformative features (YAP1: 362
    // variants, ESM2-8M's 320 dimensions, a random-weight model): correlated columns, a target the
    // features cannot explain, so coordinate descent rarely converges: the solver's worst case.
    for (n, p, label) in [(2000, 320, ""), (5000, 640, ""), (362, 320, " noise")] {
        let (x, y) = if label.is_empty() { data(n, p, 99) } else { common::synthetic(n, p, 0, 0.9, 7) };
        for threads in [1, 2] {
            let opts = ProtocolOptions { threads, ..ProtocolOptions::default() };
            let (t, res) = best_of(reps, || protocol::evaluate(x.view(), y.view(), None, &opts).unwrap());
            let r = sklearn_best(
                x.view(),
                y.view(),
                json!({"mode": "protocol", "threads": threads, "tol": opts.tol, "max_iter": opts.max_iter, "repeat": reps}),
            );
            let equal = r["folds"]
                .as_array()
                .unwrap()
                .iter()
                .zip(&res.folds)
                .filter(|(rf, f)| ((rf["alpha"].as_f64().unwrap() - f.alpha) / f.alpha).abs() < 1e-12)
                .count();
            row(
                &format!("protocol published {n}x{p}{label}"),
                threads,
                t,
                r["seconds"].as_f64().unwrap(),
                &format!("{equal}/5 folds"),
            );
        }
    }
}
