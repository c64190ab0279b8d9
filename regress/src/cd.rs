//! Coordinate descent for the Lasso, ported line by line from scikit-learn 1.9.1
//! `sklearn/linear_model/_cd_fast.pyx` (`enet_coordinate_descent`, `enet_coordinate_descent_gram`)
//! with `beta = 0`, `positive = False`, `random = False`, `do_screening = True`, i.e. exactly what
//! `LassoCV` runs. Both minimise `½‖y − Xw‖² + α‖w‖₁` (α here is already `alpha · n_samples`),
//! stop on the duality gap `G ≤ tol · ‖y‖²` and shrink the active set with Gap Safe screening
//! (Fercoq et al. 2015, Ndiaye et al. 2017, Eq. 11), like scikit-learn ≥ 1.8. The order of
//! operations is kept identical so that iterates, iteration counts and stopping decisions agree
//! with scikit-learn up to floating-point summation order.

use pulp::{Arch, Simd, WithSimd};

use crate::linalg::{abs_max, asum, axpy, axpy_dot, dot, dot_any};

/// What one solve returns besides the coefficients (cf. the Cython return tuple).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Solve {
    /// Final duality gap, in the solver's scale (`n_samples ×` the Lasso objective).
    pub gap: f64,
    /// Number of passes over the active set (`n_iter + 1` in Cython).
    pub n_iter: usize,
}

/// `fmax` of `_cd_fast.pyx`: returns `y` unless `x > y` (NaN-propagation identical to Cython).
#[inline]
fn fmax(x: f64, y: f64) -> f64 {
    if x > y { x } else { y }
}

/// `fsign` of `_cd_fast.pyx`.
#[inline]
fn fsign(f: f64) -> f64 {
    if f == 0.0 {
        0.0
    } else if f > 0.0 {
        1.0
    } else {
        -1.0
    }
}

/// `dual_gap_formulation_A` with `beta = 0`.
#[inline]
fn gap_a(alpha: f64, w_l1: f64, r_norm2: f64, ry: f64, dual_norm: f64) -> f64 {
    let primal = 0.5 * r_norm2 + alpha * w_l1;
    let scale = if dual_norm > alpha { alpha / dual_norm } else { 1.0 };
    let dual = -0.5 * (scale * scale) * r_norm2 + scale * ry;
    primal - dual
}

/// A centred design matrix in column-major order, with its squared column norms.
pub(crate) struct Design {
    /// `x[j * n .. (j + 1) * n]` is column `j`.
    pub x: Vec<f64>,
    /// Number of rows.
    pub n: usize,
    /// Number of columns.
    pub p: usize,
    /// `‖X_j‖²` per column (`norm2_cols_X`).
    pub norm2: Vec<f64>,
    /// Columns with `‖X_j‖² > 0`; the others have `X_jᵀR = 0` exactly, so the gap skips them
    /// (one-hot encodings are mostly constant columns).
    pub live: Vec<usize>,
}

impl Design {
    /// Wraps column-major data and computes the column norms.
    pub fn new(x: Vec<f64>, n: usize, p: usize) -> Self {
        let norm2 = (0..p).map(|j| {
            let c = &x[j * n..(j + 1) * n];
            dot_any(c, c)
        });
        let norm2: Vec<f64> = norm2.collect();
        let live = (0..p).filter(|&j| norm2[j] != 0.0).collect();
        Design { x, n, p, norm2, live }
    }

    #[inline]
    fn col(&self, j: usize) -> &[f64] {
        &self.x[j * self.n..(j + 1) * self.n]
    }
}

/// Scratch buffers reused along a path.
#[derive(Default)]
pub(crate) struct Work {
    r: Vec<f64>,
    xta: Vec<f64>,
    active: Vec<usize>,
    excluded: Vec<bool>,
}

/// `enet_coordinate_descent` (dense X, no Gram). `w` is the warm start and the result.
pub(crate) fn lasso_dense(
    w: &mut [f64],
    alpha: f64,
    d: &Design,
    y: &[f64],
    max_iter: usize,
    tol: f64,
    ws: &mut Work,
) -> Solve {
    struct Op<'a> {
        w: &'a mut [f64],
        alpha: f64,
        d: &'a Design,
        y: &'a [f64],
        max_iter: usize,
        tol: f64,
        ws: &'a mut Work,
    }
    impl WithSimd for Op<'_> {
        type Output = Solve;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> Solve {
            lasso_dense_impl(s, self.w, self.alpha, self.d, self.y, self.max_iter, self.tol, self.ws)
        }
    }
    Arch::new().dispatch(Op { w, alpha, d, y, max_iter, tol, ws })
}

#[inline(always)]
#[allow(clippy::too_many_arguments)] // the Cython signature
fn lasso_dense_impl<S: Simd>(
    s: S,
    w: &mut [f64],
    alpha: f64,
    d: &Design,
    y: &[f64],
    max_iter: usize,
    tol: f64,
    ws: &mut Work,
) -> Solve {
    let (n, p) = (d.n, d.p);
    ws.r.clear();
    ws.r.extend_from_slice(y);
    for (j, &wj) in w.iter().enumerate() {
        if wj != 0.0 {
            axpy(s, -wj, d.col(j), &mut ws.r);
        }
    }
    ws.xta.clear();
    ws.xta.resize(p, 0.0);
    ws.excluded.resize(p, false);
    let d_w_tol = tol;
    let tol = tol * dot(s, y, y);

    let (mut gap, mut dual_norm) = dense_gap(s, alpha, d, y, w, ws);
    if gap <= tol {
        return Solve { gap, n_iter: 0 };
    }
    dense_screen(s, true, alpha, gap, dual_norm, d, w, ws);

    let mut n_iter = 0;
    while n_iter < max_iter {
        let mut w_max = 0.0f64;
        let mut d_w_max = 0.0f64;
        // The residual update of the last changed coordinate, applied in the same pass over `r`
        // as the next coordinate's correlation (`axpy_dot`): the same arithmetic, one pass fewer.
        let mut pending: Option<(f64, usize)> = None;
        for &j in &ws.active {
            let nj = d.norm2[j];
            if nj == 0.0 {
                continue;
            }
            let col = &d.x[j * n..(j + 1) * n];
            let w_j = w[j];
            let xr = match pending.take() {
                Some((a, k)) => axpy_dot(s, a, d.col(k), &mut ws.r, col),
                None => dot(s, col, &ws.r),
            };
            let tmp = xr + w_j * nj;
            let new = fsign(tmp) * fmax(tmp.abs() - alpha, 0.0) / nj;
            w[j] = new;
            if new != w_j {
                pending = Some((w_j - new, j));
            }
            d_w_max = fmax(d_w_max, (new - w_j).abs());
            w_max = fmax(w_max, new.abs());
        }
        if let Some((a, k)) = pending {
            axpy(s, a, d.col(k), &mut ws.r);
        }
        if w_max == 0.0 || d_w_max / w_max <= d_w_tol || n_iter == max_iter - 1 {
            (gap, dual_norm) = dense_gap(s, alpha, d, y, w, ws);
            if gap <= tol {
                break;
            }
            dense_screen(s, false, alpha, gap, dual_norm, d, w, ws);
        }
        n_iter += 1;
    }
    Solve { gap, n_iter: (n_iter + 1).min(max_iter.max(1)) }
}

// The gap and screening steps are `#[inline(always)]` functions generic over the SIMD level, not
// closures: a closure is a function of its own, compiled without the dispatched version's target
// features, and ran baseline SSE2 code (a third of the time on small, non-converging problems).

/// Duality gap of the dense problem and `max_j |X_jᵀr|`, leaving `X_jᵀr` in `ws.xta`.
#[inline(always)]
fn dense_gap<S: Simd>(s: S, alpha: f64, d: &Design, y: &[f64], w: &[f64], ws: &mut Work) -> (f64, f64) {
    let r_norm2 = dot(s, &ws.r, &ws.r);
    let ry = dot(s, &ws.r, y);
    for &j in &d.live {
        ws.xta[j] = dot(s, d.col(j), &ws.r);
    }
    let dual_norm = abs_max(&ws.xta);
    (gap_a(alpha, asum(w), r_norm2, ry, dual_norm), dual_norm)
}

/// Gap Safe screening of the dense problem: rebuilds `ws.active` and zeroes (and removes from
/// the residual) the coefficients of excluded features.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // mirrors the Cython loop over j
#[allow(clippy::too_many_arguments)]
fn dense_screen<S: Simd>(
    s: S,
    first: bool,
    alpha: f64,
    gap: f64,
    dual_norm: f64,
    d: &Design,
    w: &mut [f64],
    ws: &mut Work,
) {
    let p = d.p;
    ws.active.clear();
    let radius = (2.0 * gap).sqrt() / alpha;
    for j in 0..p {
        if first {
            if d.norm2[j] == 0.0 {
                w[j] = 0.0;
                ws.excluded[j] = true;
                continue;
            }
        } else if ws.excluded[j] {
            continue;
        }
        let xj_theta = ws.xta[j] / fmax(alpha, dual_norm);
        let d_j = (1.0 - xj_theta.abs()) / d.norm2[j].sqrt();
        if d_j <= radius {
            ws.active.push(j);
            ws.excluded[j] = false;
        } else {
            if w[j] != 0.0 {
                axpy(s, w[j], d.col(j), &mut ws.r);
                w[j] = 0.0;
            }
            ws.excluded[j] = true;
        }
    }
}

/// Gram form of the problem: `Q = XᵀX` (row-major, symmetric), `q = Xᵀy`, `‖y‖²`.
pub(crate) struct GramProblem {
    /// `Q`, `p × p`, row-major.
    pub q_mat: Vec<f64>,
    /// `Xᵀy`.
    pub q: Vec<f64>,
    /// `‖y‖²`.
    pub y_norm2: f64,
    /// Number of features.
    pub p: usize,
}

impl GramProblem {
    #[inline]
    fn row(&self, j: usize) -> &[f64] {
        &self.q_mat[j * self.p..(j + 1) * self.p]
    }
}

/// `enet_coordinate_descent_gram`. `w` is the warm start and the result.
pub(crate) fn lasso_gram(
    w: &mut [f64],
    alpha: f64,
    g: &GramProblem,
    max_iter: usize,
    tol: f64,
    ws: &mut Work,
) -> Solve {
    struct Op<'a> {
        w: &'a mut [f64],
        alpha: f64,
        g: &'a GramProblem,
        max_iter: usize,
        tol: f64,
        ws: &'a mut Work,
    }
    impl WithSimd for Op<'_> {
        type Output = Solve;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> Solve {
            lasso_gram_impl(s, self.w, self.alpha, self.g, self.max_iter, self.tol, self.ws)
        }
    }
    Arch::new().dispatch(Op { w, alpha, g, max_iter, tol, ws })
}

#[inline(always)]
fn lasso_gram_impl<S: Simd>(
    s: S,
    w: &mut [f64],
    alpha: f64,
    g: &GramProblem,
    max_iter: usize,
    tol: f64,
    ws: &mut Work,
) -> Solve {
    let p = g.p;
    // Qw = Q @ w; only rows with w_j != 0 contribute (warm starts are sparse).
    let qw = &mut ws.r;
    qw.clear();
    qw.resize(p, 0.0);
    for (j, &wj) in w.iter().enumerate() {
        if wj != 0.0 {
            axpy(s, wj, g.row(j), qw);
        }
    }
    ws.xta.resize(p, 0.0);
    ws.excluded.resize(p, false);
    let d_w_tol = tol;
    let tol = tol * g.y_norm2;

    let (mut gap, mut dual_norm) = gram_gap(s, alpha, g, w, ws);
    if (0.0..=tol).contains(&gap) {
        return Solve { gap, n_iter: 0 };
    }
    gram_screen(s, true, alpha, gap, dual_norm, g, w, ws);

    let mut n_iter = 0;
    while n_iter < max_iter {
        let mut w_max = 0.0f64;
        let mut d_w_max = 0.0f64;
        for &j in &ws.active {
            let row = &g.q_mat[j * p..(j + 1) * p];
            let qjj = row[j];
            if qjj == 0.0 {
                continue;
            }
            let w_j = w[j];
            let tmp = g.q[j] - ws.r[j] + w_j * qjj;
            let new = fsign(tmp) * fmax(tmp.abs() - alpha, 0.0) / qjj;
            w[j] = new;
            if new != w_j {
                axpy(s, new - w_j, row, &mut ws.r);
            }
            let d_w_j = (new - w_j).abs();
            if d_w_j > d_w_max {
                d_w_max = d_w_j;
            }
            if new.abs() > w_max {
                w_max = new.abs();
            }
        }
        if w_max == 0.0 || d_w_max / w_max <= d_w_tol || n_iter == max_iter - 1 {
            (gap, dual_norm) = gram_gap(s, alpha, g, w, ws);
            if gap <= tol {
                break;
            }
            gram_screen(s, false, alpha, gap, dual_norm, g, w, ws);
        }
        n_iter += 1;
    }
    Solve { gap, n_iter: (n_iter + 1).min(max_iter.max(1)) }
}

/// Duality gap of the Gram problem and `max_j |q_j − (Qw)_j|`, leaving `q − Qw` in `ws.xta`
/// (`ws.r` holds `Qw`).
#[inline(always)]
fn gram_gap<S: Simd>(s: S, alpha: f64, g: &GramProblem, w: &[f64], ws: &mut Work) -> (f64, f64) {
    let q_dot_w = dot(s, w, &g.q);
    let wqw = dot(s, w, &ws.r);
    let r_norm2 = g.y_norm2 + wqw - 2.0 * q_dot_w;
    let ry = g.y_norm2 - q_dot_w;
    for ((v, qj), qwj) in ws.xta.iter_mut().zip(&g.q).zip(&ws.r) {
        *v = qj - qwj;
    }
    let dual_norm = abs_max(&ws.xta);
    (gap_a(alpha, asum(w), r_norm2, ry, dual_norm), dual_norm)
}

/// Gap Safe screening of the Gram problem (see [`dense_screen`]); `ws.r` holds `Qw`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // mirrors the Cython loop over j
#[allow(clippy::too_many_arguments)]
fn gram_screen<S: Simd>(
    s: S,
    first: bool,
    alpha: f64,
    gap: f64,
    dual_norm: f64,
    g: &GramProblem,
    w: &mut [f64],
    ws: &mut Work,
) {
    let p = g.p;
    ws.active.clear();
    // Due to floating point issues, gap might be negative (as in scikit-learn).
    let radius = (2.0 * gap.abs()).sqrt() / alpha;
    for j in 0..p {
        let qjj = g.q_mat[j * p + j];
        if first {
            if qjj == 0.0 {
                w[j] = 0.0;
                ws.excluded[j] = true;
                continue;
            }
        } else if ws.excluded[j] {
            continue;
        }
        let xj_theta = ws.xta[j] / fmax(alpha, dual_norm);
        let d_j = (1.0 - xj_theta.abs()) / qjj.sqrt();
        if d_j <= radius {
            ws.active.push(j);
            ws.excluded[j] = false;
        } else {
            if w[j] != 0.0 {
                axpy(s, -w[j], g.row(j), &mut ws.r);
                w[j] = 0.0;
            }
            ws.excluded[j] = true;
        }
    }
}
