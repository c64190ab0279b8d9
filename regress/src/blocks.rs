//! Per-fold statistics for the Gram solver from ONE pass over the data.
//!
//! `LassoCV`'s inner folds test on contiguous blocks of rows and train on the other blocks, so
//! every training-set statistic is "all blocks minus one". Each block is read once: its rows are
//! centred on the full-data means μ (and the target on ȳ) and stored column-major, and its Gram
//! matrix, column sums, `Xᵀy`, column minima and maxima are taken from that copy. A fold's centred
//! Gram problem is then arithmetic on p-vectors and one p × p downdate, and its test predictions
//! read the block's columns: no fold reads `X` again.
//!
//! Centring on μ first and correcting by the fold's mean shift `d = μ_t − μ` afterwards keeps the
//! cancellation small: `d` is the difference of two means of the same column.

use std::cmp::Reverse;
use std::sync::{Mutex, PoisonError};

use ndarray::{ArrayView1, ArrayView2};

use crate::cd::GramProblem;
use crate::linalg::{dot_any, gram_band, mirror_upper, residual_mse, sum_and_dot};
use crate::par;

/// One block of rows (an inner test fold), centred on the full-data means.
pub(crate) struct Block {
    /// Rows minus μ, column-major: column `j` is `xc[j * n .. (j + 1) * n]`.
    xc: Vec<f64>,
    /// Number of rows.
    n: usize,
    /// `y − ȳ` over the block's rows.
    yc: Vec<f64>,
    /// `Σ (x − μ)` per column.
    sum: Vec<f64>,
    /// `Σ (x − μ)(y − ȳ)` per column.
    xty: Vec<f64>,
    /// Column minima and maxima of the raw values (constant-column detection).
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Block {
    /// Reads `rows` of the standard-layout `x` once: the centred column-major copy, and the
    /// column minima and maxima on the way. The Gram matrix is computed later, in row bands
    /// ([`Blocks::build`]).
    fn read(x: ArrayView2<f64>, y: ArrayView1<f64>, rows: &[usize], mu: &[f64], ybar: f64) -> Self {
        let (n, p) = (rows.len(), x.ncols());
        let mut min = vec![f64::INFINITY; p];
        let mut max = vec![f64::NEG_INFINITY; p];
        let row = |i: usize| {
            x.row(i).to_slice().unwrap_or_else(|| unreachable!("the fit works on a standard-layout copy of x"))
        };
        // Transposed in tiles of 32 rows: the tile's 32 source rows and the 32-value runs it writes
        // into each column stay in L1, and the 32 rows are 32 pages (p·8 bytes apart), fewer than
        // the first-level TLB holds.
        const TILE: usize = 32;
        let mut xc = vec![0.0; n * p];
        for (t, tile_rows) in rows.chunks(TILE).enumerate() {
            let r0 = t * TILE;
            let tile: Vec<&[f64]> = tile_rows.iter().map(|&i| row(i)).collect();
            for j in 0..p {
                let (m, mut lo, mut hi) = (mu[j], min[j], max[j]);
                let col = &mut xc[j * n + r0..j * n + r0 + tile.len()];
                for (c, r) in col.iter_mut().zip(&tile) {
                    let v = r[j];
                    lo = lo.min(v);
                    hi = hi.max(v);
                    *c = v - m;
                }
                (min[j], max[j]) = (lo, hi);
            }
        }
        let yc: Vec<f64> = rows.iter().map(|&i| y[i] - ybar).collect();
        let (sum, xty) = xc.chunks_exact(n).map(|c| sum_and_dot(c, &yc)).unzip();
        Block { xc, n, yc, sum, xty, min, max }
    }
}

/// Rows per task of the Gram products. Smaller bands spread evenly over the threads and waste
/// less below the diagonal (a band computes its diagonal square whole); larger ones pack the
/// other operand less often (`gemm` packs all `p − i0` columns on every call: 15% of a 5000 × 1280
/// fit with 64-row bands).
const BAND: usize = 128;

/// The blocks of a partition of the rows and the totals.
pub(crate) struct Blocks {
    blocks: Vec<Block>,
    /// Block `k`'s Gram matrix `Σ (x − μ)(x − μ)ᵀ` (upper triangle, row-major) until
    /// [`Blocks::fold`] turns it, in place, into fold `k`'s training matrix (no further p × p
    /// buffers: at p = 1280 each is 13 MB, and fresh pages cost more than the arithmetic). Locked
    /// only to hand it over to the fold's thread.
    grams: Vec<Mutex<Vec<f64>>>,
    p: usize,
    /// `Σ (x − μ)(x − μ)ᵀ` over all rows (upper triangle until [`Blocks::into_full`]).
    gram: Vec<f64>,
}

/// A fold's Gram problem and what its test predictions need.
pub(crate) struct FoldProblem {
    /// The centred problem on the training rows.
    pub gram: GramProblem,
    /// Training target mean minus the full-data mean, `ȳ_t − ȳ`.
    y_shift: f64,
    /// Training column means minus the full-data means, `μ_t − μ`.
    shift: Vec<f64>,
    /// Number of training rows.
    pub n: usize,
}

impl Blocks {
    /// Reads the blocks of rows `parts` (a partition of the rows of the standard-layout `x`) and
    /// computes their Gram matrices and the total, on `threads` threads: blocks are read in
    /// parallel, then the Gram products run as row bands of all blocks, largest first (five
    /// blocks on two threads would leave one thread idle for a fifth of the time).
    pub(crate) fn build(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        parts: &[&[usize]],
        mu: &[f64],
        ybar: f64,
        threads: usize,
    ) -> Self {
        let p = x.ncols();
        let blocks = par::map(parts.len(), threads, |k| Block::read(x, y, parts[k], mu, ybar));
        // Upper triangles only: the totals and downdates need no more, and each fold mirrors its
        // own matrix on its own thread.
        let mut grams: Vec<Vec<f64>> = blocks.iter().map(|_| vec![0.0; p * p]).collect();
        let mut tasks = Vec::new();
        for (k, g) in grams.iter_mut().enumerate() {
            let mut rest = g.as_mut_slice();
            for i0 in (0..p).step_by(BAND) {
                let i1 = (i0 + BAND).min(p);
                let (band, tail) = rest.split_at_mut((i1 - i0) * p);
                rest = tail;
                tasks.push((k, i0, i1, band));
            }
        }
        tasks.sort_by_key(|&(_, i0, i1, _)| Reverse((i1 - i0) * (p - i0)));
        par::for_each(tasks, threads, |(k, i0, i1, band)| gram_band(&blocks[k].xc, blocks[k].n, p, i0, i1, band));
        let mut gram = vec![0.0; p * p];
        let bands: Vec<(usize, &mut [f64])> = gram.chunks_mut(BAND * p).enumerate().collect();
        par::for_each(bands, threads, |(b, rows)| {
            for (r, row) in rows.chunks_exact_mut(p).enumerate() {
                let i = b * BAND + r;
                for g in &grams {
                    row[i..].iter_mut().zip(&g[i * p + i..(i + 1) * p]).for_each(|(t, v)| *t += v);
                }
            }
        });
        let grams = grams.into_iter().map(Mutex::new).collect();
        Blocks { blocks, grams, p, gram }
    }

    /// The problem on the training rows of the fold that tests on block `k`. Call it once per
    /// fold: it consumes block `k`'s Gram matrix.
    pub(crate) fn fold(&self, k: usize) -> FoldProblem {
        let mut q_mat = std::mem::take(&mut *self.grams[k].lock().unwrap_or_else(PoisonError::into_inner));
        let p = self.p;
        assert_eq!(q_mat.len(), p * p, "fold {k}'s problem is built once");
        for i in 0..p {
            let upper = i * p + i..(i + 1) * p;
            q_mat[upper.clone()].iter_mut().zip(&self.gram[upper]).for_each(|(v, total)| *v = total - *v);
        }
        mirror_upper(&mut q_mat, p);
        problem(&self.blocks, p, Some(k), q_mat)
    }

    /// The problem on all rows (the refit); consumes the blocks to reuse the summed Gram matrix.
    pub(crate) fn into_full(mut self) -> FoldProblem {
        mirror_upper(&mut self.gram, self.p);
        problem(&self.blocks, self.p, None, self.gram)
    }

    /// `Σ_i (ŷ_i − y_i)² / n` over block `k` for coefficients `w` of `fold`'s problem, where
    /// `ŷ = ȳ_t + (x − μ_t)·w`; with `y = ȳ + yc` that is `ŷ − y = ỹ_t − d·w + (x − μ)·w − yc`.
    /// `resid` is scratch.
    pub(crate) fn test_mse(&self, k: usize, fold: &FoldProblem, w: &[f64], resid: &mut Vec<f64>) -> f64 {
        let b = &self.blocks[k];
        let base = fold.y_shift - dot_any(w, &fold.shift);
        residual_mse(base, &b.yc, &b.xc, w, resid)
    }
}

/// Sum of `f(block)` over the blocks other than `skip`.
fn sum_except(blocks: &[Block], p: usize, skip: Option<usize>, f: impl Fn(&Block) -> &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p];
    for (k, b) in blocks.iter().enumerate() {
        if Some(k) != skip {
            out.iter_mut().zip(f(b)).for_each(|(o, v)| *o += v);
        }
    }
    out
}

/// Columns constant over the blocks other than `skip`: their centred values are exact zeros in
/// scikit-learn, so their rows and columns of `Q` and entries of `q` are set to 0.
fn constant_except(blocks: &[Block], p: usize, skip: Option<usize>) -> Vec<bool> {
    let mut lo = vec![f64::INFINITY; p];
    let mut hi = vec![f64::NEG_INFINITY; p];
    for (k, b) in blocks.iter().enumerate() {
        if Some(k) != skip {
            lo.iter_mut().zip(&b.min).for_each(|(l, v)| *l = l.min(*v));
            hi.iter_mut().zip(&b.max).for_each(|(h, v)| *h = h.max(*v));
        }
    }
    lo.iter().zip(&hi).map(|(l, h)| l == h).collect()
}

/// The problem on the rows outside block `skip` (all rows for `None`), with `q_mat` already
/// holding `Σ (x − μ)(x − μ)ᵀ` over those rows:
/// `Q = q_mat − n_t·d·dᵀ`, `q = Σ (x − μ)(y − ȳ) − ỹ_t·Σ (x − μ)` with `ỹ_t = ȳ_t − ȳ`.
fn problem(blocks: &[Block], p: usize, skip: Option<usize>, mut q_mat: Vec<f64>) -> FoldProblem {
    let train = || blocks.iter().enumerate().filter(move |(k, _)| Some(*k) != skip).map(|(_, b)| b);
    let n_t: usize = train().map(|b| b.n).sum();
    let nf = n_t as f64;
    let sum = sum_except(blocks, p, skip, |b| &b.sum);
    let xty = sum_except(blocks, p, skip, |b| &b.xty);
    let y_shift = train().map(|b| b.yc.iter().sum::<f64>()).sum::<f64>() / nf;
    let y_norm2 = train().map(|b| b.yc.iter().map(|v| (v - y_shift).powi(2)).sum::<f64>()).sum();
    let shift: Vec<f64> = sum.iter().map(|s| s / nf).collect();
    if skip.is_some() {
        for (row, di) in q_mat.chunks_exact_mut(p).zip(&shift) {
            let c = nf * di;
            row.iter_mut().zip(&shift).for_each(|(v, dj)| *v -= c * dj);
        }
    }
    let mut q: Vec<f64> = xty.iter().zip(&sum).map(|(a, s)| a - y_shift * s).collect();
    let constant = constant_except(blocks, p, skip);
    if constant.iter().any(|c| *c) {
        for (i, row) in q_mat.chunks_exact_mut(p).enumerate() {
            if constant[i] {
                row.fill(0.0);
                q[i] = 0.0;
            } else {
                row.iter_mut().zip(&constant).filter(|(_, c)| **c).for_each(|(v, _)| *v = 0.0);
            }
        }
    }
    FoldProblem { gram: GramProblem { q_mat, q, y_norm2, p }, y_shift, shift, n: n_t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    /// The fold problem from block sums equals the centred problem computed directly on the
    /// training rows, and the test MSE equals the plain prediction error.
    #[test]
    fn fold_problem_matches_direct_computation() {
        // 140 columns: the Gram products run in two bands (128 and 12 rows).
        let (n, p) = (23, 140);
        let x = Array2::from_shape_fn((n, p), |(i, j)| match j {
            2 => 7.5,           // constant everywhere
            3 if i < 15 => 1.0, // constant over fold 0's training rows 0..15
            _ => ((i * 37 + j * 11) % 17) as f64 * 0.3 + 100.0,
        });
        let y = Array1::from_shape_fn(n, |i| ((i * 13) % 7) as f64 + 50.0);
        let mu: Vec<f64> = (0..p).map(|j| x.column(j).sum() / n as f64).collect();
        let ybar = y.sum() / n as f64;
        let parts: Vec<Vec<usize>> = vec![(15..23).collect(), (0..8).collect(), (8..15).collect()];
        let parts: Vec<&[usize]> = parts.iter().map(Vec::as_slice).collect();
        let blocks = Blocks::build(x.view(), y.view(), &parts, &mu, ybar, 2);
        // Fold 0 trains on rows 0..15, where column 3 is constant.
        let fold = blocks.fold(0);
        let train: Vec<usize> = (0..15).collect();
        let nt = train.len() as f64;
        let mu_t: Vec<f64> = (0..p).map(|j| train.iter().map(|&i| x[[i, j]]).sum::<f64>() / nt).collect();
        let ybar_t = train.iter().map(|&i| y[i]).sum::<f64>() / nt;
        for a in 0..p {
            let q: f64 = train.iter().map(|&i| (x[[i, a]] - mu_t[a]) * (y[i] - ybar_t)).sum();
            let q = if a == 2 || a == 3 { 0.0 } else { q };
            assert!((fold.gram.q[a] - q).abs() < 1e-9, "q[{a}] = {} want {q}", fold.gram.q[a]);
            for b in 0..p {
                let g: f64 = train.iter().map(|&i| (x[[i, a]] - mu_t[a]) * (x[[i, b]] - mu_t[b])).sum();
                let g = if a == 2 || a == 3 || b == 2 || b == 3 { 0.0 } else { g };
                assert!((fold.gram.q_mat[a * p + b] - g).abs() < 1e-9, "Q[{a},{b}]");
            }
        }
        let y_norm2: f64 = train.iter().map(|&i| (y[i] - ybar_t).powi(2)).sum();
        assert!((fold.gram.y_norm2 - y_norm2).abs() < 1e-9);
        assert_eq!(fold.n, 15);

        let mut w = vec![0.0; p];
        (w[0], w[1], w[139]) = (0.5, -0.25, 0.125);
        let intercept = ybar_t - (0..p).map(|j| w[j] * mu_t[j]).sum::<f64>();
        let mse = parts[0].iter().map(|&i| (intercept + (0..p).map(|j| w[j] * x[[i, j]]).sum::<f64>() - y[i]).powi(2));
        let mse = mse.sum::<f64>() / parts[0].len() as f64;
        let got = blocks.test_mse(0, &fold, &w, &mut Vec::new());
        assert!((got - mse).abs() < 1e-9 * mse.max(1.0), "test MSE {got} want {mse}");

        // The refit problem: all rows, column 3 varies again.
        let full = blocks.into_full();
        assert_eq!(full.n, n);
        assert_eq!(full.gram.q_mat[2 * p + 2], 0.0);
        assert!(full.gram.q_mat[3 * p + 3] > 0.0);
    }
}
