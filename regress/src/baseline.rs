//! Baselines behind the same protocol, computed as scikit-learn computes them: ordinary least
//! squares (`LinearRegression`), ridge (`Ridge`), and ProteinGym's one-hot sequence encoding.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::dense;
use crate::error::{Error, Result};
use crate::lasso::check_xy;

/// The 20 standard amino acids in ProteinGym's order.
pub const AMINO_ACIDS: &str = "ACDEFGHIKLMNPQRSTVWY";

/// A fitted linear model: `ŷ = X·coef + intercept`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Linear {
    /// Coefficients.
    pub coef: Array1<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Penalty used (0 for OLS).
    pub alpha: f64,
}

impl Linear {
    /// Predictions for `x`.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        x.dot(&self.coef) + self.intercept
    }
}

/// One-hot encoding of equal-length protein sequences, `[n, 20·L]`, position-major
/// (`feature = position · 20 + amino-acid index`), as ProteinGym's supervised one-hot baseline.
/// A gap `-` encodes as all zeros; other letters outside the 20 are an error.
pub fn onehot(sequences: &[&str]) -> Result<Array2<f64>> {
    let Some(first) = sequences.first() else {
        return Err(Error::Empty { what: "sequences", rows: 0, cols: 0 });
    };
    let len = first.len();
    if len == 0 {
        return Err(Error::Empty { what: "sequences", rows: sequences.len(), cols: 0 });
    }
    let mut out = Array2::zeros((sequences.len(), 20 * len));
    for (row, seq) in sequences.iter().enumerate() {
        if seq.len() != len {
            return Err(Error::Ragged { row, found: seq.len(), expected: len });
        }
        for (pos, c) in seq.bytes().enumerate() {
            if c == b'-' {
                continue;
            }
            let Some(aa) = AMINO_ACIDS.bytes().position(|a| a == c.to_ascii_uppercase()) else {
                return Err(Error::Sequence {
                    row,
                    reason: format!("letter `{}` at position {} is not one of {AMINO_ACIDS}", c as char, pos + 1),
                });
            };
            out[[row, pos * 20 + aa]] = 1.0;
        }
    }
    Ok(out)
}

/// `x` and `y` centred on their means over the rows (scikit-learn's `_preprocess_data` with
/// `fit_intercept=True`): the fit runs on these and the intercept is `ȳ − x̄·w`.
struct Centred {
    x: Array2<f64>,
    y: Array1<f64>,
    x_mean: Array1<f64>,
    y_mean: f64,
}

impl Centred {
    /// Validates `x` and `y` (shapes, finiteness) and centres them.
    fn new(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<Self> {
        check_xy(x, y)?;
        let (Some(x_mean), Some(y_mean)) = (x.mean_axis(Axis(0)), y.mean()) else {
            unreachable!("check_xy refuses empty input")
        };
        Ok(Centred { x: &x - &x_mean, y: &y - y_mean, x_mean, y_mean })
    }

    fn model(self, coef: Array1<f64>, alpha: f64) -> Linear {
        Linear { intercept: self.y_mean - self.x_mean.dot(&coef), coef, alpha }
    }
}

/// Ordinary least squares with intercept, as scikit-learn's `LinearRegression()`: `x` and `y`
/// centred, then a least-squares solve (Householder QR) over the columns that vary on these rows.
/// A constant column is zero after centring and gets coefficient 0, as in scikit-learn's
/// minimum-norm solution. When the varying columns are linearly dependent (always the case with
/// as many of them as rows: centring leaves rank ≤ n − 1) the least-squares solution is not
/// unique; scikit-learn then returns the minimum-norm one, which this baseline does not compute,
/// so it is an error that points to [`ridge`].
pub fn ols(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<Linear> {
    let c = Centred::new(x, y)?;
    let n = x.nrows();
    let varying: Vec<usize> = (0..x.ncols()).filter(|&j| x.column(j).iter().any(|v| *v != x[[0, j]])).collect();
    let k = varying.len();
    let dependent = || Error::Baseline {
        model: "ols",
        reason: format!(
            "the {k} varying features are linearly dependent on these {n} rows, so least squares has \
             no unique solution; use model=ridge"
        ),
    };
    if k >= n {
        return Err(dependent());
    }
    let mut a: Vec<f64> = varying.iter().flat_map(|&j| c.x.column(j).to_vec()).collect();
    let mut b = c.y.to_vec();
    let w = dense::lstsq_qr(&mut a, n, k, &mut b).ok_or_else(dependent)?;
    let mut coef = Array1::zeros(x.ncols());
    varying.iter().zip(w).for_each(|(&j, wj)| coef[j] = wj);
    Ok(c.model(coef, 0.0))
}

/// Ridge regression `min ‖y − Xw − b‖² + α‖w‖²`, as scikit-learn's `Ridge(alpha)` computes it on
/// dense input (`solver='auto'` → `'cholesky'`): `x` and `y` centred, then
/// `(XcᵀXc + αI) w = Xcᵀyc` when there are no more features than rows, else the kernel form
/// `w = Xcᵀ(XcXcᵀ + αI)⁻¹ yc` (`_solve_cholesky_kernel`: the same `w` from the smaller system).
/// linfa-elasticnet, used before, centred only `y` and so fitted another model whenever the
/// feature means are not zero (min-max-scaled features never are). An error when the system is
/// not positive definite (`alpha = 0` with dependent columns).
pub fn ridge(x: ArrayView2<f64>, y: ArrayView1<f64>, alpha: f64) -> Result<Linear> {
    let c = Centred::new(x, y)?;
    let (n, p) = x.dim();
    let kernel = p > n;
    let (mut a, mut b) = if kernel { (c.x.dot(&c.x.t()), c.y.clone()) } else { (c.x.t().dot(&c.x), c.x.t().dot(&c.y)) };
    a.diag_mut().iter_mut().for_each(|d| *d += alpha);
    let k = b.len();
    // `a` is symmetric, so its memory is the same matrix in either order.
    let (Some(a_mut), Some(b_mut)) = (a.as_slice_memory_order_mut(), b.as_slice_mut()) else {
        unreachable!("fresh products are contiguous")
    };
    if !dense::cholesky_solve(a_mut, k, b_mut) {
        let reason = format!("the centred Gram matrix + {alpha}·I is not positive definite; use ridge_alpha > 0");
        return Err(Error::Baseline { model: "ridge", reason });
    }
    let coef = if kernel { c.x.t().dot(&b) } else { b };
    Ok(c.model(coef, alpha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onehot_layout_and_errors() {
        let x = onehot(&["AC", "C-"]).ok().unwrap_or_default();
        assert_eq!(x.dim(), (2, 40));
        assert_eq!(x[[0, 0]], 1.0); // A at position 1
        assert_eq!(x[[0, 21]], 1.0); // C at position 2
        assert_eq!(x[[1, 1]], 1.0);
        assert_eq!(x.row(1).sum(), 1.0);
        let e = onehot(&["AC", "A"]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("row 1 has 1 values"), "{e}");
        let e = onehot(&["AZ"]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("letter `Z` at position 2"), "{e}");
    }
}
