//! `MinMaxScaler(feature_range=(0, 1))` as scikit-learn 1.9 computes it: `scale = 1 / range` with
//! near-constant columns (`range < 10·ε`) given scale 1, `min = −data_min · scale`, and
//! `X · scale + min` (so a constant column becomes exactly 0).

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// A fitted min-max scaler.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MinMaxScaler {
    /// Per-column multiplier.
    pub scale: Array1<f64>,
    /// Per-column offset added after scaling.
    pub min: Array1<f64>,
}

impl MinMaxScaler {
    /// Fits on the rows of `x` (which must be finite and non-empty; checked by callers).
    pub fn fit(x: ArrayView2<f64>) -> Self {
        let p = x.ncols();
        let mut scale = Array1::zeros(p);
        let mut min = Array1::zeros(p);
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let lo = col.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let range = hi - lo;
            let range = if range < 10.0 * f64::EPSILON { 1.0 } else { range };
            scale[j] = 1.0 / range;
            min[j] = 0.0 - lo * scale[j];
        }
        MinMaxScaler { scale, min }
    }

    /// `X · scale + min`.
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for mut row in out.axis_iter_mut(Axis(0)) {
            for ((v, s), m) in row.iter_mut().zip(&self.scale).zip(&self.min) {
                *v = *v * s + m;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn constant_column_becomes_zero() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]];
        let s = MinMaxScaler::fit(x.view());
        let t = s.transform(x.view());
        assert_eq!(t, array![[0.0, 0.0], [1.0, 0.0], [0.5, 0.0]]);
    }
}
