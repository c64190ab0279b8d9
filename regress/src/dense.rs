//! Direct solvers for the baselines, on small dense systems: Cholesky for ridge's positive
//! definite systems (LAPACK `posv`, what scikit-learn's `Ridge(solver='cholesky')` calls) and
//! Householder QR for ordinary least squares. Both report a singular system instead of returning
//! an arbitrary solution.

use crate::linalg::dot_any;

/// Solves `A x = b` for symmetric positive definite `A` (`k × k`, row-major; only its lower
/// triangle is read, and it is overwritten by the Cholesky factor `L`). `b` becomes `x`. Returns
/// false when a pivot is at most `k·ε·max A_ii`: `A` is not numerically positive definite (a
/// singular `A` can leave a tiny positive pivot from rounding, and an arbitrary solution).
pub(crate) fn cholesky_solve(a: &mut [f64], k: usize, b: &mut [f64]) -> bool {
    let tiny = k as f64 * f64::EPSILON * (0..k).fold(0.0f64, |m, i| m.max(a[i * k + i]));
    // Row by row (Cholesky–Banachiewicz): row i of L needs rows 0..i, so every inner product is
    // over two contiguous row prefixes.
    for i in 0..k {
        let (done, rest) = a.split_at_mut(i * k);
        let row = &mut rest[..k];
        for j in 0..i {
            let lj = &done[j * k..j * k + j + 1];
            row[j] = (row[j] - dot_any(&row[..j], &lj[..j])) / lj[j];
        }
        let d = row[i] - dot_any(&row[..i], &row[..i]);
        if !(d > tiny && d.is_finite()) {
            return false;
        }
        row[i] = d.sqrt();
    }
    // L z = b, then Lᵀ x = z.
    for i in 0..k {
        let l = &a[i * k..i * k + i + 1];
        b[i] = (b[i] - dot_any(&l[..i], &b[..i])) / l[i];
    }
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|m| a[m * k + i] * b[m]).sum();
        b[i] = (b[i] - s) / a[i * k + i];
    }
    true
}

/// `argmin ‖A w − b‖` for `A` `n × k` with `n > k`, column-major (`a[j·n .. (j+1)·n]` is column
/// `j`; overwritten by the factorisation), by Householder QR. `None` when a diagonal element of
/// `R` is at most `n·ε·max|R_jj|`: the columns are (numerically) linearly dependent and the
/// least-squares solution is not unique.
pub(crate) fn lstsq_qr(a: &mut [f64], n: usize, k: usize, b: &mut [f64]) -> Option<Vec<f64>> {
    let mut diag = vec![0.0; k];
    for j in 0..k {
        let (head, rest) = a.split_at_mut((j + 1) * n);
        let v = &mut head[j * n + j..];
        let norm = dot_any(v, v).sqrt();
        if norm == 0.0 {
            return None;
        }
        // v = x − r·e₁ with r = −sign(x₀)·‖x‖ (no cancellation); H = I − 2 v vᵀ / vᵀv maps x to r·e₁.
        let r = if v[0] > 0.0 { -norm } else { norm };
        v[0] -= r;
        let scale = 2.0 / dot_any(v, v);
        diag[j] = r;
        for col in rest.chunks_exact_mut(n).map(|c| &mut c[j..]).chain(std::iter::once(&mut b[j..])) {
            let s = scale * dot_any(v, col);
            col.iter_mut().zip(v.iter()).for_each(|(c, vi)| *c -= s * vi);
        }
    }
    let r_max = diag.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    if diag.iter().any(|d| d.abs() <= n as f64 * f64::EPSILON * r_max) {
        return None;
    }
    // R w = Qᵀb: R's strict upper triangle is a[j·n + i] for i < j.
    let mut w = b[..k].to_vec();
    for j in (0..k).rev() {
        w[j] /= diag[j];
        let wj = w[j];
        w[..j].iter_mut().zip(&a[j * n..j * n + j]).for_each(|(wi, rij)| *wi -= rij * wj);
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_refuses_indefinite() {
        // A = [[4, 2], [2, 3]], b = A·[1, −2] = [0, −4].
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![0.0, -4.0];
        assert!(cholesky_solve(&mut a, 2, &mut b));
        assert!((b[0] - 1.0).abs() < 1e-15 && (b[1] + 2.0).abs() < 1e-15, "{b:?}");
        let mut singular = vec![1.0, 1.0, 1.0, 1.0];
        assert!(!cholesky_solve(&mut singular, 2, &mut [1.0, 1.0]));
    }

    #[test]
    fn qr_least_squares_and_dependent_columns() {
        // Columns [1, 1, 1] and [0, 1, 2]; b = [1, 2, 4]: the least-squares line is
        // 5/6 + 3/2·t (numpy.linalg.lstsq).
        let mut a = vec![1.0, 1.0, 1.0, 0.0, 1.0, 2.0];
        let w = lstsq_qr(&mut a, 3, 2, &mut [1.0, 2.0, 4.0]).unwrap_or_default();
        assert!((w[0] - 5.0 / 6.0).abs() < 1e-14 && (w[1] - 1.5).abs() < 1e-14, "{w:?}");
        let mut dependent = vec![1.0, 2.0, 3.0, 2.0, 4.0, 6.0];
        assert_eq!(lstsq_qr(&mut dependent, 3, 2, &mut [1.0, 0.0, 0.0]), None);
    }
}
