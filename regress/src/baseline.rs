//! Baselines behind the same protocol: ordinary least squares (linfa-linear), ridge
//! (linfa-elasticnet with `l1_ratio = 0`) and ProteinGym's one-hot sequence encoding.

use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_elasticnet::ElasticNet;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};

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

/// Ordinary least squares with intercept (linfa-linear's `LinearRegression`, a least-squares
/// solve). With more features than rows the system is underdetermined; linfa then returns an
/// error or an arbitrary solution, so prefer [`ridge`] there.
pub fn ols(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<Linear> {
    let ds = DatasetBase::new(x.to_owned(), y.to_owned());
    let model = LinearRegression::new().fit(&ds).map_err(|e| Error::Baseline { model: "ols", source: Box::new(e) })?;
    Ok(Linear { coef: model.params().to_owned(), intercept: model.intercept(), alpha: 0.0 })
}

/// Ridge regression `min ‖y − Xw − b‖² + α‖w‖²` (scikit-learn's `Ridge(alpha)` objective), fitted
/// with linfa-elasticnet at `l1_ratio = 0` and `penalty = α / n` (linfa scales the loss by
/// `1/(2n)`), tolerance 1e-6, at most 10 000 passes.
pub fn ridge(x: ArrayView2<f64>, y: ArrayView1<f64>, alpha: f64) -> Result<Linear> {
    let n = x.nrows() as f64;
    let ds = DatasetBase::new(x.to_owned(), y.to_owned());
    let model = ElasticNet::<f64>::ridge()
        .penalty(alpha / n)
        .tolerance(1e-6)
        .max_iterations(10_000)
        .fit(&ds)
        .map_err(|e| Error::Baseline { model: "ridge", source: Box::new(e) })?;
    Ok(Linear { coef: model.hyperplane().to_owned(), intercept: model.intercept(), alpha })
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
