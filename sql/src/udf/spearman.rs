//! `spearman(x, y)`: Spearman's rank correlation of the pairs of a group, as scipy's `spearmanr`
//! computes it (Pearson correlation of average ranks, ties sharing their mean rank), so the zero-shot
//! table of every dataset is one `GROUP BY`.
//!
//! A pair with a NULL on either side is left out (SQL aggregate semantics; scipy on the remaining
//! pairs). NULL when fewer than two pairs remain or either side is constant (scipy: NaN with a
//! warning); NaN when a value is NaN (scipy's default `nan_policy='propagate'`).
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

/// Name of the function.
pub const SPEARMAN: &str = "spearman";

/// The `spearman(x, y)` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SpearmanUdaf {
    signature: Signature,
}

impl SpearmanUdaf {
    /// The aggregate, both arguments coerced to Float64.
    pub fn udaf() -> AggregateUDF {
        AggregateUDF::new_from_impl(SpearmanUdaf {
            signature: Signature::uniform(2, vec![DataType::Float64], Volatility::Immutable),
        })
    }
}

impl AggregateUDFImpl for SpearmanUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        SPEARMAN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairsAccumulator::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
                true,
            ))
        };
        Ok(vec![list("x"), list("y")])
    }
}

/// The group's non-NULL pairs.
#[derive(Debug, Default)]
struct PairsAccumulator {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl PairsAccumulator {
    fn push(&mut self, x: &Float64Array, y: &Float64Array) {
        for i in 0..x.len().min(y.len()) {
            if x.is_valid(i) && y.is_valid(i) {
                self.x.push(x.value(i));
                self.y.push(y.value(i));
            }
        }
    }
}

fn floats(a: &ArrayRef) -> Result<Float64Array> {
    Ok(cast(a, &DataType::Float64)?.as_primitive::<Float64Type>().clone())
}

impl Accumulator for PairsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [x, y] = values else {
            return Err(DataFusionError::Internal(format!("{SPEARMAN} takes 2 arguments, got {}", values.len())));
        };
        self.push(&floats(x)?, &floats(y)?);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let one = |v: &[f64]| {
            let values: ArrayRef = Arc::new(Float64Array::from_iter_values(v.iter().copied()));
            let field = Arc::new(Field::new("item", DataType::Float64, true));
            ScalarValue::List(Arc::new(ListArray::new(field, OffsetBuffer::from_lengths([v.len()]), values, None)))
        };
        Ok(vec![one(&self.x), one(&self.y)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [xs, ys] = states else {
            return Err(DataFusionError::Internal(format!(
                "{SPEARMAN}: expected 2 state columns, got {}",
                states.len()
            )));
        };
        let (xs, ys) = (xs.as_list::<i32>(), ys.as_list::<i32>());
        for s in 0..xs.len() {
            if xs.is_null(s) || ys.is_null(s) {
                continue;
            }
            self.push(&floats(&xs.value(s))?, &floats(&ys.value(s))?);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.x.iter().chain(&self.y).any(|v| v.is_nan()) {
            return Ok(ScalarValue::Float64(Some(f64::NAN)));
        }
        if self.x.len() < 2 {
            return Ok(ScalarValue::Float64(None));
        }
        let rho = esmdb_regress::metrics::spearman(&self.x, &self.y);
        Ok(ScalarValue::Float64((!rho.is_nan()).then_some(rho)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + (self.x.capacity() + self.y.capacity()) * std::mem::size_of::<f64>()
    }
}
