//! `LassoCvParams::fit_arrays` against scikit-learn 1.9.1 `LassoCV` on the same inputs.
#![allow(clippy::unwrap_used)]

use crate::common;

use esmdb_regress::{LassoCv, LassoCvParams};
use ndarray::{Array1, Array2};
use serde_json::json;

/// Tolerance for everything computed from the fitted paths (mean-squared errors, coefficients,
/// intercept), relative to each quantity's scale. Both sides run the same coordinate descent in
/// the same order with the same stopping rule (the pass counts are asserted equal), so they
/// differ only in summation order (our SIMD kernels against BLAS): measured ≤ 1e-13 of scale. An
/// extra or missing pass changes coefficients at the level of `tol` (≥ 1e-5 here), so 1e-9
/// catches any solver difference while leaving room for other SIMD widths.
const REL: f64 = 1e-9;

fn check(name: &str, x: &Array2<f64>, y: &Array1<f64>, tol: f64, max_iter: usize) -> LassoCv {
    let params = LassoCvParams { tol, max_iter, ..LassoCvParams::default() };
    let ours = params.fit_arrays(x.view(), y.view()).unwrap();
    let r = common::sklearn(x.view(), y.view(), json!({"mode": "lassocv", "tol": tol, "max_iter": max_iter}));

    // The grid comes from `Xᵀ(y − ȳ)` summed in another order: equal to rounding, not bitwise.
    let grid = common::f64s(&r["alphas"]);
    common::assert_close(&format!("{name}: alpha grid"), ours.alphas.as_slice().unwrap(), &grid, 1e-12, 0.0);
    let inner = common::usize_lists(&r["inner_test_folds"]);
    let ours_inner: Vec<Vec<usize>> = ours.folds.iter().map(|s| s.test.clone()).collect();
    assert_eq!(ours_inner, inner, "{name}: inner folds");

    let ref_mse: Vec<Vec<f64>> = r["mse_path"].as_array().unwrap().iter().map(common::f64s).collect();
    assert_eq!(ref_mse.len(), ours.mse_path.nrows(), "{name}: mse_path rows");
    for (a, row) in ref_mse.iter().enumerate() {
        let ours_row = ours.mse_path.row(a).to_vec();
        common::assert_close(&format!("{name}: mse_path[{a}]"), &ours_row, row, REL, 0.0);
    }

    // The chosen alpha exactly: the same grid index (the grids agree to 1e-12 and neighbours are
    // 7% apart).
    let ref_alpha = r["alpha"].as_f64().unwrap();
    let (i, j) = (common::grid_index(&grid, ours.alpha), common::grid_index(&grid, ref_alpha));
    assert_eq!(i, j, "{name}: alpha {} (grid index {i}) vs scikit-learn {ref_alpha} (index {j})", ours.alpha);

    let n_iter = r["n_iter"].as_u64().unwrap() as usize;
    assert_eq!(ours.n_iter, n_iter, "{name}: refit passes");
    let coef = common::f64s(&r["coef"]);
    let scale = coef.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    common::assert_close(&format!("{name}: coef"), ours.coef.as_slice().unwrap(), &coef, REL, REL * scale);
    let intercept = r["intercept"].as_f64().unwrap();
    common::assert_close(&format!("{name}: intercept"), &[ours.intercept], &[intercept], REL, REL * y.std(0.0));
    ours
}

#[test]
fn more_rows_than_features_uses_gram() {
    let (x, y) = common::synthetic(200, 30, 5, 0.0, 1);
    check("200x30", &x, &y, 1e-4, 1000);
}

#[test]
fn more_features_than_rows_uses_dense() {
    let (x, y) = common::synthetic(60, 150, 8, 0.0, 2);
    check("60x150", &x, &y, 1e-4, 1000);
}

#[test]
fn correlated_features() {
    let (x, y) = common::synthetic(150, 40, 6, 0.9, 3);
    check("150x40 rho=0.9", &x, &y, 1e-4, 1000);
    let (x, y) = common::synthetic(80, 120, 6, 0.9, 4);
    check("80x120 rho=0.9", &x, &y, 1e-5, 10_000);
}

#[test]
fn loose_tolerance_and_constant_column() {
    let (mut x, y) = common::synthetic(120, 20, 4, 0.3, 5);
    x.column_mut(7).fill(0.25);
    let m = check("120x20 tol=1e-2", &x, &y, 1e-2, 1000);
    // At tol=1e-2 the warm start already meets the gap at the next alpha, so the coefficients and
    // the test MSE repeat bitwise: the minimum is an exact tie, and the first alpha of it must win
    // (np.argmin), as it does for scikit-learn above.
    let mean = |a: usize| m.mse_path.row(a).mean().unwrap();
    let best = common::grid_index(m.alphas.as_slice().unwrap(), m.alpha);
    assert_eq!(mean(best), mean(best + 1), "the case no longer has a tie at its minimum");
}
