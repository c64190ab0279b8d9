//! Bad input: each case gives a clear error (or scikit-learn's documented behaviour).
#![allow(clippy::unwrap_used)]

use esmdb_regress::baseline::{ols, ridge};
use esmdb_regress::{FoldScheme, LassoCvParams, Model, ProtocolOptions, protocol, rows_to_matrix};
use ndarray::{Array1, Array2, array};

fn lasso_err(x: &Array2<f64>, y: &Array1<f64>) -> String {
    LassoCvParams::default().fit_arrays(x.view(), y.view()).err().map(|e| e.to_string()).unwrap_or_default()
}

fn protocol_err(x: &Array2<f64>, y: &Array1<f64>, opts: &ProtocolOptions) -> String {
    protocol::evaluate(x.view(), y.view(), None, opts).err().map(|e| e.to_string()).unwrap_or_default()
}

fn grid(n: usize, p: usize) -> (Array2<f64>, Array1<f64>) {
    let x = Array2::from_shape_fn((n, p), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    let y = Array1::from_shape_fn(n, |i| (i % 5) as f64);
    (x, y)
}

#[test]
fn nan_and_inf_are_rejected_with_their_cell() {
    let (mut x, mut y) = grid(10, 3);
    x[[1, 2]] = f64::NAN;
    assert_eq!(lasso_err(&x, &y), "non-finite value NaN in features at row 1, column 2");
    x[[1, 2]] = 0.0;
    y[4] = f64::INFINITY;
    assert_eq!(lasso_err(&x, &y), "non-finite value inf in target at row 4, column 0");
}

#[test]
fn fewer_rows_than_folds() {
    let (x, y) = grid(3, 2);
    let e = lasso_err(&x, &y);
    assert!(e.contains("n_splits=5 greater than the number of samples: n_samples=3"), "{e}");
    assert!(e.contains("inner LassoCV folds"), "{e}");
    let e = protocol_err(&x, &y, &ProtocolOptions::default());
    assert!(e.contains("n_samples=3 (outer protocol folds)"), "{e}");
}

#[test]
fn empty_and_mismatched_input() {
    let x = Array2::<f64>::zeros((0, 4));
    assert_eq!(lasso_err(&x, &Array1::zeros(0)), "empty input: features has 0 rows and 4 columns");
    let (x, _) = grid(10, 3);
    let e = lasso_err(&x, &Array1::zeros(9));
    assert_eq!(e, "shape mismatch: features have 10 rows but the target has 9 values");
}

#[test]
fn ragged_rows() {
    let e = rows_to_matrix(&[vec![1.0, 2.0], vec![3.0]]).err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("ragged rows: row 1 has 1 values, row 0 has 2"));
}

#[test]
fn constant_target() {
    let (x, _) = grid(20, 3);
    let y = Array1::from_elem(20, 2.5);
    // LassoCV follows scikit-learn: the grid collapses to 1e-15, coefficients stay 0 and the
    // intercept is the constant.
    let m = LassoCvParams::default().fit_arrays(x.view(), y.view()).unwrap();
    assert_eq!(m.n_nonzero(), 0);
    assert_eq!(m.intercept, 2.5);
    assert_eq!(m.alpha, 1e-15);
    // The protocol refuses: R² and Spearman ρ are undefined.
    let e = protocol_err(&x, &y, &ProtocolOptions::default());
    assert_eq!(e, "constant target: all 20 values equal 2.5; nothing to regress");
}

#[test]
fn constant_features_get_zero_coefficients() {
    let (mut x, y) = grid(30, 4);
    x.column_mut(1).fill(3.0);
    let m = LassoCvParams::default().fit_arrays(x.view(), y.view()).unwrap();
    assert_eq!(m.coef[1], 0.0);
    let x = Array2::from_elem((30, 3), 1.0);
    let m = LassoCvParams::default().fit_arrays(x.view(), y.view()).unwrap();
    assert_eq!(m.n_nonzero(), 0);
}

#[test]
fn position_schemes_need_positions() {
    let (x, y) = grid(20, 3);
    let opts = ProtocolOptions { scheme: FoldScheme::Modulo, ..ProtocolOptions::default() };
    let e = protocol_err(&x, &y, &opts);
    assert!(e.contains("needs a mutated position per row"), "{e}");
    let e = protocol::evaluate(x.view(), y.view(), Some(&[1, 2]), &opts).err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("shape mismatch: 2 positions for 20 rows"));
    // All rows at positions 1 and 6: two distinct positions for five folds.
    let pos: Vec<i64> = (0..20).map(|i| if i % 2 == 0 { 1 } else { 6 }).collect();
    let e = protocol::evaluate(x.view(), y.view(), Some(&pos), &opts).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("the modulo scheme needs at least 5 distinct mutated positions (one per fold), got 2")
    );
}

#[test]
fn predict_checks_columns() {
    let (x, y) = grid(20, 3);
    let m = LassoCvParams::default().fit_arrays(x.view(), y.view()).unwrap();
    let e = m.predict_checked(array![[1.0, 2.0]].view()).err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("shape mismatch: model has 3 features, input has 2 columns"));
}

#[test]
fn baselines_without_a_unique_solution() {
    let msg = |k: usize, n: usize| {
        format!(
            "baseline ols failed: the {k} varying features are linearly dependent on these {n} rows, so least \
             squares has no unique solution; use model=ridge"
        )
    };
    // As many varying features as rows: rank ≤ n − 1 after centring.
    let x = Array2::from_shape_fn((6, 6), |(i, j)| ((i * 5 + j * j) % 7) as f64);
    let y = Array1::from_shape_fn(6, |i| i as f64);
    let e = ols(x.view(), y.view()).err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some(msg(6, 6).as_str()));
    // More rows than features, but column 2 is twice column 0.
    let (mut x, y) = grid(20, 3);
    let twice = x.column(0).mapv(|v| 2.0 * v);
    x.column_mut(2).assign(&twice);
    let e = ols(x.view(), y.view()).err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some(msg(3, 20).as_str()));
    // Through the protocol, with the fold's row count.
    let opts = ProtocolOptions { model: Model::Ols, ..ProtocolOptions::default() };
    assert_eq!(protocol_err(&x, &y, &opts), msg(3, 16));
    // Ridge without a penalty on more features than rows.
    let x = Array2::from_shape_fn((5, 8), |(i, j)| ((i * 3 + j) % 5) as f64);
    let e = ridge(x.view(), Array1::from_shape_fn(5, |i| i as f64).view(), 0.0).err().map(|e| e.to_string());
    let want = "baseline ridge failed: the centred Gram matrix + 0·I is not positive definite; use ridge_alpha > 0";
    assert_eq!(e.as_deref(), Some(want));
}
