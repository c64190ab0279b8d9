//! Small dense kernels for the solver's inner loops. They are plain `#[inline]` Rust: the solvers
//! that call them are compiled once per CPU feature level ([`dispatch!`]: AVX-512, AVX2+FMA or
//! the baseline, chosen at run time), and the kernels inline into each version, so they run at the
//! vector width BLAS would use without tying the binary to the build machine's CPU. Sixteen
//! independent accumulators keep two AVX-512 (four AVX2) FMA chains busy (a single accumulator is a
//! serial dependency chain); results differ from BLAS only in summation order, i.e. in the last
//! bits.

use ndarray::{Array2, ArrayView2, s};

/// Defines `fn $name(args) -> ret` that runs `$body(args)` compiled for the best instruction set
/// this CPU has: AVX-512F, AVX2+FMA, or the target's baseline (SSE2 on x86-64), detected once per
/// call (a cached atomic load). `$body` must be `#[inline(always)]` so that it, and the kernels
/// it inlines, are compiled inside each `#[target_feature]` wrapper. Written out rather than taken
/// from the `multiversion` crate: two functions need it, and that crate's proc-macro features would
/// rebuild most of the dependency tree.
macro_rules! dispatch {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $body:ident) => {
        $(#[$doc])*
        ///
        /// Runs the version compiled for this CPU's widest vector unit (see [`crate::linalg`]).
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has every feature `avx512` is compiled for (checked above).
                    #[allow(unsafe_code)]
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has every feature `avx2` is compiled for (checked above).
                    #[allow(unsafe_code)]
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use dispatch;

/// Independent partial sums in [`dot`].
const LANES: usize = 16;

/// `a · b`.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    // Pairwise, so the reduction vectorises too.
    let mut width = LANES / 2;
    while width > 0 {
        for k in 0..width {
            acc[k] += acc[k + width];
        }
        width /= 2;
    }
    acc[0] + tail
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
