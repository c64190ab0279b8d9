//! `lasso_predict(fit, features)`: applies a `lasso_cv` result to rows — for example to variants
//! not yet measured: `SELECT id, lasso_predict(f.fit, x) FROM new_rows CROSS JOIN (SELECT lasso_cv(…) AS fit …) f`.
use arrow::array::{Array, AsArray, Float64Array};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

use super::lasso::fit_fields;
use super::vectors;
use crate::error::call_error;

/// The `lasso_predict` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LassoPredictUdf {
    signature: Signature,
}

impl LassoPredictUdf {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(LassoPredictUdf { signature: Signature::any(2, Volatility::Immutable) })
    }
}

impl ScalarUDFImpl for LassoPredictUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        "lasso_predict"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::Struct(f) if f.find("coef").is_some() && f.find("intercept").is_some() => {}
            other => {
                return Err(call_error(
                    "lasso_predict",
                    format!("the first argument must be a lasso_cv result, got {other}"),
                ));
            }
        }
        if !vectors::is_vector_type(&arg_types[1]) {
            return Err(call_error(
                "lasso_predict",
                format!("features must be a list of Float32/Float64, got {}", arg_types[1]),
            ));
        }
        let _ = fit_fields();
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let fit = args.args[0].to_array(n)?;
        let fit = fit.as_struct();
        let intercept = arrow::compute::cast(
            fit.column_by_name("intercept").ok_or_else(|| call_error("lasso_predict", "fit has no intercept"))?,
            &DataType::Float64,
        )?;
        let intercept = intercept.as_primitive::<Float64Type>();
        let coef = vectors::rows_f64(
            "lasso_predict",
            fit.column_by_name("coef").ok_or_else(|| call_error("lasso_predict", "fit has no coef"))?,
        )?;
        let x = vectors::rows_f64("lasso_predict", &args.args[1].to_array(n)?)?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(match (&coef[i], &x[i]) {
                (Some(c), Some(x)) if !fit.is_null(i) && !intercept.is_null(i) => {
                    if c.len() != x.len() {
                        return Err(call_error(
                            "lasso_predict",
                            format!("row {}: {} features, the fit has {} coefficients", i + 1, x.len(), c.len()),
                        ));
                    }
                    Some(intercept.value(i) + c.iter().zip(x).map(|(a, b)| a * b).sum::<f64>())
                }
                _ => None,
            });
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }
}
