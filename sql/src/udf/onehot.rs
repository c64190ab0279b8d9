//! `onehot(sequence)`: ProteinGym's supervised baseline features, 20 per position
//! (`feature = position · 20 + amino-acid index`, a gap `-` all zeros), so the baseline is one
//! query away: `lasso_cv_eval(onehot(sequence), target)`.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors;
use crate::error::call_error;

/// The `onehot` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OneHotUdf {
    signature: Signature,
}

impl OneHotUdf {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(OneHotUdf { signature: Signature::any(1, Volatility::Immutable) })
    }
}

impl ScalarUDFImpl for OneHotUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        "onehot"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(vectors::list_f32_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields[0].data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                Ok(Arc::new(Field::new("onehot", vectors::list_f32_type(), true)))
            }
            other => Err(call_error("onehot", format!("the sequence must be a string, got {other}"))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = Vec::with_capacity(array.len());
        for (i, s) in vectors::strings("onehot", &array)?.into_iter().enumerate() {
            out.push(match s {
                None => None,
                Some(s) => {
                    let m = esmdb_regress::baseline::onehot(&[s.as_str()])
                        .map_err(|e| call_error("onehot", format!("row {}: {e}", i + 1)))?;
                    Some(m.iter().map(|v| *v as f32).collect())
                }
            });
        }
        Ok(ColumnarValue::Array(vectors::list_f32("onehot", &out)?))
    }
}
