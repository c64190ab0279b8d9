//! `LassoCV` with scikit-learn 1.9.1 semantics (`sklearn/linear_model/_coordinate_descent.py`):
//! the alpha grid from the full data, `KFold(cv)` without shuffle, one warm-started path per fold
//! (Gram solver when a fold has more rows than features, as `precompute='auto'` does), the alpha
//! with the lowest mean test MSE, and a refit on all rows with the dense solver
//! (`precompute=False`, as `LinearModelCV.fit` sets it).

use linfa::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::blocks::Blocks;
use crate::cd::{self, Design, Work};
use crate::error::{Error, Result};
use crate::kfold::{self, Split};
use crate::linalg::{dot_any, residual_mse};
use crate::par;

/// When the per-fold paths use the Gram matrix `XᵀX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precompute {
    /// scikit-learn's `'auto'`: Gram when the fold has more training rows than features.
    #[default]
    Auto,
    /// Never (the dense solver everywhere).
    Never,
}

/// Hyper-parameters of [`LassoCv`]; defaults are scikit-learn's `LassoCV()` defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LassoCvParams {
    /// `alpha_min / alpha_max` of the grid. Default 1e-3.
    pub eps: f64,
    /// Number of alphas on the grid. Default 100.
    pub n_alphas: usize,
    /// Number of contiguous inner folds (`KFold(cv)` without shuffle). Default 5.
    pub cv: usize,
    /// Maximum coordinate-descent passes per alpha. Default 1000.
    pub max_iter: usize,
    /// Duality-gap tolerance, relative to `‖y − ȳ‖²` (scikit-learn's `tol`). Default 1e-4.
    pub tol: f64,
    /// Gram or dense solver for the per-fold paths. Default [`Precompute::Auto`].
    pub precompute: Precompute,
    /// Worker threads for the folds; 0 = all cores. Default 0.
    pub n_threads: usize,
}

impl Default for LassoCvParams {
    fn default() -> Self {
        LassoCvParams {
            eps: 1e-3,
            n_alphas: 100,
            cv: 5,
            max_iter: 1000,
            tol: 1e-4,
            precompute: Precompute::Auto,
            n_threads: 0,
        }
    }
}

/// A fitted `LassoCV`: the attributes scikit-learn exposes, under their sklearn names minus `_`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LassoCv {
    /// Chosen penalty (`alpha_`).
    pub alpha: f64,
    /// Coefficients of the refit on all rows (`coef_`).
    pub coef: Array1<f64>,
    /// Intercept of the refit (`intercept_`).
    pub intercept: f64,
    /// The grid, descending (`alphas_`).
    pub alphas: Array1<f64>,
    /// Test MSE per alpha and fold, `[n_alphas, cv]` (`mse_path_`).
    pub mse_path: Array2<f64>,
    /// Passes of the refit (`n_iter_`).
    pub n_iter: usize,
    /// Duality gap of the refit, on the `1/(2n)` objective scale (`dual_gap_`).
    pub dual_gap: f64,
    /// The inner folds used.
    pub folds: Vec<Split>,
}

impl LassoCv {
    /// Number of nonzero coefficients.
    pub fn n_nonzero(&self) -> usize {
        self.coef.iter().filter(|c| **c != 0.0).count()
    }

    /// `X · coef + intercept`, checking the feature count and finiteness.
    pub fn predict_checked(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        if x.ncols() != self.coef.len() {
            return Err(Error::Shape(format!(
                "model has {} features, input has {} columns",
                self.coef.len(),
                x.ncols()
            )));
        }
        check_finite(x, "features")?;
        Ok(x.dot(&self.coef) + self.intercept)
    }
}

impl PredictInplace<Array2<f64>, Array1<f64>> for LassoCv {
    /// # Panics
    /// If the column count differs from the model's (linfa's convention); use
    /// [`LassoCv::predict_checked`] for a `Result`.
    fn predict_inplace(&self, x: &Array2<f64>, y: &mut Array1<f64>) {
        assert_eq!(x.ncols(), self.coef.len(), "number of features must match the model");
        y.assign(&(x.dot(&self.coef) + self.intercept));
    }

    fn default_target(&self, x: &Array2<f64>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

impl Fit<Array2<f64>, Array1<f64>, Error> for LassoCvParams {
    type Object = LassoCv;

    fn fit(&self, dataset: &DatasetBase<Array2<f64>, Array1<f64>>) -> Result<LassoCv> {
        self.fit_arrays(dataset.records.view(), dataset.targets.view())
    }
}

/// Rejects NaN/±inf with the first offending cell.
pub(crate) fn check_finite(x: ArrayView2<f64>, what: &'static str) -> Result<()> {
    // Fast path: one vectorisable pass when the data is contiguous and clean.
    if x.as_slice_memory_order().is_some_and(|s| s.iter().fold(true, |ok, v| ok & v.is_finite())) {
        return Ok(());
    }
    for ((row, column), &value) in x.indexed_iter() {
        if !value.is_finite() {
            return Err(Error::NonFinite { what, row, column, value });
        }
    }
    Ok(())
}

/// Validates a feature matrix and target as scikit-learn's `validate_data` does.
pub(crate) fn check_xy(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<()> {
    check_shapes(x, y)?;
    check_finite(x, "features")?;
    check_finite(y.insert_axis(Axis(1)), "target")
}

/// The shape half of [`check_xy`].
fn check_shapes(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::Empty { what: "features", rows: x.nrows(), cols: x.ncols() });
    }
    if y.len() != x.nrows() {
        return Err(Error::Shape(format!("features have {} rows but the target has {} values", x.nrows(), y.len())));
    }
    Ok(())
}

/// What one pass over the rows of the standard-layout `x` gives the alpha grid.
struct GridStats {
    /// Column means, summed row after row like numpy's axis-0 reduction.
    mu: Vec<f64>,
    /// `Σ_i x_i (y_i − ȳ)` (uncentred `x`).
    xty: Vec<f64>,
    /// `y − ȳ`.
    yc: Vec<f64>,
    /// Whether every value of `x` is finite.
    finite: bool,
}

impl GridStats {
    fn new(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Self {
        let n = x.nrows();
        let ybar = y.sum() / n as f64;
        let yc: Vec<f64> = y.iter().map(|v| v - ybar).collect();
        let mut sum = vec![0.0; x.ncols()];
        let mut xty = vec![0.0; x.ncols()];
        let mut finite = true;
        for (i, ycv) in yc.iter().enumerate() {
            for ((s, a), v) in sum.iter_mut().zip(xty.iter_mut()).zip(row(&x, i)) {
                finite &= v.is_finite();
                *s += v;
                *a += v * ycv;
            }
        }
        let mu = sum.iter().map(|s| s / n as f64).collect();
        GridStats { mu, xty, yc, finite }
    }

    fn grid(&self, eps: f64, n_alphas: usize) -> Vec<f64> {
        grid_from(&self.xty, &self.yc, &self.mu, self.yc.len(), eps, n_alphas)
    }
}

/// One pass over the standard-layout `x` (checked `y`): rejects NaN/±inf (naming the first
/// offending cell), and returns the column means and the alpha grid ([`alpha_grid`]). Three
/// passes before (finiteness, means, `Xᵀy`); summation orders are unchanged.
fn scan(x: ArrayView2<f64>, y: ArrayView1<f64>, eps: f64, n_alphas: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let stats = GridStats::new(x, y);
    if !stats.finite {
        check_finite(x, "features")?;
    }
    let alphas = stats.grid(eps, n_alphas);
    Ok((stats.mu, alphas))
}

/// Row `i` of a standard-layout matrix as a slice (the fit makes `x` standard layout on entry).
#[inline]
fn row<'a>(x: &ArrayView2<'a, f64>, i: usize) -> &'a [f64] {
    x.index_axis_move(Axis(0), i)
        .to_slice()
        .unwrap_or_else(|| unreachable!("the fit works on a standard-layout copy of x"))
}

/// Column means, summed row after row like numpy's axis-0 reduction.
fn col_means(x: ArrayView2<f64>, rows: &[usize]) -> Vec<f64> {
    let mut m = vec![0.0; x.ncols()];
    for &i in rows {
        for (mj, v) in m.iter_mut().zip(row(&x, i)) {
            *mj += v;
        }
    }
    let n = rows.len() as f64;
    m.iter_mut().for_each(|v| *v /= n);
    m
}

/// `_alpha_grid` (l1_ratio = 1, fit_intercept = True): `α_max = max_j |X_jᵀ(y − ȳ)| / n` on the
/// full data, then `np.geomspace(α_max, α_max·eps, n_alphas)`.
pub fn alpha_grid(x: ArrayView2<f64>, y: ArrayView1<f64>, eps: f64, n_alphas: usize) -> Vec<f64> {
    let x = x.as_standard_layout();
    GridStats::new(x.view(), y).grid(eps, n_alphas)
}

/// The grid from `Σ_i x_i (y_i − ȳ)` (uncentred `x`), `y − ȳ` and the column means.
fn grid_from(xty: &[f64], yc: &[f64], mu: &[f64], n: usize, eps: f64, n_alphas: usize) -> Vec<f64> {
    let yc_sum: f64 = yc.iter().sum();
    let max_sq = xty
        .iter()
        .zip(mu)
        .map(|(a, m)| {
            let v = a - m * yc_sum;
            v * v
        })
        .fold(0.0f64, f64::max);
    let alpha_max = max_sq.sqrt() / n as f64;
    const RESOLUTION: f64 = 1e-15; // np.finfo(np.float64).resolution
    if alpha_max <= RESOLUTION {
        return vec![RESOLUTION; n_alphas];
    }
    geomspace(alpha_max, alpha_max * eps, n_alphas)
}

/// `np.geomspace(start, stop, num)`: `10 ** linspace(log10 start, log10 stop)`, endpoints exact.
fn geomspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    let (ls, le) = (start.log10(), stop.log10());
    let div = num.saturating_sub(1).max(1) as f64;
    let step = (le - ls) / div;
    let mut out: Vec<f64> = (0..num).map(|i| 10f64.powf(i as f64 * step + ls)).collect();
    out[0] = start;
    if num > 1 {
        out[num - 1] = stop;
    }
    out
}

/// Centered column-major copy of `x[rows]`.
fn centered_design(x: ArrayView2<f64>, rows: &[usize], mu: &[f64]) -> Design {
    let (n, p) = (rows.len(), x.ncols());
    let mut data = vec![0.0; n * p];
    for (r, &i) in rows.iter().enumerate() {
        for (j, (v, m)) in row(&x, i).iter().zip(mu).enumerate() {
            data[j * n + r] = v - m;
        }
    }
    Design::new(data, n, p)
}

/// Shared inputs of the per-fold paths.
struct PathCtx<'a, 'd> {
    x: ArrayView2<'d, f64>,
    y: ArrayView1<'d, f64>,
    alphas: &'a [f64],
    max_iter: usize,
    tol: f64,
}

/// One fold of `_path_residuals` with the Gram solver: test MSE for every alpha of the
/// warm-started path, from the block statistics (no pass over `X`).
fn gram_fold_mse(ctx: &PathCtx<'_, '_>, blocks: &Blocks, k: usize) -> Vec<f64> {
    let fold = blocks.fold(k);
    let mut w = vec![0.0; ctx.x.ncols()];
    let mut ws = Work::default();
    let mut resid = Vec::new();
    let mut mse = Vec::with_capacity(ctx.alphas.len());
    for &alpha in ctx.alphas {
        cd::lasso_gram(&mut w, alpha * fold.n as f64, &fold.gram, ctx.max_iter, ctx.tol, &mut ws);
        mse.push(blocks.test_mse(k, &fold, &w, &mut resid));
    }
    mse
}

/// One fold of `_path_residuals` with the dense solver (`n_train ≤ p` or `precompute=False`).
fn dense_fold_mse(ctx: &PathCtx<'_, '_>, split: &Split) -> Vec<f64> {
    let (x, y) = (ctx.x, ctx.y);
    let p = x.ncols();
    let nt = split.train.len();
    let mu_t = col_means(x, &split.train);
    let ybar_t = split.train.iter().map(|&i| y[i]).sum::<f64>() / nt as f64;
    let yc: Vec<f64> = split.train.iter().map(|&i| y[i] - ybar_t).collect();
    let design = centered_design(x, &split.train, &mu_t);
    let mut w = vec![0.0; p];
    let mut ws = Work::default();

    // The test rows column-major, so a prediction is one `axpy` per nonzero coefficient.
    let n_test = split.test.len();
    let mut x_test = vec![0.0; n_test * p];
    for (r, &i) in split.test.iter().enumerate() {
        for (j, v) in row(&x, i).iter().enumerate() {
            x_test[j * n_test + r] = *v;
        }
    }
    let y_test: Vec<f64> = split.test.iter().map(|&i| y[i]).collect();
    let mut resid = Vec::with_capacity(n_test);

    let mut mse = Vec::with_capacity(ctx.alphas.len());
    for &alpha in ctx.alphas {
        cd::lasso_dense(&mut w, alpha * nt as f64, &design, &yc, ctx.max_iter, ctx.tol, &mut ws);
        let intercept = ybar_t - w.iter().zip(&mu_t).filter(|(wj, _)| **wj != 0.0).map(|(wj, m)| m * wj).sum::<f64>();
        mse.push(residual_mse(intercept, &y_test, &x_test, &w, &mut resid));
    }
    mse
}

impl LassoCvParams {
    /// Fits on `x` `[n_samples, n_features]` and `y` `[n_samples]`.
    pub fn fit_arrays(&self, x: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>) -> Result<LassoCv> {
        check_shapes(x, y)?;
        check_finite(y.insert_axis(Axis(1)), "target")?;
        self.check()?;
        // Rows as contiguous slices from here on (no copy when `x` already is standard layout).
        let x_std = x.as_standard_layout();
        let (x, y) = (x_std.view(), y.view());
        let (n, p) = x.dim();
        let folds = kfold::kfold(n, self.cv, None, "inner LassoCV folds")?;
        let threads = par::threads(self.n_threads);
        let all: Vec<usize> = (0..n).collect();
        let (mu, alphas) = scan(x, y, self.eps, self.n_alphas)?;

        let ybar = y.sum() / n as f64;
        let use_gram = |s: &Split| self.precompute == Precompute::Auto && s.train.len() > p;
        // The inner test folds partition the rows: one pass over each gives every fold's Gram problem.
        let blocks = folds.iter().any(use_gram).then(|| {
            let parts: Vec<&[usize]> = folds.iter().map(|f| f.test.as_slice()).collect();
            Blocks::build(x, y, &parts, &mu, ybar, threads)
        });
        let ctx = PathCtx { x, y, alphas: &alphas, max_iter: self.max_iter, tol: self.tol };
        let paths = par::map(folds.len(), threads, |k| match &blocks {
            Some(blocks) if use_gram(&folds[k]) => gram_fold_mse(&ctx, blocks, k),
            _ => dense_fold_mse(&ctx, &folds[k]),
        });

        let n_alphas = alphas.len();
        let mut mse_path = Array2::zeros((n_alphas, folds.len()));
        for (k, path) in paths.iter().enumerate() {
            for (a, v) in path.iter().enumerate() {
                mse_path[[a, k]] = *v;
            }
        }
        // np.argmin of the fold-mean: first minimum wins.
        let mut best = 0;
        let mut best_mse = f64::INFINITY;
        for a in 0..n_alphas {
            let m = paths.iter().map(|p| p[a]).sum::<f64>() / folds.len() as f64;
            if m < best_mse {
                best_mse = m;
                best = a;
            }
        }
        let alpha = alphas[best];

        // Refit: ElasticNet(alpha, precompute=False).fit(X, y), coefficients from zero. Where the
        // folds already summed the full centred Gram matrix, the refit runs on it: the same
        // coordinate updates and duality gap in exact arithmetic, at O(p) instead of O(n) per
        // update.
        let mut w = vec![0.0; p];
        let l1 = alpha * n as f64;
        let solve = match blocks {
            Some(blocks) if n > p => {
                let full = blocks.into_full();
                cd::lasso_gram(&mut w, l1, &full.gram, self.max_iter, self.tol, &mut Work::default())
            }
            _ => {
                let yc: Vec<f64> = y.iter().map(|v| v - ybar).collect();
                let design = centered_design(x, &all, &mu);
                cd::lasso_dense(&mut w, l1, &design, &yc, self.max_iter, self.tol, &mut Work::default())
            }
        };
        if w.iter().any(|v| !v.is_finite()) {
            return Err(Error::Diverged { alpha });
        }
        let intercept = ybar - dot_any(&mu, &w);
        Ok(LassoCv {
            alpha,
            coef: Array1::from(w),
            intercept,
            alphas: Array1::from(alphas),
            mse_path,
            n_iter: solve.n_iter,
            dual_gap: solve.gap / n as f64,
            folds,
        })
    }

    fn check(&self) -> Result<()> {
        let bad = |key: &str, value: String, reason: &str| {
            Err(Error::InvalidOption { key: key.into(), value, reason: reason.into() })
        };
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return bad("eps", self.eps.to_string(), "must be a positive finite number");
        }
        if self.n_alphas == 0 {
            return bad("n_alphas", "0".into(), "must be at least 1");
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return bad("tol", self.tol.to_string(), "must be a non-negative finite number");
        }
        Ok(())
    }
}

/// Stacks rows given as lists (as SQL arrays arrive) into `[n, p]`, rejecting ragged input.
pub fn rows_to_matrix<R: AsRef<[f64]>>(rows: &[R]) -> Result<Array2<f64>> {
    let Some(first) = rows.first() else {
        return Err(Error::Empty { what: "features", rows: 0, cols: 0 });
    };
    let p = first.as_ref().len();
    let mut data = Vec::with_capacity(rows.len() * p);
    for (row, r) in rows.iter().enumerate() {
        let r = r.as_ref();
        if r.len() != p {
            return Err(Error::Ragged { row, found: r.len(), expected: p });
        }
        data.extend_from_slice(r);
    }
    Array2::from_shape_vec((rows.len(), p), data).map_err(|e| Error::Shape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomspace_endpoints_exact() {
        let g = geomspace(2.0, 0.002, 100);
        assert_eq!(g.len(), 100);
        assert_eq!((g[0], g[99]), (2.0, 0.002));
        assert!(g.windows(2).all(|w| w[0] > w[1]));
    }
}
