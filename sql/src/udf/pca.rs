//! `compress_pca(x, k)`: SWAT's `pca_transformation` (`compressing_embeddings.py`): per sequence,
//! the `k` leading principal-component scores of its residues, one value per embedding dimension,
//! concatenated (`k = 1` is the paper's `pca1`, `k = 2` its `pca1-2`), by
//! [`esmdb_compress::pca::scores`].
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{ScalarValue, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors;
use crate::error::{call_error, compress_error};

const NAME: &str = "compress_pca";

/// The `compress_pca` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CompressPcaUdf {
    signature: Signature,
}

impl CompressPcaUdf {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(CompressPcaUdf { signature: Signature::any(2, Volatility::Immutable) })
    }
}

fn components(s: Option<&ScalarValue>) -> Result<usize> {
    vectors::positive_constant(NAME, s, "k (the number of components)")
}

impl ScalarUDFImpl for CompressPcaUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("compress_pca types its result from its arguments")
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
                    esmdb_compress::pca::scores(&t.values, t.rows, t.dim, k)
                        .map_err(|source| compress_error(NAME, row, source))?,
                ),
            });
        }
        Ok(ColumnarValue::Array(vectors::f32_rows_as(NAME, args.return_field.data_type(), &out)?))
    }
}
