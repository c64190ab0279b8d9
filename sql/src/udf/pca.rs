//! `compress_pca(x, k)`: SWAT's `pca_transformation` (`compressing_embeddings.py`): per sequence,
//! the `k` leading principal-component scores of its residues, one value per embedding dimension,
//! concatenated (`k = 1` is the paper's `pca1`, `k = 2` its `pca1-2`).
//!
//! As in the reference: scale each embedding dimension to [-1, 1] over the residues
//! (`MinMaxScaler(feature_range=(-1, 1))`), transpose so that the D dimensions are the samples and
//! the L residues the features, then `PCA(k).fit_transform`: centre each residue column, and project
//! on the leading right singular vectors, signed as scikit-learn's `svd_flip(u_based_decision=False)`
//! does (each component's largest-magnitude loading positive). The decomposition is the symmetric
//! eigenproblem of the smaller of the two Gram matrices (`min(D, L)` square), in f64.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use linfa_linalg::eigh::{EigSort, EighInto};
use ndarray::{Array2, Axis};

use super::vectors;
use crate::error::call_error;

const NAME: &str = "compress_pca";

/// The `compress_pca` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CompressPca {
    signature: Signature,
}

impl CompressPca {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(CompressPca { signature: Signature::any(2, Volatility::Immutable) })
    }
}

fn components(s: Option<&ScalarValue>) -> Result<usize> {
    vectors::positive_constant(NAME, s, "k (the number of components)")
}

impl ScalarUDFImpl for CompressPca {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Err(DataFusionError::Internal("compress_pca types its result from its arguments".into()))
    }

    /// `FixedSizeList<Float32, k·D>` when the input's width D is part of its type (as for
    /// `esm2_embed`), else `List<Float32>`.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let t = args.arg_fields[0].data_type();
        if !vectors::is_tokens_type(t) {
            return Err(call_error(
                NAME,
                format!("expected a per-token matrix such as esm2_embed(sequence) returns, got {t}"),
            ));
        }
        let k = components(args.scalar_arguments[1])?;
        let out = match vectors::token_dim(t) {
            // k ≤ D is needed for every row (k ≤ min(residues, D)), so a wider k fails here at once.
            Some(d) if k > d => {
                return Err(call_error(NAME, format!("k = {k} exceeds the embedding width {d}")));
            }
            Some(d) => vectors::fsl_f32_type(vectors::checked_width(NAME, "k·D", k, d)?)?,
            None => vectors::list_f32_type(),
        };
        Ok(Arc::new(Field::new(NAME, out, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let k = match &args.args[1] {
            ColumnarValue::Scalar(s) => components(Some(s))?,
            ColumnarValue::Array(_) => components(None)?,
        };
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = Vec::with_capacity(args.number_rows);
        for (row, t) in vectors::token_matrices(NAME, &array)?.into_iter().enumerate() {
            out.push(match t {
                None => None,
                Some(t) => Some(
                    pca_scores(&t.values, t.rows, t.dim, k)
                        .map_err(|e| call_error(NAME, format!("row {}: {e}", row + 1)))?,
                ),
            });
        }
        Ok(ColumnarValue::Array(vectors::f32_rows_as(NAME, args.return_field.data_type(), &out)?))
    }
}

/// `PCA(k).fit_transform(MinMaxScaler((-1, 1)).fit_transform(E).T).T`, flattened, for the
/// row-major `[rows, dim]` matrix `E`: `k · dim` values, component after component.
pub fn pca_scores(values: &[f32], rows: usize, dim: usize, k: usize) -> Result<Vec<f32>, String> {
    if k > rows.min(dim) {
        return Err(format!("k = {k} exceeds min(residues, dimensions) = min({rows}, {dim}) (as scikit-learn's PCA)"));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(format!("the embedding holds {v}"));
    }
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
    // Centre each feature (residue) over the samples.
    let means = f.mean_axis(Axis(0)).ok_or("empty matrix")?;
    f -= &means;
    // Right singular vectors V (rows × k) from the smaller Gram matrix.
    let small_side_is_features = rows <= dim;
    let gram = if small_side_is_features { f.t().dot(&f) } else { f.dot(&f.t()) };
    let (values, vectors) = gram.eigh_into().map_err(|e| format!("eigendecomposition failed: {e}"))?.sort_eig_desc();
    let mut out = Vec::with_capacity(k * dim);
    for c in 0..k {
        let (mut v, mut scores) = if small_side_is_features {
            let v = vectors.column(c).to_owned();
            let scores = f.dot(&v);
            (v, scores)
        } else {
            // u = F v / σ, so v = Fᵀ u / σ and the scores F v = σ u.
            let sigma = values[c].max(0.0).sqrt();
            let u = vectors.column(c).to_owned();
            let v = if sigma > 0.0 { f.t().dot(&u) / sigma } else { ndarray::Array1::zeros(rows) };
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

    #[test]
    fn dimensions_equal_after_scaling_have_zero_scores() {
        // Dimension d is the ramp 0.5·(r + 1) shifted by d: scaled to [-1, 1] every dimension
        // (sample) is the same vector, so there is no variance and every score is 0.
        let (rows, dim) = (5, 4);
        let values: Vec<f32> = (0..rows * dim).map(|i| ((i / dim) as f32 + 1.0) * 0.5 + (i % dim) as f32).collect();
        let s = pca_scores(&values, rows, dim, 1).unwrap_or_default();
        assert_eq!(s.len(), dim);
        assert!(s.iter().all(|v| v.abs() < 1e-6), "{s:?}");
    }

    #[test]
    fn scores_are_centred_and_ordered_by_variance() {
        let (rows, dim) = (6, 9);
        let values: Vec<f32> = (0..rows * dim).map(|i| (((i * 37) % 23) as f32) * 0.1 - 1.0).collect();
        let s = pca_scores(&values, rows, dim, 2).unwrap_or_default();
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

    #[test]
    fn too_many_components_is_an_error() {
        let e = pca_scores(&[0.0; 6], 2, 3, 3).err().unwrap_or_default();
        assert!(e.contains("k = 3 exceeds min(residues, dimensions) = min(2, 3)"), "{e}");
    }
}
