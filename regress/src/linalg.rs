//! Small dense kernels for the solver's inner loops. Eight independent accumulators let LLVM
//! vectorise the reductions (a single accumulator is a serial dependency chain); results differ
//! from BLAS only in summation order, i.e. in the last bits.

use ndarray::{Array2, ArrayView2, s};

/// `a · b`.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y += a * x`.
#[inline]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `max |a_i|` (0 for an empty slice).
#[inline]
pub(crate) fn abs_max(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| if v.abs() > m { v.abs() } else { m })
}

/// `Σ |a_i|`.
#[inline]
pub(crate) fn asum(a: &[f64]) -> f64 {
    a.iter().map(|v| v.abs()).sum()
}

/// `aᵀa` for `a` of shape `[rows, p]`, computing only the upper block triangle and mirroring it:
/// half the flops of a plain `aᵀ·a` product.
pub(crate) fn gram(a: ArrayView2<f64>) -> Array2<f64> {
    const BLOCK: usize = 256;
    let p = a.ncols();
    let mut out = Array2::<f64>::zeros((p, p));
    let mut i0 = 0;
    while i0 < p {
        let i1 = (i0 + BLOCK).min(p);
        let ai = a.slice(s![.., i0..i1]);
        let mut j0 = i0;
        while j0 < p {
            let j1 = (j0 + BLOCK).min(p);
            let block = ai.t().dot(&a.slice(s![.., j0..j1]));
            out.slice_mut(s![i0..i1, j0..j1]).assign(&block);
            if j0 != i0 {
                out.slice_mut(s![j0..j1, i0..i1]).assign(&block.t());
            }
            j0 = j1;
        }
        i0 = i1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    #[test]
    fn gram_matches_plain_product() {
        let a = Array::from_shape_fn((7, 300), |(i, j)| ((i * 31 + j * 7) % 13) as f64 - 6.0);
        let g = gram(a.view());
        let want = a.t().dot(&a);
        assert_eq!(g, want);
    }

    #[test]
    fn dot_handles_tails() {
        let a: Vec<f64> = (0..19).map(f64::from).collect();
        assert_eq!(dot(&a, &a), (0..19).map(|v| f64::from(v * v)).sum::<f64>());
    }
}
