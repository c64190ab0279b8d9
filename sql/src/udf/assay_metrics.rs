//! The per-assay metrics as aggregates over a group's (score, target) pairs, so a benchmark table is one
//! `GROUP BY`: `spearman(x, y)` (scipy's `spearmanr`: Pearson correlation of average ranks) and ProteinGym's
//! `ndcg(score, target)`, `top_recall(score, target [, top])`, `auc(score, label)` and `mcc(score, label)`
//! (`esmdb_regress::proteingym`: its `performance_DMS_benchmarks.py`, the label being `DMS_score_bin`).
//!
//! A pair with a NULL on either side is left out (SQL aggregate semantics). NULL where the metric is undefined
//! (scipy's or ProteinGym's NaN: fewer than two pairs or a constant side for `spearman`, a constant target for
//! `ndcg`, one class for `auc`); NaN when a value is NaN (scipy's default `nan_policy='propagate'`). The
//! pairs are kept in any order: every metric here is the same whatever the order of the rows.
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{ScalarValue, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;

use crate::error::call_error;

/// Which metric an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssayMetric {
    /// `spearman(x, y)`.
    Spearman,
    /// `ndcg(score, target)`.
    Ndcg,
    /// `top_recall(score, target [, top])`: `top` percent, 10 by default.
    TopRecall,
    /// `auc(score, label)`.
    Auc,
    /// `mcc(score, label)`.
    Mcc,
}

impl AssayMetric {
    /// Every metric, in ProteinGym's order of its table's columns.
    pub const ALL: [AssayMetric; 5] =
        [AssayMetric::Spearman, AssayMetric::Auc, AssayMetric::Mcc, AssayMetric::Ndcg, AssayMetric::TopRecall];

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            AssayMetric::Spearman => "spearman",
            AssayMetric::Ndcg => "ndcg",
            AssayMetric::TopRecall => "top_recall",
            AssayMetric::Auc => "auc",
            AssayMetric::Mcc => "mcc",
        }
    }

    /// The metric of the pairs; `top` is `top_recall`'s percentage. `None` when undefined.
    fn compute(self, x: &[f64], y: &[f64], top: f64) -> Option<f64> {
        use esmdb_regress::proteingym;
        let labels = || y.iter().map(|&v| v != 0.0).collect::<Vec<bool>>();
        match self {
            AssayMetric::Spearman => {
                let rho = esmdb_regress::metrics::spearman(x, y);
                (x.len() >= 2 && !rho.is_nan()).then_some(rho)
            }
            AssayMetric::Ndcg => proteingym::ndcg(x, y),
            AssayMetric::TopRecall => proteingym::top_recall(x, y, top),
            AssayMetric::Auc => proteingym::auc(x, &labels()),
            AssayMetric::Mcc => proteingym::mcc(x, &labels()),
        }
    }
}

/// `top_recall`'s default: ProteinGym's top decile.
const DEFAULT_TOP_PERCENT: f64 = 10.0;

/// One of the metric aggregates.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AssayMetricUdaf {
    metric: AssayMetric,
    signature: Signature,
}

impl AssayMetricUdaf {
    /// The aggregate; its arguments are coerced to Float64 (a boolean label is 1 or 0).
    pub fn udaf(metric: AssayMetric) -> AggregateUDF {
        AggregateUDF::new_from_impl(AssayMetricUdaf {
            metric,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

impl AggregateUDFImpl for AssayMetricUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        self.metric.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    /// Numbers and booleans become Float64; anything else, or a wrong count, is an error naming the function.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.metric.name();
        let arity = if self.metric == AssayMetric::TopRecall { 2..=3 } else { 2..=2 };
        if !arity.contains(&arg_types.len()) {
            let (lo, hi) = (arity.start(), arity.end());
            let wanted = if lo == hi { format!("{lo}") } else { format!("{lo} or {hi}") };
            return Err(call_error(name, format!("takes {wanted} arguments, got {}", arg_types.len())));
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                t if t.is_numeric() || matches!(t, DataType::Boolean | DataType::Null) => Ok(DataType::Float64),
                other => {
                    Err(call_error(name, format!("argument {} must be a number or a boolean, got {other}", i + 1)))
                }
            })
            .collect()
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let top = match acc_args.exprs.get(2) {
            None => DEFAULT_TOP_PERCENT,
            Some(e) => {
                let value = e.downcast_ref::<Literal>().map(|l| l.value().clone());
                match value.map(|v| v.cast_to(&DataType::Float64)) {
                    Some(Ok(ScalarValue::Float64(Some(top)))) if top > 0.0 && top <= 100.0 => top,
                    _ => {
                        return Err(call_error(
                            self.metric.name(),
                            "the third argument (the top percentage) must be a constant in (0, 100], e.g. 10",
                        ));
                    }
                }
            }
        };
        Ok(Box::new(PairsAccumulator { metric: self.metric, top, x: Vec::new(), y: Vec::new() }))
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
#[derive(Debug)]
struct PairsAccumulator {
    metric: AssayMetric,
    top: f64,
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
        let [x, y, ..] = values else {
            let name = self.metric.name();
            return internal_err!("{name} takes 2 arguments, got {}", values.len());
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
            return internal_err!("{}: expected 2 state columns, got {}", self.metric.name(), states.len());
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
        if self.x.is_empty() {
            return Ok(ScalarValue::Float64(None));
        }
        Ok(ScalarValue::Float64(self.metric.compute(&self.x, &self.y, self.top)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + (self.x.capacity() + self.y.capacity()) * std::mem::size_of::<f64>()
    }
}
