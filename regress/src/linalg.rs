//! Small dense kernels for the solver's inner loops. They are plain `#[inline(always)]` Rust: the
//! solvers that call them are compiled once per CPU feature level ([`dispatch!`]: AVX-512,
//! AVX2+FMA or the baseline, chosen at run time), and the kernels inline into each version (a plain
//! `#[inline]` let LLVM keep one out-of-line SSE2 `dot` that all versions called), so they run at the
//! vector width BLAS would use without tying the binary to the build machine's CPU. Sixteen
//! independent accumulators keep two AVX-512 (four AVX2) add chains busy (a single accumulator is
//! a serial dependency chain); results differ from BLAS only in summation order, i.e. in the last
//! bits.

use ndarray::{Array2, ArrayView2};

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

/// `a · b`, in two 8-wide partial sums (one AVX-512 register each; written as two `[f64; 8]`
/// so that LLVM forms full-width vectors: one 16-wide array became eight 2-wide ones).
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s0 = [0.0f64; 8];
    let mut s1 = [0.0f64; 8];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            s0[k] += x[k] * y[k];
        }
        for k in 0..8 {
            s1[k] += x[8 + k] * y[8 + k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    for k in 0..8 {
        s0[k] += s1[k];
    }
    // Pairwise, so the reduction vectorises too.
    let mut width = 4;
    while width > 0 {
        for k in 0..width {
            s0[k] += s0[k + width];
        }
        width /= 2;
    }
    s0[0] + tail
}

/// `y += a * x`.
#[inline(always)]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
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

/// `aᵀa` for `a` of shape `[rows, p]` (any layout), computing only the upper block triangle and
/// mirroring it: half the flops of a plain `aᵀ·a` product. The blocks are `gemm` calls writing
/// straight into the result.
pub(crate) fn gram(a: ArrayView2<f64>) -> Array2<f64> {
    const BLOCK: usize = 320;
    let (n, p) = a.dim();
    let mut out = vec![0.0; p * p];
    if n == 0 || p == 0 {
        return Array2::from_shape_vec((p, p), out).unwrap_or_else(|_| unreachable!("p * p values"));
    }
    // Element strides: a[k, j] is at base + k * rs + j * cs.
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    let blocks: Vec<(usize, usize)> = (0..p).step_by(BLOCK).map(|i0| (i0, (i0 + BLOCK).min(p))).collect();
    for (bi, &(i0, i1)) in blocks.iter().enumerate() {
        for &(j0, j1) in &blocks[bi..] {
            // SAFETY: every address gemm forms is base + k*rs + j*cs for k < n and j < p (an element
            // of the view `a`) or out[i * p + j] for i, j < p; `out` is not aliased by `a`.
            #[allow(unsafe_code)]
            unsafe {
                gemm::gemm(
                    i1 - i0,
                    j1 - j0,
                    n,
                    out.as_mut_ptr().add(i0 * p + j0),
                    1,
                    p as isize,
                    false,
                    a.as_ptr().offset(i0 as isize * cs),
                    rs,
                    cs,
                    a.as_ptr().offset(j0 as isize * cs),
                    cs,
                    rs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
    }
    // Mirror the upper triangle in 64 × 64 tiles (a plain row loop reads a column per row: one
    // cache line and one TLB entry per value).
    const TILE: usize = 64;
    for i0 in (0..p).step_by(TILE) {
        for j0 in (0..=i0).step_by(TILE) {
            for i in i0..(i0 + TILE).min(p) {
                for j in j0..(j0 + TILE).min(i) {
                    out[i * p + j] = out[j * p + i];
                }
            }
        }
    }
    Array2::from_shape_vec((p, p), out).unwrap_or_else(|_| unreachable!("p * p values"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    #[test]
    fn gram_matches_plain_product() {
        // Small integers: every summation order gives the exact result. 700 columns span three
        // blocks; both memory orders, and a strided view.
        let a = Array::from_shape_fn((7, 700), |(i, j)| ((i * 31 + j * 7) % 13) as f64 - 6.0);
        let want = a.t().dot(&a);
        assert_eq!(gram(a.view()), want);
        assert_eq!(gram(a.t().as_standard_layout().t()), want);
        let every_other = a.slice(ndarray::s![..;2, ..]);
        assert_eq!(gram(every_other), every_other.t().dot(&every_other));
        assert_eq!(gram(Array2::<f64>::zeros((0, 3)).view()), Array2::<f64>::zeros((3, 3)));
    }

    #[test]
    fn dot_handles_tails() {
        let a: Vec<f64> = (0..19).map(f64::from).collect();
        assert_eq!(dot(&a, &a), (0..19).map(|v| f64::from(v * v)).sum::<f64>());
    }
}
