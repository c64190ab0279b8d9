//! Small dense kernels for the solver's inner loops, written on `pulp`'s SIMD types: each kernel is
//! generic over [`Simd`] and `#[inline(always)]`, and a solver that calls them is entered once
//! through [`pulp::Arch::dispatch`], which picks AVX-512, AVX2+FMA or scalar code for this CPU at
//! run time. Explicit vectors rather than auto-vectorised loops: inside the solver LLVM turned a
//! plain `dot` into 2-wide SSE code without FMA (perf), and the dot product is half of coordinate
//! descent. Several independent accumulators keep the FMA units busy (one accumulator is a serial
//! dependency chain); results differ from BLAS only in summation order, i.e. in the last bits.

use pulp::{Arch, Simd, WithSimd};

/// `a · b`, in four vector accumulators.
#[inline(always)]
pub(crate) fn dot<S: Simd>(s: S, a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (ah, at) = S::as_simd_f64s(&a[..n]);
    let (bh, bt) = S::as_simd_f64s(&b[..n]);
    let zero = s.splat_f64s(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    let mut ac = ah.chunks_exact(4);
    let mut bc = bh.chunks_exact(4);
    for (x, y) in (&mut ac).zip(&mut bc) {
        s0 = s.mul_add_e_f64s(x[0], y[0], s0);
        s1 = s.mul_add_e_f64s(x[1], y[1], s1);
        s2 = s.mul_add_e_f64s(x[2], y[2], s2);
        s3 = s.mul_add_e_f64s(x[3], y[3], s3);
    }
    for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
        s0 = s.mul_add_e_f64s(*x, *y, s0);
    }
    s1 = s.mul_add_e_f64s(s.partial_load_f64s(at), s.partial_load_f64s(bt), s1);
    s.reduce_sum_f64s(s.add_f64s(s.add_f64s(s0, s1), s.add_f64s(s2, s3)))
}

/// `y += a * x`.
#[inline(always)]
pub(crate) fn axpy<S: Simd>(s: S, a: f64, x: &[f64], y: &mut [f64]) {
    let n = x.len().min(y.len());
    let (yh, yt) = S::as_mut_simd_f64s(&mut y[..n]);
    let (xh, xt) = S::as_simd_f64s(&x[..n]);
    let av = s.splat_f64s(a);
    for (yv, xv) in yh.iter_mut().zip(xh) {
        *yv = s.mul_add_e_f64s(av, *xv, *yv);
    }
    let tail = s.mul_add_e_f64s(av, s.partial_load_f64s(xt), s.partial_load_f64s(yt));
    s.partial_store_f64s(yt, tail);
}

/// `y += a * x`, then returns `z · y`, in one pass over `y` (coordinate descent's update of one
/// coordinate followed by the next coordinate's correlation).
#[inline(always)]
pub(crate) fn axpy_dot<S: Simd>(s: S, a: f64, x: &[f64], y: &mut [f64], z: &[f64]) -> f64 {
    let n = x.len().min(y.len()).min(z.len());
    let (yh, yt) = S::as_mut_simd_f64s(&mut y[..n]);
    let (xh, xt) = S::as_simd_f64s(&x[..n]);
    let (zh, zt) = S::as_simd_f64s(&z[..n]);
    let av = s.splat_f64s(a);
    let zero = s.splat_f64s(0.0);
    let (mut s0, mut s1) = (zero, zero);
    let mut yc = yh.chunks_exact_mut(2);
    let mut xc = xh.chunks_exact(2);
    let mut zc = zh.chunks_exact(2);
    for ((yv, xv), zv) in (&mut yc).zip(&mut xc).zip(&mut zc) {
        yv[0] = s.mul_add_e_f64s(av, xv[0], yv[0]);
        yv[1] = s.mul_add_e_f64s(av, xv[1], yv[1]);
        s0 = s.mul_add_e_f64s(zv[0], yv[0], s0);
        s1 = s.mul_add_e_f64s(zv[1], yv[1], s1);
    }
    for ((yv, xv), zv) in yc.into_remainder().iter_mut().zip(xc.remainder()).zip(zc.remainder()) {
        *yv = s.mul_add_e_f64s(av, *xv, *yv);
        s0 = s.mul_add_e_f64s(*zv, *yv, s0);
    }
    let tail = s.mul_add_e_f64s(av, s.partial_load_f64s(xt), s.partial_load_f64s(yt));
    s.partial_store_f64s(yt, tail);
    s1 = s.mul_add_e_f64s(s.partial_load_f64s(zt), tail, s1);
    s.reduce_sum_f64s(s.add_f64s(s0, s1))
}

/// `max |a_i|` (0 for an empty slice).
#[inline(always)]
pub(crate) fn abs_max(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| if v.abs() > m { v.abs() } else { m })
}

/// `Σ |a_i|`.
#[inline(always)]
pub(crate) fn asum(a: &[f64]) -> f64 {
    a.iter().map(|v| v.abs()).sum()
}

/// Mean squared residual of a sparse linear prediction: `Σ_i (c − t_i + Σ_j w_j·X_ij)² / m` for
/// `m` targets `t` and column-major `x` (`x[j * m .. (j + 1) * m]` is column `j`), reading only the
/// columns with `w_j ≠ 0`. `resid` is scratch. This is a fold's test error along the path.
pub(crate) fn residual_mse(c: f64, t: &[f64], x: &[f64], w: &[f64], resid: &mut Vec<f64>) -> f64 {
    struct Op<'a> {
        c: f64,
        t: &'a [f64],
        x: &'a [f64],
        w: &'a [f64],
        resid: &'a mut Vec<f64>,
    }
    impl WithSimd for Op<'_> {
        type Output = f64;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> f64 {
            let m = self.t.len();
            self.resid.clear();
            self.resid.extend(self.t.iter().map(|v| self.c - v));
            for (j, &wj) in self.w.iter().enumerate() {
                if wj != 0.0 {
                    axpy(s, wj, &self.x[j * m..(j + 1) * m], self.resid);
                }
            }
            dot(s, self.resid, self.resid) / m as f64
        }
    }
    Arch::new().dispatch(Op { c, t, x, w, resid })
}

/// `a · b` for callers outside a dispatched solver.
pub(crate) fn dot_any(a: &[f64], b: &[f64]) -> f64 {
    struct Op<'a>(&'a [f64], &'a [f64]);
    impl WithSimd for Op<'_> {
        type Output = f64;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> f64 {
            dot(s, self.0, self.1)
        }
    }
    Arch::new().dispatch(Op(a, b))
}

/// `(Σ a_i, a · b)` in one pass.
pub(crate) fn sum_and_dot(a: &[f64], b: &[f64]) -> (f64, f64) {
    struct Op<'a>(&'a [f64], &'a [f64]);
    impl WithSimd for Op<'_> {
        type Output = (f64, f64);
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> (f64, f64) {
            let n = self.0.len().min(self.1.len());
            let (ah, at) = S::as_simd_f64s(&self.0[..n]);
            let (bh, bt) = S::as_simd_f64s(&self.1[..n]);
            let zero = s.splat_f64s(0.0);
            let (mut s0, mut s1, mut d0, mut d1) = (zero, zero, zero, zero);
            let mut ac = ah.chunks_exact(2);
            let mut bc = bh.chunks_exact(2);
            for (x, y) in (&mut ac).zip(&mut bc) {
                s0 = s.add_f64s(s0, x[0]);
                s1 = s.add_f64s(s1, x[1]);
                d0 = s.mul_add_e_f64s(x[0], y[0], d0);
                d1 = s.mul_add_e_f64s(x[1], y[1], d1);
            }
            for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
                s0 = s.add_f64s(s0, *x);
                d0 = s.mul_add_e_f64s(*x, *y, d0);
            }
            let xt = s.partial_load_f64s(at);
            s1 = s.add_f64s(s1, xt);
            d1 = s.mul_add_e_f64s(xt, s.partial_load_f64s(bt), d1);
            (s.reduce_sum_f64s(s.add_f64s(s0, s1)), s.reduce_sum_f64s(s.add_f64s(d0, d1)))
        }
    }
    Arch::new().dispatch(Op(a, b))
}

/// Rows `i0..i1` of the upper triangle of `XᵀX`, for `X` of `n` rows and `p` columns stored
/// column-major in `x`, written into `band` (those rows of a row-major `p × p` matrix): entries
/// `j ≥ i0` of each row, so the band's diagonal square is computed whole and the rest of the
/// lower triangle is left untouched. One `gemm` call (AVX-512 kernels picked at run time).
pub(crate) fn gram_band(x: &[f64], n: usize, p: usize, i0: usize, i1: usize, band: &mut [f64]) {
    assert!(i0 <= i1 && i1 <= p, "rows {i0}..{i1} of a {p} × {p} matrix");
    assert_eq!(x.len(), n * p, "{n} × {p} values");
    assert_eq!(band.len(), (i1 - i0) * p, "the band holds rows {i0}..{i1}");
    if i0 == i1 {
        return;
    }
    // SAFETY: gemm reads lhs (i, k) at x[(i0 + i) * n + k] and rhs (k, j) at x[(i0 + j) * n + k]
    // for i < i1 - i0, j < p - i0, k < n: inside `x`. It writes dst (i, j) at
    // band[i * p + i0 + j] < (i1 - i0) * p: inside `band`, which does not alias `x`.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            i1 - i0,
            p - i0,
            n,
            band.as_mut_ptr().add(i0),
            1,
            p as isize,
            false,
            x.as_ptr().add(i0 * n),
            1,
            n as isize,
            x.as_ptr().add(i0 * n),
            n as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Copies the upper triangle of the row-major `p × p` matrix `m` onto the lower one, in 64 × 64
/// tiles (a plain row loop reads a column per row: one cache line and one TLB entry per value).
pub(crate) fn mirror_upper(m: &mut [f64], p: usize) {
    const TILE: usize = 64;
    for i0 in (0..p).step_by(TILE) {
        for j0 in (0..=i0).step_by(TILE) {
            for i in i0..(i0 + TILE).min(p) {
                for j in j0..(j0 + TILE).min(i) {
                    m[i * p + j] = m[j * p + i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array2};

    #[test]
    fn gram_bands_make_the_plain_product() {
        // Small integers: every summation order gives the exact result. 150 columns in bands of
        // 64, 64 and 22 rows; an empty band changes nothing.
        let (n, p) = (7, 150);
        let a = Array::from_shape_fn((n, p), |(i, j)| ((i * 31 + j * 7) % 13) as f64 - 6.0);
        let want = a.t().dot(&a);
        let col_major: Vec<f64> = a.t().iter().copied().collect();
        let mut got = vec![f64::NAN; p * p];
        for (i0, i1) in [(0, 64), (64, 128), (128, 150), (150, 150)] {
            gram_band(&col_major, n, p, i0, i1, &mut got[i0 * p..i1 * p]);
        }
        mirror_upper(&mut got, p);
        assert_eq!(Array2::from_shape_vec((p, p), got).unwrap(), want);
        assert_eq!(sum_and_dot(&col_major[..19], &col_major[19..38]).0, col_major[..19].iter().sum::<f64>());
    }

    /// Every length from 0 to 70 crosses the vector, 4-vector and tail boundaries of each
    /// instruction set; small integers make every summation order exact.
    #[test]
    fn kernels_handle_every_length() {
        for n in 0..70 {
            let a: Vec<f64> = (0..n).map(|i| f64::from(i % 7) - 3.0).collect();
            let b: Vec<f64> = (0..n).map(|i| f64::from(i % 5) - 2.0).collect();
            let want_dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(dot_any(&a, &b), want_dot, "dot, n = {n}");
            let mut y = b.clone();
            let got = Arch::new().dispatch(AxpyDot { x: &a, y: &mut y, z: &a });
            let want_y: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y + 2.0 * x).collect();
            assert_eq!(y, want_y, "axpy, n = {n}");
            assert_eq!(got, a.iter().zip(&want_y).map(|(x, y)| x * y).sum::<f64>(), "axpy_dot, n = {n}");
        }
    }

    struct AxpyDot<'a> {
        x: &'a [f64],
        y: &'a mut [f64],
        z: &'a [f64],
    }

    impl WithSimd for AxpyDot<'_> {
        type Output = f64;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> f64 {
            let mut copy = self.y.to_vec();
            axpy(s, 2.0, self.x, &mut copy);
            let got = axpy_dot(s, 2.0, self.x, self.y, self.z);
            assert_eq!(copy, self.y, "axpy and axpy_dot update alike");
            got
        }
    }

    #[test]
    fn residual_mse_reads_nonzero_columns() {
        // Column 1 is NaN but its weight is zero: it must not be read.
        let x = [1.0, 2.0, f64::NAN, f64::NAN, 0.5, -1.0];
        let got = residual_mse(1.0, &[3.0, 0.0], &x, &[2.0, 0.0, 4.0], &mut Vec::new());
        // residuals: 1 - 3 + 2·1 + 4·0.5 = 2; 1 - 0 + 2·2 + 4·(−1) = 1
        assert_eq!(got, (4.0 + 1.0) / 2.0);
    }
}
