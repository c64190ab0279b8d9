//! The iDCT quantization of SWAT's `compressing_embeddings.py` (from PROST): a fixed-length `n·m`
//! vector of integers 0..=127 from a per-residue matrix of any length.
//!
//! As in the reference: drop the first and last residue rows, DCT-II (orthonormal) along residues,
//! keep `n` coefficients, invert at length `n`, scale each dimension to [0, 1]; then the same along
//! the embedding dimension keeping `m`; multiply by 127 and truncate to an integer. The paper's
//! settings: iDCT1 = (5, 44), iDCT2 = (10, 64), iDCT3 = (10, 128).
use std::f64::consts::PI;

use crate::error::{Error, Result, check_finite, check_shape};

/// SWAT's `quant2D(emb, n, m)` on the row-major `rows × dim` matrix `values` of a whole sequence:
/// its first and last residue are dropped, then [`quant2d`]. `n·m` values, row after row of `m`.
///
/// Errors, in this order: [`Error::Shape`]/[`Error::Overflow`] when `values` is not
/// `rows × dim`; [`Error::TooFewResidues`] under 3 rows; [`Error::Zero`] for `n` or `m` of 0;
/// [`Error::ResidueCoefficients`] when `n > rows - 2`; [`Error::DimensionCoefficients`] when
/// `m > dim`; [`Error::NonFinite`] for NaN or ±inf anywhere in the matrix.
pub fn quantize(values: &[f32], rows: usize, dim: usize, n: usize, m: usize) -> Result<Vec<f32>> {
    check_shape(values, rows, dim)?;
    if rows < 3 {
        return Err(Error::TooFewResidues { rows });
    }
    check_counts(rows - 2, dim, n, m)?;
    check_finite(values, dim)?;
    let inner: Vec<f64> = values[dim..(rows - 1) * dim].iter().map(|v| f64::from(*v)).collect();
    Ok(quant2d_checked(&inner, rows - 2, dim, n, m))
}

/// `quant2D(emb, n, m)` on a row-major `rows × dim` matrix whose first and last residue are
/// already dropped (SWAT's `emb[1:-1]`), in `f64`: `n·m` values, row after row of `m`.
///
/// Errors, in this order: [`Error::Shape`]/[`Error::Overflow`] when `values` is not
/// `rows × dim`; [`Error::Zero`] for `n` or `m` of 0; [`Error::ResidueCoefficients`] when
/// `n > rows`; [`Error::DimensionCoefficients`] when `m > dim`; [`Error::NonFinite`].
pub fn quant2d(values: &[f64], rows: usize, dim: usize, n: usize, m: usize) -> Result<Vec<f32>> {
    check_shape(values, rows, dim)?;
    check_counts(rows, dim, n, m)?;
    check_finite(values, dim)?;
    Ok(quant2d_checked(values, rows, dim, n, m))
}

/// `1 ≤ n ≤ residues` and `1 ≤ m ≤ dim`.
fn check_counts(residues: usize, dim: usize, n: usize, m: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Zero { what: "n" });
    }
    if m == 0 {
        return Err(Error::Zero { what: "m" });
    }
    if n > residues {
        // SWAT's quant2D fails here too (it cannot reshape to n·m).
        return Err(Error::ResidueCoefficients { n, residues });
    }
    if m > dim {
        return Err(Error::DimensionCoefficients { m, dim });
    }
    Ok(())
}

/// [`quant2d`] once `values` is `rows × dim`, finite, `1 ≤ n ≤ rows` and `1 ≤ m ≤ dim`.
fn quant2d_checked(values: &[f64], rows: usize, dim: usize, n: usize, m: usize) -> Vec<f32> {
    // First pass along residues: for each dimension, a length-`rows` signal → `n` values; [dim, n].
    let columns: Vec<Vec<f64>> = (0..dim).map(|d| (0..rows).map(|r| values[r * dim + d]).collect()).collect();
    let first: Vec<Vec<f64>> = columns.iter().map(|c| scale(idct_ortho(&dct_ortho(c, n)))).collect();
    // Second pass along dimensions: for each of the n rows, a length-`dim` signal → `m` values.
    // n·m ≤ rows·dim, which fits: no overflow.
    let mut out = Vec::with_capacity(n * m);
    for i in 0..n {
        let signal: Vec<f64> = first.iter().map(|c| c[i]).collect();
        out.extend(scale(idct_ortho(&dct_ortho(&signal, m))).into_iter().map(|v| (v * 127.0).trunc() as f32));
    }
    out
}

/// The first `k` coefficients of the orthonormal DCT-II of `x` (scipy `dct(x, type=2, norm='ortho')[:k]`);
/// those beyond `x.len()` are 0.
fn dct_ortho(x: &[f64], k: usize) -> Vec<f64> {
    let n = x.len() as f64;
    (0..k)
        .map(|f| {
            if f >= x.len() {
                return 0.0;
            }
            let s = if f == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
            s * x
                .iter()
                .enumerate()
                .map(|(j, v)| v * (PI * f as f64 * (2 * j + 1) as f64 / (2.0 * n)).cos())
                .sum::<f64>()
        })
        .collect()
}

/// Orthonormal inverse of the DCT-II at the coefficients' own length (scipy `idct(c, type=2, norm='ortho')`).
fn idct_ortho(c: &[f64]) -> Vec<f64> {
    let n = c.len() as f64;
    (0..c.len())
        .map(|j| {
            c.iter()
                .enumerate()
                .map(|(f, v)| {
                    let s = if f == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
                    s * v * (PI * f as f64 * (2 * j + 1) as f64 / (2.0 * n)).cos()
                })
                .sum()
        })
        .collect()
}

/// PROST's `scale`: to [0, 1] by min and max (a constant signal becomes zeros, where PROST's
/// division by 0 gives NaN).
fn scale(v: Vec<f64>) -> Vec<f64> {
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
    let range = hi - lo;
    v.into_iter().map(|x| if range > 0.0 { (x - lo) / range } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T>(r: Result<T>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn dct_then_idct_at_full_length_is_identity() {
        let x = [0.3, -1.2, 2.5, 0.0, 4.1];
        let back = idct_ortho(&dct_ortho(&x, x.len()));
        for (a, b) in x.iter().zip(back) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn dct_of_a_constant_is_its_scaled_mean() {
        // Orthonormal DCT-II: X0 = sqrt(N)·mean, the rest 0.
        let c = dct_ortho(&[2.0; 4], 3);
        assert!((c[0] - 4.0).abs() < 1e-12 && c[1].abs() < 1e-12 && c[2].abs() < 1e-12);
    }

    #[test]
    fn helpers_take_empty_signals() {
        assert_eq!(dct_ortho(&[], 2), vec![0.0, 0.0]);
        assert!(idct_ortho(&[]).is_empty());
        assert!(scale(vec![]).is_empty());
        assert_eq!(scale(vec![3.0, 3.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn quantized_values_are_integers_in_range() {
        let values: Vec<f64> = (0..7 * 6).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let q = quant2d(&values, 7, 6, 3, 4).unwrap_or_default();
        assert_eq!(q.len(), 12);
        assert!(q.iter().all(|v| v.fract() == 0.0 && (0.0..=127.0).contains(v)));
        // Each row of m values spans the full range after scaling: a 0 and a 127 in every row.
        for row in q.chunks(4) {
            assert!(row.contains(&0.0) && row.contains(&127.0), "{row:?}");
        }
    }

    #[test]
    fn quantize_drops_the_first_and_last_residue() {
        // The compress.slt example, whose expected values come from SWAT's quant2D with scipy.
        let emb = [1.0, 2.0, 0.5, 3.0, 5.0, 1.0, 2.0, 1.0, 4.0, 0.0, 4.0, 2.0, 1.0, 1.0, 1.0];
        assert_eq!(quantize(&emb, 5, 3, 2, 2).ok(), Some(vec![127.0, 0.0, 0.0, 127.0]));
        let inner: Vec<f64> = emb[3..12].iter().map(|v| f64::from(*v)).collect();
        assert_eq!(quantize(&emb, 5, 3, 2, 2).ok(), quant2d(&inner, 3, 3, 2, 2).ok());
        // The ends take no part: changing them changes nothing.
        let mut ends = emb;
        (ends[0], ends[14]) = (-100.0, 100.0);
        assert_eq!(quantize(&ends, 5, 3, 2, 2).ok(), quantize(&emb, 5, 3, 2, 2).ok());
    }

    #[test]
    fn too_few_residues_and_too_many_coefficients_are_refused() {
        assert_eq!(text(quantize(&[], 0, 0, 1, 1)), "needs at least 3 residues (the first and last are dropped)");
        assert!(matches!(quantize(&[0.0; 4], 2, 2, 1, 1), Err(Error::TooFewResidues { rows: 2 })));
        let emb = [0.5f32; 15];
        assert_eq!(
            text(quantize(&emb, 5, 3, 4, 2)),
            "n = 4 exceeds the 3 residues left after dropping the first and last"
        );
        assert_eq!(text(quantize(&emb, 5, 3, 2, 4)), "m = 4 exceeds the embedding width 3");
        assert!(matches!(quant2d(&[0.0; 6], 2, 3, 3, 1), Err(Error::ResidueCoefficients { n: 3, residues: 2 })));
        assert!(matches!(quantize(&emb, 5, 3, 0, 2), Err(Error::Zero { what: "n" })));
        assert!(matches!(quant2d(&[0.0; 6], 2, 3, 1, 0), Err(Error::Zero { what: "m" })));
        // Huge constants are refused before anything is allocated.
        assert!(matches!(quantize(&emb, 5, 3, usize::MAX, usize::MAX), Err(Error::ResidueCoefficients { .. })));
    }

    #[test]
    fn zero_width_and_bad_shapes_are_refused() {
        // Three residues of width 0 (the errors.slt case).
        assert_eq!(text(quantize(&[], 3, 0, 1, 1)), "m = 1 exceeds the embedding width 0");
        assert!(matches!(quantize(&[0.0; 5], 3, 2, 1, 1), Err(Error::Shape { rows: 3, dim: 2, len: 5 })));
        assert!(matches!(quant2d(&[], usize::MAX, 3, 1, 1), Err(Error::Overflow { what: "rows·dim", .. })));
    }

    #[test]
    fn non_finite_values_are_refused_with_their_place() {
        let mut emb = [1.0f32; 9];
        emb[4] = f32::INFINITY;
        assert_eq!(text(quantize(&emb, 3, 3, 1, 1)), "the embedding holds inf at residue 2, dimension 2");
        // The dropped ends are checked too: a NaN there is a broken embedding all the same.
        emb[4] = 1.0;
        emb[8] = f32::NAN;
        assert!(matches!(quantize(&emb, 3, 3, 1, 1), Err(Error::NonFinite { residue: 2, dimension: 2, .. })));
        assert!(matches!(quant2d(&[f64::NEG_INFINITY], 1, 1, 1, 1), Err(Error::NonFinite { residue: 0, .. })));
    }

    #[test]
    fn a_constant_matrix_quantizes_to_zeros() {
        assert_eq!(quant2d(&[2.0; 12], 4, 3, 2, 3).ok(), Some(vec![0.0; 6]));
    }
}
