//! `compress_idct(x, n, m)`: the iDCT quantization of SWAT's `compressing_embeddings.py` (from
//! PROST), a fixed-length `n·m` vector of integers 0..=127 from a per-residue matrix of any length
//! ([`esmdb_compress::idct::quantize`]). The paper's settings: iDCT1 = (5, 44), iDCT2 = (10, 64),
//! iDCT3 = (10, 128).
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{ScalarValue, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors;
use crate::error::{call_error, compress_error};

const NAME: &str = "compress_idct";

/// The `compress_idct` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CompressIdctUdf {
    signature: Signature,
}

impl CompressIdctUdf {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(CompressIdctUdf { signature: Signature::any(3, Volatility::Immutable) })
    }
}

fn constant(s: Option<&ScalarValue>, what: &str) -> Result<usize> {
    vectors::positive_constant(NAME, s, what)
}

/// The result width `n·m`, refused when it overflows or exceeds [`vectors::MAX_WIDTH`].
fn width(n: usize, m: usize) -> Result<usize> {
    vectors::checked_width(NAME, "n·m", n, m)
}

impl ScalarUDFImpl for CompressIdctUdf {
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
        internal_err!("compress_idct types its result from its arguments")
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
                Some(t) => Some(
                    esmdb_compress::idct::quantize(&t.values, t.rows, t.dim, n, m)
                        .map_err(|source| compress_error(NAME, row, source))?,
                ),
            });
        }
        Ok(ColumnarValue::Array(vectors::fsl_f32(NAME, width, &out)?))
    }
}
