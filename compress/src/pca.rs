//! SWAT's `pca_transformation` (`compressing_embeddings.py`): per sequence, the `k` leading
//! principal-component scores of its residues, one value per embedding dimension, concatenated
//! (`k = 1` is the paper's `pca1`, `k = 2` its `pca1-2`).
//!
//! As in the reference: scale each embedding dimension to [-1, 1] over the residues
//! (`MinMaxScaler(feature_range=(-1, 1))`), transpose so that the D dimensions are the samples and
//! the L residues the features, then `PCA(k).fit_transform`: centre each residue column, and project
//! on the leading right singular vectors, signed as scikit-learn's `svd_flip(u_based_decision=False)`
//! does (each component's largest-magnitude loading positive). The decomposition is the symmetric
//! eigenproblem of the smaller of the two Gram matrices (`min(D, L)` square), in f64.
use linfa_linalg::eigh::{EigSort, EighInto};
use ndarray::{Array1, Array2, Axis};

use crate::error::{Error, Result, check_finite, check_shape};

/// `PCA(k).fit_transform(MinMaxScaler((-1, 1)).fit_transform(E).T).T`, flattened, for the
/// row-major `rows × dim` matrix `E`: `k · dim` values, component after component.
///
/// Errors, in this order: [`Error::Shape`]/[`Error::Overflow`] when `values` is not
/// `rows × dim`; [`Error::Zero`] for `k = 0`; [`Error::Components`] when `k > min(rows, dim)`
/// (so also for an empty matrix or one of width 0); [`Error::NonFinite`] for NaN or ±inf;
/// [`Error::Eigen`] should the eigensolver fail.
pub fn scores(values: &[f32], rows: usize, dim: usize, k: usize) -> Result<Vec<f32>> {
    check_shape(values, rows, dim)?;
    if k == 0 {
        return Err(Error::Zero { what: "k" });
    }
    if k > rows.min(dim) {
        return Err(Error::Components { k, rows, dim });
    }
    check_finite(values, dim)?;
    // F = scaled Eᵀ: [dim samples, rows features].
    let mut f = Array2::<f64>::zeros((dim, rows));
    for d in 0..dim {
        let column = (0..rows).map(|r| f64::from(values[r * dim + d]));
        let (lo, hi) = column.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        // MinMaxScaler: a constant column has range 1 (`_handle_zeros_in_scale`), so it maps to -1.
        let range = if hi - lo == 0.0 { 1.0 } else { hi - lo };
        for (r, v) in column.enumerate() {
            f[[d, r]] = (v - lo) * (2.0 / range) - 1.0;
        }
    }
    // Centre each feature (residue) over the samples (dim ≥ k ≥ 1 of them).
    let means = f.mean_axis(Axis(0)).ok_or(Error::Components { k, rows, dim })?;
    f -= &means;
    // Right singular vectors V (rows × k) from the smaller Gram matrix.
    let small_side_is_features = rows <= dim;
    let gram = if small_side_is_features { f.t().dot(&f) } else { f.dot(&f.t()) };
    let (eigenvalues, eigenvectors) = gram.eigh_into().map_err(Error::Eigen)?.sort_eig_desc();
    // k·dim ≤ rows·dim, which fits.
    let mut out = Vec::with_capacity(k * dim);
    for c in 0..k {
        let (mut v, mut scores) = if small_side_is_features {
            let v = eigenvectors.column(c).to_owned();
            let scores = f.dot(&v);
            (v, scores)
        } else {
            // u = F v / σ, so v = Fᵀ u / σ and the scores F v = σ u.
            let sigma = eigenvalues[c].max(0.0).sqrt();
            let u = eigenvectors.column(c).to_owned();
            let v = if sigma > 0.0 { f.t().dot(&u) / sigma } else { Array1::zeros(rows) };
            (v, u * sigma)
        };
        // svd_flip(u_based_decision=False): the largest |loading| (first on ties) is positive.
        let pivot = v.iter().enumerate().fold(0, |best, (i, x)| if x.abs() > v[best].abs() { i } else { best });
        if v[pivot] < 0.0 {
            v.mapv_inplace(|x| -x);
            scores.mapv_inplace(|x| -x);
        }
        out.extend(scores.iter().map(|s| *s as f32));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T>(r: Result<T>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn dimensions_equal_after_scaling_have_zero_scores() {
        // Dimension d is the ramp 0.5·(r + 1) shifted by d: scaled to [-1, 1] every dimension
        // (sample) is the same vector, so there is no variance and every score is 0.
        let (rows, dim) = (5, 4);
        let values: Vec<f32> = (0..rows * dim).map(|i| ((i / dim) as f32 + 1.0) * 0.5 + (i % dim) as f32).collect();
        let s = scores(&values, rows, dim, 1).unwrap_or_default();
        assert_eq!(s.len(), dim);
        assert!(s.iter().all(|v| v.abs() < 1e-6), "{s:?}");
    }

    #[test]
    fn scores_are_centred_and_ordered_by_variance() {
        for (rows, dim) in [(6, 9), (9, 6)] {
            let values: Vec<f32> = (0..rows * dim).map(|i| (((i * 37) % 23) as f32) * 0.1 - 1.0).collect();
            let s = scores(&values, rows, dim, 2).unwrap_or_default();
            assert_eq!(s.len(), 2 * dim);
            // Scores of each component are centred (the features were centred).
            for c in s.chunks(dim) {
                let mean: f32 = c.iter().sum::<f32>() / dim as f32;
                assert!(mean.abs() < 1e-5, "{mean}");
            }
            // The first component carries at least as much variance as the second.
            let var = |c: &[f32]| c.iter().map(|v| v * v).sum::<f32>();
            assert!(var(&s[..dim]) >= var(&s[dim..]));
        }
    }

    #[test]
    fn a_constant_matrix_has_zero_scores() {
        assert_eq!(scores(&[3.0; 12], 4, 3, 2).ok(), Some(vec![0.0; 6]));
    }

    #[test]
    fn too_many_components_is_an_error() {
        assert_eq!(
            text(scores(&[0.0; 6], 2, 3, 3)),
            "k = 3 exceeds min(residues, dimensions) = min(2, 3) (as scikit-learn's PCA)"
        );
        assert!(matches!(scores(&[0.0; 6], 2, 3, usize::MAX), Err(Error::Components { rows: 2, dim: 3, .. })));
        assert!(matches!(scores(&[0.0; 6], 2, 3, 0), Err(Error::Zero { what: "k" })));
    }

    #[test]
    fn empty_and_zero_width_matrices_are_refused() {
        assert!(text(scores(&[], 0, 0, 1)).contains("= min(0, 0)"));
        assert!(text(scores(&[], 2, 0, 1)).contains("= min(2, 0)"));
        assert!(text(scores(&[], 0, 7, 1)).contains("= min(0, 7)"));
    }

    #[test]
    fn bad_shapes_and_non_finite_values_are_refused() {
        assert!(matches!(scores(&[0.0; 5], 2, 3, 1), Err(Error::Shape { rows: 2, dim: 3, len: 5 })));
        assert!(matches!(scores(&[], usize::MAX, usize::MAX, 1), Err(Error::Overflow { .. })));
        let e = text(scores(&[1.0, f32::NAN, 3.0, 4.0], 2, 2, 1));
        assert_eq!(e, "the embedding holds NaN at residue 1, dimension 2");
    }

    #[test]
    fn extreme_finite_values_give_finite_scores() {
        let values = [f32::MAX, -f32::MAX, f32::MIN_POSITIVE, 0.0, -f32::MAX, f32::MAX];
        let s = scores(&values, 3, 2, 2).unwrap_or_default();
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|v| v.is_finite()), "{s:?}");
    }
}
