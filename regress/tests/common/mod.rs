//! Shared helpers for the parity tests: data generators, the DMS fixture, and the scikit-learn
//! reference (`tests/python/sklearn_ref.py`) run through the esmdb venv's Python.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use esmdb_regress::metrics::{pearson, rank_average, spearman};
use esmdb_regress::protocol::{self, FoldResult, FoldScheme, Model, ProtocolOptions, ProtocolResult, Scaling};
use esmdb_regress::scale::MinMaxScaler;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde_json::{Value, json};

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

/// Index of `alpha` on `grid`: the one grid value within 1e-12 relative (neighbours are a factor
/// `eps^(−1/(n_alphas − 1))` apart, 1.07 on the default grid, so the match is unique).
pub fn grid_index(grid: &[f64], alpha: f64) -> usize {
    grid.iter()
        .position(|g| ((g - alpha) / alpha).abs() < 1e-12)
        .unwrap_or_else(|| panic!("alpha {alpha} not on the grid"))
}

/// A list of index lists (`[[0, 3], [1, 2]]`).
pub fn usize_lists(v: &Value) -> Vec<Vec<usize>> {
    v.as_array().unwrap().iter().map(usizes).collect()
}

/// numpy's `assert_allclose`: equal lengths, then `|ours − theirs| ≤ atol + rtol·|theirs|` for every
/// element (NaN matches NaN only), naming the first element out of tolerance.
pub fn assert_close(what: &str, ours: &[f64], theirs: &[f64], rtol: f64, atol: f64) {
    assert_eq!(ours.len(), theirs.len(), "{what}: {} values here, {} from scikit-learn", ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if a.is_nan() || b.is_nan() {
            assert!(a.is_nan() && b.is_nan(), "{what}[{i}]: {a} vs scikit-learn {b}");
            continue;
        }
        let diff = (a - b).abs();
        assert!(
            diff <= atol + rtol * b.abs(),
            "{what}[{i}]: {a} vs scikit-learn {b} (|diff| {diff:e}, rtol {rtol:e}, atol {atol:e})"
        );
    }
}

/// Columns of `x` that vary over its rows. A column constant over all rows is constant in every
/// training part, so it is zero after centring (and after min-max scaling) and gets no
/// coefficient: dropping it for the reference changes nothing but its run time (one-hot matrices
/// are ~96% constant columns).
pub fn varying_columns(x: ArrayView2<f64>) -> Vec<usize> {
    (0..x.ncols()).filter(|&j| x.column(j).iter().any(|v| *v != x[[0, j]])).collect()
}

/// Runs the protocol here and scikit-learn's (`mode: protocol`) with the same model, scaling and
/// folds (a position-based scheme's folds are passed to the reference as `outer_test_folds`; they
/// are checked against ProteinGym's definition in `schemes.rs`), and compares every fold (see
/// [`compare_fold`]) within `rel`. The reference sees only the [`varying_columns`]. Returns our
/// result for further checks.
pub fn assert_protocol_parity(
    name: &str,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    positions: Option<&[i64]>,
    opts: &ProtocolOptions,
    rel: f64,
) -> ProtocolResult {
    let ours = protocol::evaluate(x, y, positions, opts).unwrap();
    let keep = varying_columns(x);
    let mut req = json!({
        "mode": "protocol", "tol": opts.tol, "max_iter": opts.max_iter, "eps": opts.eps,
        "n_alphas": opts.n_alphas, "cv": opts.inner_cv, "folds": opts.folds, "seed": opts.seed,
        "threads": 2, "ridge_alpha": opts.ridge_alpha,
        "model": match opts.model { Model::LassoCv => "lassocv", Model::Ols => "ols", Model::Ridge => "ridge" },
        "scale": match opts.scaling { Scaling::All => "all", Scaling::Inside => "inside", Scaling::None => "none" },
    });
    if opts.scheme != FoldScheme::Random {
        req["outer_test_folds"] = ours.folds.iter().map(|f| f.split.test.clone()).collect::<Vec<_>>().into();
    }
    let r = sklearn(x.select(Axis(1), &keep).view(), y, req);
    let folds = r["folds"].as_array().unwrap();
    assert_eq!(ours.folds.len(), folds.len(), "{name}: number of outer folds");
    let ctx = FoldCtx { x: x.view(), y: y.view(), y_sd: y.std(0.0), opts, keep: &keep, rel };
    for (f, rf) in ours.folds.iter().zip(folds) {
        compare_fold(&format!("{name} fold {}:", f.fold), &ctx, f, rf);
    }
    ours
}

/// What every fold of one protocol comparison shares.
struct FoldCtx<'a> {
    x: ArrayView2<'a, f64>,
    y: ArrayView1<'a, f64>,
    y_sd: f64,
    opts: &'a ProtocolOptions,
    keep: &'a [usize],
    rel: f64,
}

/// The (scaled, as the protocol scales them) training and test rows of one fold.
fn fold_features(x: ArrayView2<f64>, opts: &ProtocolOptions, f: &FoldResult) -> (Array2<f64>, Array2<f64>) {
    let x = match opts.scaling {
        Scaling::All => MinMaxScaler::fit(x).transform(x),
        Scaling::Inside | Scaling::None => x.to_owned(),
    };
    let (train, test) = (x.select(Axis(0), &f.split.train), x.select(Axis(0), &f.split.test));
    if opts.scaling == Scaling::Inside {
        let s = MinMaxScaler::fit(train.view());
        return (s.transform(train.view()), s.transform(test.view()));
    }
    (train, test)
}

/// Compares one outer fold with scikit-learn's: the split exactly; the penalty exactly (LassoCV:
/// see [`assert_same_alpha`]; ridge: the option; OLS: 0); coefficients (the dropped constant
/// columns must be exactly zero, and the nonzero counts equal), intercept, predictions and every
/// metric within `rel` of their natural scale (coefficients: the largest |coefficient|;
/// intercept, predictions, MAE and RMSE: the standard deviation of `y`; R² and ρ: 1), each also
/// within `rel` relative.
fn compare_fold(what: &str, c: &FoldCtx<'_>, f: &FoldResult, rf: &Value) {
    let (opts, rel, y_sd) = (c.opts, c.rel, c.y_sd);
    assert_eq!(f.split.train, usizes(&rf["train"]), "{what} train rows");
    assert_eq!(f.split.test, usizes(&rf["test"]), "{what} test rows");
    let fixed = match opts.model {
        Model::LassoCv => None,
        Model::Ridge => Some(opts.ridge_alpha),
        Model::Ols => Some(0.0),
    };
    match fixed {
        None => assert_same_alpha(what, opts, f, rf),
        Some(a) => assert_eq!((f.alpha, rf["alpha"].as_f64()), (a, Some(a)), "{what} alpha here and in scikit-learn"),
    }

    let coef = f64s(&rf["coef"]);
    assert_eq!(coef.len(), c.keep.len(), "{what} reference coefficient count");
    let mut dropped = vec![true; c.x.ncols()];
    c.keep.iter().for_each(|&j| dropped[j] = false);
    let stray: Vec<usize> = (0..c.x.ncols()).filter(|&j| dropped[j] && f.model.coef[j] != 0.0).collect();
    assert!(stray.is_empty(), "{what} constant columns got coefficients: {stray:?}");
    let ours_kept: Vec<f64> = c.keep.iter().map(|&j| f.model.coef[j]).collect();
    let coef_scale = coef.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    assert_close(&format!("{what} coef"), &ours_kept, &coef, rel, rel * coef_scale);
    assert_eq!(f.n_nonzero, rf["n_nonzero"].as_u64().unwrap() as usize, "{what} nonzero coefficients");
    let b = rf["intercept"].as_f64().unwrap();
    assert_close(&format!("{what} intercept"), &[f.model.intercept], &[b], rel, rel * y_sd);

    let (x_train, x_test) = fold_features(c.x, opts, f);
    let (p_train, p_test) = (f.model.predict(x_train.view()), f.model.predict(x_test.view()));
    for (part, ours, theirs) in [("train", &p_train, &rf["pred_train"]), ("test", &p_test, &rf["pred_test"])] {
        let w = format!("{what} {part} predictions");
        assert_close(&w, ours.as_slice().unwrap(), &f64s(theirs), rel, rel * y_sd);
    }
    // Spearman ρ of a prediction that is constant up to rounding is undefined. Ours is then
    // bitwise constant (rows with the same features on the nonzero coefficients sum the same
    // terms in the same order) and ρ is NaN, as scipy gives for a constant prediction; NumPy's
    // BLAS can leave ulp-level differences between such rows (rows in different kernel blocks),
    // and ranking those gives scikit-learn an arbitrary ρ.
    // The same holds for rows tied on one side only: one-hot test rows whose mutations no training
    // row carries predict the intercept plus the same terms, equal here and a rounding apart there
    // (or the other way round, depending on the CPU's kernels). Their ranks, hence ρ, differ by
    // the order rounding gave them (seen: 5.7e-4). So our ρ is compared with scikit-learn's within
    // what those near-ties allow ([`near_tie_band`]: every order of the near-tied rows, and their
    // average rank), and our Spearman on scikit-learn's own predictions must give its ρ exactly.
    for (key, ours, ours_pred, pred, rows) in [
        ("rho_train", f.rho_train, &p_train, &rf["pred_train"], &f.split.train),
        ("rho_test", f.rho_test, &p_test, &rf["pred_test"], &f.split.test),
    ] {
        let pred = f64s(pred);
        let spread =
            pred.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v)) - pred.iter().fold(f64::INFINITY, |m, v| m.min(*v));
        let theirs = rf[key].as_f64().unwrap_or(f64::NAN);
        if spread <= rel * y_sd {
            assert!(ours.is_nan(), "{what} {key}: {ours} for a prediction constant to rounding (spread {spread:e})");
            continue;
        }
        let y: Vec<f64> = rows.iter().map(|&i| c.y[i]).collect();
        let on_theirs = spearman(&pred, &y);
        assert_close(
            &format!("{what} {key} (our Spearman on scikit-learn's predictions)"),
            &[on_theirs],
            &[theirs],
            rel,
            rel,
        );
        let (lo, hi) = near_tie_band(ours_pred.as_slice().unwrap(), &y, 2.0 * rel * y_sd);
        let (lo, hi) = (lo - rel, hi + rel);
        assert!(
            (lo..=hi).contains(&ours) && (lo..=hi).contains(&theirs),
            "{what} {key}: ours {ours}, scikit-learn's {theirs}; the near-ties of the predictions allow [{lo}, {hi}]"
        );
    }
    let metrics = [
        ("r2_train", f.r2_train, 1.0),
        ("r2_test", f.r2_test, 1.0),
        ("mae_train", f.mae_train, y_sd),
        ("mae_test", f.mae_test, y_sd),
        ("rmse_train", f.rmse_train, y_sd),
        ("rmse_test", f.rmse_test, y_sd),
    ];
    for (key, ours, scale) in metrics {
        let theirs = rf[key].as_f64().unwrap_or(f64::NAN);
        assert_close(&format!("{what} {key}"), &[ours], &[theirs], rel, rel * scale);
    }
}

/// LassoCV's chosen alpha is scikit-learn's exactly: the same inner folds, and the same index on
/// the alpha grid (our grid equals scikit-learn's to rounding, 1e-12, and neighbours are 7%
/// apart; `parity_lassocv.rs` compares whole grids and MSE paths).
fn assert_same_alpha(what: &str, opts: &ProtocolOptions, f: &FoldResult, rf: &Value) {
    let ours_inner: Vec<Vec<usize>> =
        esmdb_regress::kfold::kfold(f.split.train.len(), opts.inner_cv, None, "inner LassoCV folds")
            .unwrap()
            .into_iter()
            .map(|s| s.test)
            .collect();
    assert_eq!(ours_inner, usize_lists(&rf["inner_test_folds"]), "{what} inner folds");
    let grid = f64s(&rf["alphas"]);
    let theirs = rf["alpha"].as_f64().unwrap();
    let (i, j) = (grid_index(&grid, f.alpha), grid_index(&grid, theirs));
    assert_eq!(i, j, "{what} alpha {} (grid index {i}) vs scikit-learn {theirs} (index {j})", f.alpha);
}

/// The range of Spearman's ρ between `pred` and `y` over the ways rounding can order `pred`'s near-ties: rows
/// whose predictions lie within `tol` of their neighbour's (in sorted order) form a group, and ρ is computed with
/// each group ordered by `y` ascending (the largest ρ, by the rearrangement inequality), descending (the
/// smallest) and tied (average ranks, as for exactly equal predictions). Without near-ties the band is one value.
pub fn near_tie_band(pred: &[f64], y: &[f64], tol: f64) -> (f64, f64) {
    let mut order: Vec<usize> = (0..pred.len()).collect();
    order.sort_by(|&a, &b| pred[a].total_cmp(&pred[b]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        match groups.last_mut() {
            Some(g) if pred[i] - pred[*g.last().unwrap()] <= tol => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    let y_ranks = rank_average(y);
    // 0: each group by y ascending, 1: descending, 2: tied.
    let rho = |how: u8| {
        let mut ranks = vec![0.0; pred.len()];
        let mut first = 1;
        for g in &groups {
            let mut g = g.clone();
            g.sort_by(|&a, &b| if how == 1 { y[b].total_cmp(&y[a]) } else { y[a].total_cmp(&y[b]) });
            for (k, &i) in g.iter().enumerate() {
                ranks[i] = if how == 2 { first as f64 + (g.len() - 1) as f64 / 2.0 } else { (first + k) as f64 };
            }
            first += g.len();
        }
        pearson(&ranks, &y_ranks)
    };
    let (up, down, tied) = (rho(0), rho(1), rho(2));
    (up.min(down).min(tied), up.max(down).max(tied))
}
