//! `compress_idct(x, n, m)`: the iDCT quantization of SWAT's `compressing_embeddings.py` (from
//! PROST), a fixed-length `n·m` vector of integers 0..=127 from a per-residue matrix of any length.
//!
//! As in the reference: drop the first and last residue rows, DCT-II (orthonormal) along residues,
//! keep `n` coefficients, invert at length `n`, scale each dimension to [0, 1]; then the same along
//! the embedding dimension keeping `m`; multiply by 127 and truncate to an integer. The paper's
//! settings: iDCT1 = (5, 44), iDCT2 = (10, 64), iDCT3 = (10, 128).
use std::f64::consts::PI;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors;
use crate::error::call_error;

const NAME: &str = "compress_idct";

/// The `compress_idct` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CompressIdct {
    signature: Signature,
}

impl CompressIdct {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(CompressIdct { signature: Signature::any(3, Volatility::Immutable) })
    }
}

fn constant(s: Option<&ScalarValue>, what: &str) -> Result<usize> {
    vectors::positive_constant(NAME, s, what)
}

/// The result width `n·m`, refused when it overflows or exceeds [`vectors::MAX_WIDTH`].
fn width(n: usize, m: usize) -> Result<usize> {
    vectors::checked_width(NAME, "n·m", n, m)
}

impl ScalarUDFImpl for CompressIdct {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Err(DataFusionError::Internal("compress_idct types its result from its arguments".into()))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let t = args.arg_fields[0].data_type();
        if !vectors::is_tokens_type(t) {
            return Err(call_error(
                NAME,
                format!("expected a per-token matrix such as esm2_embed(sequence) returns, got {t}"),
            ));
        }
        let (n, m) = (constant(args.scalar_arguments[1], "n")?, constant(args.scalar_arguments[2], "m")?);
        if let Some(d) = vectors::token_dim(t)
            && m > d
        {
            return Err(call_error(NAME, format!("m = {m} exceeds the embedding width {d}")));
        }
        Ok(Arc::new(Field::new(NAME, vectors::fsl_f32_type(width(n, m)?)?, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = |i: usize| match &args.args[i] {
            ColumnarValue::Scalar(s) => Some(s.clone()),
            ColumnarValue::Array(_) => None,
        };
        let (n, m) = (constant(scalar(1).as_ref(), "n")?, constant(scalar(2).as_ref(), "m")?);
        let width = width(n, m)?;
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = Vec::with_capacity(args.number_rows);
        for (row, t) in vectors::token_matrices(NAME, &array)?.into_iter().enumerate() {
            out.push(match t {
                None => None,
                Some(t) => {
                    if t.rows < 3 {
                        return Err(call_error(
                            NAME,
                            format!("row {}: needs at least 3 residues (the first and last are dropped)", row + 1),
                        ));
                    }
                    if n > t.rows - 2 {
                        // SWAT's quant2D fails here too (it cannot reshape to n·m).
                        return Err(call_error(
                            NAME,
                            format!(
                                "row {}: n = {n} exceeds the {} residues left after dropping the first and last",
                                row + 1,
                                t.rows - 2
                            ),
                        ));
                    }
                    if m > t.dim {
                        return Err(call_error(
                            NAME,
                            format!("row {}: m = {m} exceeds the embedding width {}", row + 1, t.dim),
                        ));
                    }
                    // NaN or ±inf would make the scaling, and so every integer, meaningless.
                    if let Some(v) = t.values.iter().find(|v| !v.is_finite()) {
                        return Err(call_error(NAME, format!("row {}: the embedding holds {v}", row + 1)));
                    }
                    let inner: Vec<f64> = t.values[t.dim..(t.rows - 1) * t.dim].iter().map(|v| f64::from(*v)).collect();
                    Some(quant2d(&inner, t.rows - 2, t.dim, n, m))
                }
            });
        }
        Ok(ColumnarValue::Array(vectors::fsl_f32(NAME, width, &out)?))
    }
}

/// `quant2D(emb, n, m)` on an `[rows, dim]` matrix whose first and last residue are already dropped.
pub fn quant2d(values: &[f64], rows: usize, dim: usize, n: usize, m: usize) -> Vec<f32> {
    // First pass along residues: for each dimension, a length-`rows` signal → `n` values; [dim, n].
    let columns: Vec<Vec<f64>> = (0..dim).map(|d| (0..rows).map(|r| values[r * dim + d]).collect()).collect();
    let first: Vec<Vec<f64>> = columns.iter().map(|c| scale(idct_ortho(&dct_ortho(c, n)))).collect();
    // Second pass along dimensions: for each of the n rows, a length-`dim` signal → `m` values.
    let mut out = Vec::with_capacity(n * m);
    for i in 0..n {
        let signal: Vec<f64> = first.iter().map(|c| c[i]).collect();
        out.extend(scale(idct_ortho(&dct_ortho(&signal, m))).into_iter().map(|v| (v * 127.0).trunc() as f32));
    }
    out
}

/// The first `k` coefficients of the orthonormal DCT-II of `x` (scipy `dct(x, type=2, norm='ortho')[:k]`).
fn dct_ortho(x: &[f64], k: usize) -> Vec<f64> {
    let n = x.len() as f64;
    (0..k)
        .map(|f| {
            let s = if f == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
            if f >= x.len() {
                return 0.0;
            }
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

/// PROST's `scale`: to [0, 1] by min and max (a constant signal becomes zeros).
fn scale(v: Vec<f64>) -> Vec<f64> {
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
    let range = hi - lo;
    v.into_iter().map(|x| if range > 0.0 { (x - lo) / range } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn quantized_values_are_integers_in_range() {
        let values: Vec<f64> = (0..7 * 6).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let q = quant2d(&values, 7, 6, 3, 4);
        assert_eq!(q.len(), 12);
        assert!(q.iter().all(|v| v.fract() == 0.0 && (0.0..=127.0).contains(v)));
        // Each row of m values spans the full range after scaling: a 0 and a 127 in every row.
        for row in q.chunks(4) {
            assert!(row.contains(&0.0) && row.contains(&127.0), "{row:?}");
        }
    }
}
