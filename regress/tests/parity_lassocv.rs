//! `LassoCvParams::fit_arrays` against scikit-learn 1.9.1 `LassoCV` on the same inputs.
#![allow(clippy::unwrap_used)]

mod common;

use esmdb_regress::LassoCvParams;
use ndarray::{Array1, Array2};
use serde_json::json;

fn check(name: &str, x: &Array2<f64>, y: &Array1<f64>, tol: f64, max_iter: usize) {
    let params = LassoCvParams { tol, max_iter, ..LassoCvParams::default() };
    let ours = params.fit_arrays(x.view(), y.view()).unwrap();
    let r = common::sklearn(x.view(), y.view(), json!({"mode": "lassocv", "tol": tol, "max_iter": max_iter}));

    let grid = common::f64s(&r["alphas"]);
    assert_eq!(grid.len(), ours.alphas.len(), "{name}: grid length");
    for (a, b) in ours.alphas.iter().zip(&grid) {
        assert!(((a - b) / b).abs() < 1e-12, "{name}: grid {a} vs {b}");
    }
    let inner: Vec<Vec<usize>> = r["inner_test_folds"].as_array().unwrap().iter().map(common::usizes).collect();
    let ours_inner: Vec<Vec<usize>> = ours.folds.iter().map(|s| s.test.clone()).collect();
    assert_eq!(ours_inner, inner, "{name}: inner folds");

    let ref_alpha = r["alpha"].as_f64().unwrap();
    let (i, j) = (common::grid_index(&grid, ours.alpha), common::grid_index(&grid, ref_alpha));
    assert!(i.abs_diff(j) <= 1, "{name}: alpha index {i} vs sklearn {j}");

    let ref_mse: Vec<Vec<f64>> = r["mse_path"].as_array().unwrap().iter().map(common::f64s).collect();
    let mut worst = 0.0f64;
    for (a, row) in ref_mse.iter().enumerate() {
        for (k, v) in row.iter().enumerate() {
            worst = worst.max((ours.mse_path[[a, k]] - v).abs() / v.abs().max(1e-12));
        }
    }
    assert!(worst < 1e-3, "{name}: mse_path relative difference {worst}");

    if i == j {
        let coef = common::f64s(&r["coef"]);
        let scale = coef.iter().fold(0.0f64, |m, c| m.max(c.abs())).max(1e-12);
        let diff = ours.coef.iter().zip(&coef).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff / scale < 1e-3, "{name}: coef max difference {diff} (scale {scale})");
        let di = (ours.intercept - r["intercept"].as_f64().unwrap()).abs();
        assert!(di < 1e-3 * (1.0 + ours.intercept.abs()), "{name}: intercept differs by {di}");
        // Same algorithm, same stopping rule: iteration counts agree up to rounding at the edge.
        let n_iter = r["n_iter"].as_u64().unwrap() as usize;
        assert!(ours.n_iter.abs_diff(n_iter) <= 1 + n_iter / 20, "{name}: n_iter {} vs {n_iter}", ours.n_iter);
    }
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
    check("120x20 tol=1e-2", &x, &y, 1e-2, 1000);
}
