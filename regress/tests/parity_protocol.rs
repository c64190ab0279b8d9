//! The paper's protocol (`reg_LassoCV.py`) against scikit-learn on the YAP1 one-hot fixture and
//! on embedding-like dense features, under both presets.
#![allow(clippy::unwrap_used)]

mod common;

use esmdb_regress::baseline::onehot;
use esmdb_regress::{Preset, ProtocolOptions, protocol};
use ndarray::{Array1, Array2, Axis};
use serde_json::json;

/// Compares with scikit-learn given the columns that vary (`keep`): columns constant over all rows
/// are exactly zero after centring in every fold, so dropping them for the reference changes
/// nothing but its run time (one-hot matrices are ~96% constant columns).
fn check(name: &str, x: &Array2<f64>, y: &Array1<f64>, preset: Preset, r2_tol: f64) {
    let opts = ProtocolOptions::preset(preset);
    let ours = protocol::evaluate(x.view(), y.view(), None, &opts).unwrap();
    let keep: Vec<usize> = (0..x.ncols()).filter(|&j| x.column(j).iter().any(|v| *v != x[[0, j]])).collect();
    let x_ref = x.select(Axis(1), &keep);
    let r = common::sklearn(
        x_ref.view(),
        y.view(),
        json!({"mode": "protocol", "tol": opts.tol, "max_iter": opts.max_iter, "threads": 2}),
    );
    let folds = r["folds"].as_array().unwrap();
    assert_eq!(folds.len(), ours.folds.len());
    for (f, rf) in ours.folds.iter().zip(folds) {
        let k = f.fold;
        assert_eq!(f.split.train, common::usizes(&rf["train"]), "{name} fold {k}: train rows");
        assert_eq!(f.split.test, common::usizes(&rf["test"]), "{name} fold {k}: test rows");
        let inner: Vec<Vec<usize>> = rf["inner_test_folds"].as_array().unwrap().iter().map(common::usizes).collect();
        let ours_inner: Vec<Vec<usize>> = esmdb_regress::kfold::kfold(f.split.train.len(), 5, None, "t")
            .unwrap()
            .into_iter()
            .map(|s| s.test)
            .collect();
        assert_eq!(ours_inner, inner, "{name} fold {k}: inner folds");

        let grid = common::f64s(&rf["alphas"]);
        let (i, j) = (common::grid_index(&grid, f.alpha), common::grid_index(&grid, rf["alpha"].as_f64().unwrap()));
        assert!(i.abs_diff(j) <= 1, "{name} fold {k}: alpha index {i} vs sklearn {j}");
        let r2 = rf["r2_test"].as_f64().unwrap();
        assert!((f.r2_test - r2).abs() < r2_tol, "{name} fold {k}: test R² {} vs {r2}", f.r2_test);
        let r2t = rf["r2_train"].as_f64().unwrap();
        assert!((f.r2_train - r2t).abs() < r2_tol, "{name} fold {k}: train R² {} vs {r2t}", f.r2_train);
        if i == j {
            let rho = rf["rho_test"].as_f64().unwrap_or(f64::NAN);
            assert!(
                (f.rho_test - rho).abs() < 10.0 * r2_tol || (rho.is_nan() && f.rho_test.is_nan()),
                "{name} fold {k}: test rho {} vs {rho}",
                f.rho_test
            );
            let coef = common::f64s(&rf["coef"]);
            let scale = coef.iter().fold(0.0f64, |m, c| m.max(c.abs())).max(1e-12);
            let ours_kept: Vec<f64> = keep.iter().map(|&j| f.model.coef[j]).collect();
            let dropped_nonzero =
                f.model.coef.iter().filter(|c| **c != 0.0).count() - ours_kept.iter().filter(|c| **c != 0.0).count();
            assert_eq!(dropped_nonzero, 0, "{name} fold {k}: constant columns got coefficients");
            let diff = ours_kept.iter().zip(&coef).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(diff / scale < 10.0 * r2_tol, "{name} fold {k}: coef difference {diff} (scale {scale})");
        }
    }
}

fn yap1_onehot() -> (Array2<f64>, Array1<f64>) {
    let (_, targets, seqs) = common::yap1();
    let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
    (onehot(&refs).unwrap(), Array1::from(targets))
}

#[test]
fn yap1_onehot_published_preset() {
    let (x, y) = yap1_onehot();
    check("yap1 published", &x, &y, Preset::Published, 1e-2);
}

#[test]
fn yap1_onehot_readme_preset() {
    let (x, y) = yap1_onehot();
    check("yap1 readme", &x, &y, Preset::Readme, 1e-3);
}

#[test]
fn embedding_like_features_both_presets() {
    // Embedding-like: dense, correlated, more rows than features (Gram path inside LassoCV).
    let (x, y) = common::synthetic(300, 48, 6, 0.6, 11);
    check("dense published", &x, &y, Preset::Published, 1e-2);
    check("dense readme", &x, &y, Preset::Readme, 1e-3);
}
