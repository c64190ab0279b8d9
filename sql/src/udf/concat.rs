//! `concat_features(vector, x1 [, x2 …])`: a feature vector with scalars appended, so features
//! assembled in SQL (an embedding plus a zero-shot score, say: Hsu et al.'s "augmented" models) go
//! into `lasso_cv_eval` unchanged. `List<Float64>`; NULL when the vector or any appended value is.
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors;
use crate::error::call_error;

/// Name of the function.
pub const CONCAT_FEATURES: &str = "concat_features";

/// The `concat_features` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConcatFeaturesUdf {
    signature: Signature,
}

impl ConcatFeaturesUdf {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(ConcatFeaturesUdf { signature: Signature::variadic_any(Volatility::Immutable) })
    }
}

impl ScalarUDFImpl for ConcatFeaturesUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        CONCAT_FEATURES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(vectors::list_f64_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let fields = args.arg_fields;
        if fields.len() < 2 {
            return Err(call_error(CONCAT_FEATURES, "expected a feature vector and at least one value to append"));
        }
        let first = fields[0].data_type();
        if !vectors::is_vector_type(first) {
            return Err(call_error(
                CONCAT_FEATURES,
                format!("the first argument must be a feature vector, got {first}"),
            ));
        }
        for (i, f) in fields.iter().enumerate().skip(1) {
            let t = f.data_type();
            if !(t.is_numeric() || t == &DataType::Null) {
                return Err(call_error(CONCAT_FEATURES, format!("argument {} must be a number, got {t}", i + 1)));
            }
        }
        Ok(Arc::new(Field::new(CONCAT_FEATURES, vectors::list_f64_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let vectors_in = vectors::rows_f64(CONCAT_FEATURES, &args.args[0].to_array(n)?)?;
        let mut extra: Vec<Float64Array> = Vec::with_capacity(args.args.len() - 1);
        for a in &args.args[1..] {
            extra.push(cast(&a.to_array(n)?, &DataType::Float64)?.as_primitive::<Float64Type>().clone());
        }
        let rows: Vec<Option<Vec<f64>>> = vectors_in
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let mut v = v?;
                for e in &extra {
                    if e.is_null(i) {
                        return None;
                    }
                    v.push(e.value(i));
                }
                Some(v)
            })
            .collect();
        let offsets = vectors::offsets(CONCAT_FEATURES, rows.iter().map(|r| r.as_ref().map_or(0, Vec::len)))?;
        let values: Vec<f64> = rows.iter().flatten().flatten().copied().collect();
        let valid: Vec<bool> = rows.iter().map(Option::is_some).collect();
        let field = Arc::new(Field::new("item", DataType::Float64, true));
        let list = ListArray::try_new(field, offsets, Arc::new(Float64Array::from(values)), Some(valid.into()))?;
        Ok(ColumnarValue::Array(Arc::new(list) as ArrayRef))
    }
}
