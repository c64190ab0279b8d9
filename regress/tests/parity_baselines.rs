//! The OLS and ridge baselines behind the protocol against scikit-learn's `LinearRegression()` and
//! `Ridge(alpha)` with the same preprocessing (min-max scaling on all rows) and the same outer
//! folds: per fold the model, the predictions and the metrics (see
//! `common::assert_protocol_parity`).
#![allow(clippy::unwrap_used)]

use crate::common;

use esmdb_regress::baseline::onehot;
use esmdb_regress::{Model, ProtocolOptions};
use ndarray::{Array1, Array2};

/// Tolerance for models, predictions and metrics, relative to each quantity's scale. Both sides
/// solve the same centred problem with backward-stable direct methods (ridge: Cholesky of the
/// same normal or kernel equations, as scikit-learn's `solver='cholesky'`; OLS: our Householder
/// QR against LAPACK's SVD-based `gelsd`), so they differ by rounding amplified by the condition
/// number (≤ 1e4 on these min-max-scaled features): measured ≤ 3e-13 of scale. 1e-9 leaves room
/// for other data while any difference in the model (centring, penalty scale, intercept) is
/// orders of magnitude larger.
const REL: f64 = 1e-9;

fn check(name: &str, x: &Array2<f64>, y: &Array1<f64>, model: Model, ridge_alpha: f64) {
    let opts = ProtocolOptions { model, ridge_alpha, ..ProtocolOptions::default() };
    common::assert_protocol_parity(name, x.view(), y.view(), None, &opts, REL);
}

#[test]
fn ols_more_rows_than_features() {
    let (x, y) = common::synthetic(300, 48, 6, 0.6, 11);
    check("ols 300x48", &x, &y, Model::Ols, 0.0);
}

#[test]
fn ols_constant_column_gets_zero() {
    // A constant column is zero after scaling and centring; scikit-learn's minimum-norm solution
    // gives it coefficient 0 (the reference does not see it; the comparison requires exactly 0).
    let (mut x, y) = common::synthetic(300, 48, 6, 0.6, 11);
    x.column_mut(7).fill(0.25);
    check("ols 300x48 constant column", &x, &y, Model::Ols, 0.0);
}

#[test]
fn ridge_more_rows_than_features() {
    let (x, y) = common::synthetic(300, 48, 6, 0.6, 11);
    check("ridge 300x48 alpha=1", &x, &y, Model::Ridge, 1.0);
    check("ridge 300x48 alpha=30", &x, &y, Model::Ridge, 30.0);
}

#[test]
fn ridge_more_features_than_rows() {
    // The kernel form on both sides.
    let (x, y) = common::synthetic(60, 150, 8, 0.3, 2);
    check("ridge 60x150 alpha=1", &x, &y, Model::Ridge, 1.0);
}

#[test]
fn ridge_yap1_onehot() {
    // ProteinGym's one-hot baseline: ~10k columns, most constant, rows < columns.
    let (_, targets, seqs) = common::yap1();
    let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
    let x = onehot(&refs).unwrap();
    check("ridge yap1 one-hot alpha=1", &x, &Array1::from(targets), Model::Ridge, 1.0);
}
