//! `lasso_cv(features, target [, options])` and `lasso_cv_eval(features, target [, options [, mutant]])`:
//! aggregates that collect a group's rows and run `esmdb-regress` on them.
//!
//! Fold assignment follows row order, so both honour an `ORDER BY` inside the call
//! (`lasso_cv_eval(x, y ORDER BY input_row)`): the ordering values travel with the rows through
//! partial aggregation as byte-comparable keys (arrow's row format) and the rows are sorted by them
//! before fitting, which gives the same folds whatever the partitioning or thread count. Rows whose
//! features or target are NULL are skipped, as SQL aggregates skip NULLs; a group with no rows gives
//! NULL.
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use arrow::row::{RowConverter, SortField};
use datafusion::common::{ScalarValue, internal_datafusion_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, TypeSignature, Volatility};
use esmdb_regress::{FoldScheme, ProtocolOptions, kfold};
use ndarray::{Array1, Array2};

use super::vectors;
use crate::error::{Error, call_error};

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LassoFunction {
    /// `lasso_cv`: one LassoCV fit on all rows.
    Fit,
    /// `lasso_cv_eval`: the paper's cross-validated protocol, one struct per outer fold.
    Eval,
}

impl LassoFunction {
    fn name(self) -> &'static str {
        match self {
            LassoFunction::Fit => "lasso_cv",
            LassoFunction::Eval => "lasso_cv_eval",
        }
    }
}

/// A lasso aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LassoUdaf {
    function: LassoFunction,
    signature: Signature,
}

impl LassoUdaf {
    /// The aggregate for `function`.
    pub fn udaf(function: LassoFunction) -> AggregateUDF {
        let max = match function {
            LassoFunction::Fit => 3,
            LassoFunction::Eval => 4,
        };
        let signature = Signature::one_of((2..=max).map(TypeSignature::Any).collect(), Volatility::Immutable);
        AggregateUDF::new_from_impl(LassoUdaf { function, signature })
    }
}

/// Fields of `lasso_cv`'s result struct.
pub fn fit_fields() -> Fields {
    Fields::from(vec![
        Field::new("alpha", DataType::Float64, false),
        Field::new("intercept", DataType::Float64, false),
        Field::new("coef", vectors::list_f64_type(), false),
        Field::new("n_nonzero", DataType::Int64, false),
        Field::new("cv_mse", DataType::Float64, false),
        Field::new("r2_train", DataType::Float64, false),
    ])
}

/// Fields of each per-fold struct of `lasso_cv_eval` (the paper's metrics).
pub fn fold_fields() -> Fields {
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    Fields::from(vec![
        Field::new("fold", DataType::Int64, false),
        f("alpha"),
        Field::new("n_nonzero", DataType::Int64, false),
        f("r2_train"),
        f("mae_train"),
        f("rmse_train"),
        f("r2_test"),
        f("mae_test"),
        f("rmse_test"),
        f("rho_train"),
        f("rho_test"),
    ])
}

impl AggregateUDFImpl for LassoUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let name = self.function.name();
        if !vectors::is_vector_type(&arg_types[0]) {
            return Err(call_error(name, format!("features must be a list of Float32/Float64, got {}", arg_types[0])));
        }
        if !arg_types[1].is_numeric() && arg_types[1] != DataType::Null {
            return Err(call_error(name, format!("the target must be numeric, got {}", arg_types[1])));
        }
        let string =
            |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null);
        if let Some(t) = arg_types.get(2).filter(|t| !string(t)) {
            return Err(call_error(name, format!("the options argument must be a string, got {t}")));
        }
        // The fourth: the mutant (a string, for the position schemes) or a fold label (an integer, scheme=given).
        if let Some(t) = arg_types.get(3).filter(|t| !string(t) && !t.is_integer()) {
            return Err(call_error(
                name,
                format!("the fourth argument must be the mutant (a string) or a fold label (an integer), got {t}"),
            ));
        }
        Ok(match self.function {
            LassoFunction::Fit => DataType::Struct(fit_fields()),
            LassoFunction::Eval => DataType::List(Arc::new(Field::new("item", DataType::Struct(fold_fields()), true))),
        })
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let converter = if acc_args.order_bys.is_empty() {
            None
        } else {
            let fields = acc_args
                .order_bys
                .iter()
                .map(|s| Ok(SortField::new_with_options(s.expr.data_type(acc_args.schema)?, s.options)))
                .collect::<Result<Vec<_>>>()?;
            Some(RowConverter::new(fields)?)
        };
        let fold_labels = match acc_args.exprs.get(3) {
            Some(e) => e.data_type(acc_args.schema)?.is_integer(),
            None => false,
        };
        Ok(Box::new(RowsAccumulator {
            function: self.function,
            n_args: acc_args.exprs.len(),
            fold_labels,
            converter,
            rows: Vec::new(),
            options: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, t: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::List(Arc::new(Field::new("item", t, true))),
                true,
            ))
        };
        Ok(vec![
            list("features", vectors::list_f64_type()),
            list("target", DataType::Float64),
            list("key", DataType::Binary),
            list("mutant", DataType::Utf8),
            Arc::new(Field::new(format!("{}[options]", args.name), DataType::Utf8, true)),
        ])
    }
}

/// One collected row.
#[derive(Debug, Clone)]
struct Row {
    features: Vec<f64>,
    target: f64,
    key: Vec<u8>,
    mutant: Option<String>,
}

#[derive(Debug)]
struct RowsAccumulator {
    function: LassoFunction,
    n_args: usize,
    /// The fourth argument is an integer: fold labels, which only `scheme=given` reads.
    fold_labels: bool,
    converter: Option<RowConverter>,
    rows: Vec<Row>,
    options: Option<String>,
}

impl RowsAccumulator {
    fn name(&self) -> &'static str {
        self.function.name()
    }

    fn set_options(&mut self, text: Option<String>) -> Result<()> {
        match (&self.options, text) {
            (_, None) => Ok(()),
            (None, Some(t)) => {
                self.options = Some(t);
                Ok(())
            }
            (Some(a), Some(b)) if *a == b => Ok(()),
            (Some(a), Some(b)) => {
                Err(call_error(self.name(), format!("options must be the same for every row ('{a}' vs '{b}')")))
            }
        }
    }
}

impl Accumulator for RowsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.name();
        let features = vectors::rows_f64(name, &values[0])?;
        let target = cast(&values[1], &DataType::Float64)?;
        let target = target.as_primitive::<Float64Type>();
        if let Some(opts) = values.get(2).filter(|_| self.n_args > 2) {
            for o in vectors::strings(name, opts)?.into_iter().flatten() {
                self.set_options(Some(o))?;
            }
        }
        // Kept as text: a mutant, or a fold label written in decimal.
        let mutants = match values.get(3).filter(|_| self.n_args > 3) {
            Some(m) if m.data_type().is_integer() => vectors::strings(name, &cast(m, &DataType::Utf8)?)?,
            Some(m) => vectors::strings(name, m)?,
            None => vec![None; features.len()],
        };
        let keys = match &self.converter {
            Some(c) => Some(c.convert_columns(&values[self.n_args..])?),
            None => None,
        };
        for (i, f) in features.into_iter().enumerate() {
            let Some(f) = f else { continue };
            if target.is_null(i) {
                continue;
            }
            self.rows.push(Row {
                features: f,
                target: target.value(i),
                key: keys.as_ref().map(|k| k.row(i).as_ref().to_vec()).unwrap_or_default(),
                mutant: mutants[i].clone(),
            });
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let features: Vec<Option<Vec<f64>>> = self.rows.iter().map(|r| Some(r.features.clone())).collect();
        let inner = list_of_f64_rows(self.name(), &features)?;
        let one = |values: ArrayRef, item: DataType| {
            let field = Arc::new(Field::new("item", item, true));
            ScalarValue::List(Arc::new(ListArray::new(field, OffsetBuffer::from_lengths([values.len()]), values, None)))
        };
        Ok(vec![
            one(Arc::new(inner), vectors::list_f64_type()),
            one(Arc::new(Float64Array::from_iter_values(self.rows.iter().map(|r| r.target))), DataType::Float64),
            one(Arc::new(BinaryArray::from_iter_values(self.rows.iter().map(|r| r.key.as_slice()))), DataType::Binary),
            one(Arc::new(self.rows.iter().map(|r| r.mutant.as_deref()).collect::<StringArray>()), DataType::Utf8),
            ScalarValue::Utf8(self.options.clone()),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = self.name();
        let (features, targets, keys, mutants) = (
            states[0].as_list::<i32>(),
            states[1].as_list::<i32>(),
            states[2].as_list::<i32>(),
            states[3].as_list::<i32>(),
        );
        for o in vectors::strings(name, &states[4])?.into_iter().flatten() {
            self.set_options(Some(o))?;
        }
        for s in 0..states[0].len() {
            if features.is_null(s) {
                continue;
            }
            let f = vectors::rows_f64(name, &features.value(s))?;
            let t = targets.value(s);
            let t = t.as_primitive::<Float64Type>();
            let k = keys.value(s);
            let k = k.as_binary::<i32>();
            let m = vectors::strings(name, &mutants.value(s))?;
            for (i, f) in f.into_iter().enumerate() {
                let features = f.ok_or_else(|| internal_datafusion_err!("NULL row in lasso state"))?;
                self.rows.push(Row { features, target: t.value(i), key: k.value(i).to_vec(), mutant: m[i].clone() });
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let name = self.name();
        if self.rows.is_empty() {
            return ScalarValue::try_from(match self.function {
                LassoFunction::Fit => DataType::Struct(fit_fields()),
                LassoFunction::Eval => {
                    DataType::List(Arc::new(Field::new("item", DataType::Struct(fold_fields()), true)))
                }
            });
        }
        // Stable: rows with equal keys (or no ORDER BY) keep their arrival order.
        self.rows.sort_by(|a, b| a.key.cmp(&b.key));
        let p = self.rows[0].features.len();
        let mut x = Array2::<f64>::zeros((self.rows.len(), p));
        for (i, r) in self.rows.iter().enumerate() {
            if r.features.len() != p {
                return Err(call_error(
                    name,
                    format!("row {} has {} features, the first row has {p}", i + 1, r.features.len()),
                ));
            }
            x.row_mut(i).assign(&ndarray::ArrayView1::from(&r.features));
        }
        check_finite(name, &self.rows)?;
        let y = Array1::from_iter(self.rows.iter().map(|r| r.target));
        let opts = ProtocolOptions::parse(self.options.as_deref().unwrap_or(""))
            .map_err(|source| Error::Regress { function: name, source })?;
        check_options(self.function, &opts, self.rows.len())?;
        if self.fold_labels && opts.scheme != FoldScheme::Given {
            return Err(call_error(
                name,
                "the fourth argument is an integer, a fold label: add 'scheme=given' to the options to take the \
                 folds from it (the modulo and contiguous schemes take the mutant there)",
            ));
        }
        match self.function {
            LassoFunction::Fit => fit(name, &x, &y, &opts),
            LassoFunction::Eval => {
                let positions = match opts.scheme {
                    FoldScheme::Random => None,
                    FoldScheme::Given => Some(fold_labels(name, &self.rows)?),
                    FoldScheme::Modulo | FoldScheme::Contiguous => Some(
                        self.rows
                            .iter()
                            .enumerate()
                            // Rows counted from 1, as SQL counts, in the aggregate's order.
                            .map(|(i, r)| match &r.mutant {
                                Some(m) => kfold::mutant_position(m, i + 1),
                                None => Err(esmdb_regress::Error::Mutant {
                                    row: i + 1,
                                    mutant: String::new(),
                                    reason: "the modulo/contiguous schemes need the mutant argument \
                                             (lasso_cv_eval(x, y, options, mutant))",
                                }),
                            })
                            .collect::<Result<Vec<i64>, _>>()
                            .map_err(|source| Error::Regress { function: name, source })?,
                    ),
                };
                let result = esmdb_regress::protocol::evaluate(x.view(), y.view(), positions.as_deref(), &opts)
                    .map_err(|source| Error::Regress { function: name, source })?;
                let col = |f: fn(&esmdb_regress::protocol::FoldResult) -> f64| -> ArrayRef {
                    Arc::new(Float64Array::from_iter_values(result.folds.iter().map(f)))
                };
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(Int64Array::from_iter_values(result.folds.iter().map(|f| f.fold as i64))),
                    col(|f| f.alpha),
                    Arc::new(Int64Array::from_iter_values(result.folds.iter().map(|f| f.n_nonzero as i64))),
                    col(|f| f.r2_train),
                    col(|f| f.mae_train),
                    col(|f| f.rmse_train),
                    col(|f| f.r2_test),
                    col(|f| f.mae_test),
                    col(|f| f.rmse_test),
                    col(|f| f.rho_train),
                    col(|f| f.rho_test),
                ];
                let folds = StructArray::try_new(fold_fields(), columns, None)?;
                let field = Arc::new(Field::new("item", DataType::Struct(fold_fields()), true));
                let list = ListArray::new(field, OffsetBuffer::from_lengths([folds.len()]), Arc::new(folds), None);
                Ok(ScalarValue::List(Arc::new(list)))
            }
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.rows.iter().map(|r| r.features.len() * 8 + r.key.len() + 64).sum::<usize>()
            + self.rows.capacity() * std::mem::size_of::<Row>()
    }
}

/// NaN or ±infinity in a feature or target, named by its row in the aggregate's order (1-based,
/// as SQL counts) before the solver sees it.
fn check_finite(name: &'static str, rows: &[Row]) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        if let Some((j, v)) = r.features.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(call_error(name, format!("row {}: feature {} is {v}; features must be finite", i + 1, j + 1)));
        }
        if !r.target.is_finite() {
            return Err(call_error(name, format!("row {}: the target is {}; targets must be finite", i + 1, r.target)));
        }
    }
    Ok(())
}

/// The most alphas on the LassoCV path: the solver allocates per alpha, so an unbounded count
/// (`n_alphas=1e18`) would abort on allocation rather than fail. scikit-learn's default is 100.
const MAX_ALPHAS: usize = 100_000;
/// The most coordinate-descent passes per alpha: with `tol=0` every alpha runs all of them, so an
/// unbounded count never ends. The README preset uses 10,000.
const MAX_ITER: usize = 1_000_000;

/// The fold label of every row (`scheme=given`): the fourth argument, an integer.
fn fold_labels(name: &'static str, rows: &[Row]) -> Result<Vec<i64>> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let label = r.mutant.as_deref().and_then(|m| m.parse::<i64>().ok());
            label.ok_or_else(|| {
                call_error(
                    name,
                    format!(
                        "row {}: scheme=given needs an integer fold label as the fourth argument \
                         (lasso_cv_eval(x, y, 'scheme=given', fold_modulo_5)), got {:?}",
                        i + 1,
                        r.mutant.as_deref().unwrap_or("NULL")
                    ),
                )
            })
        })
        .collect()
}

/// Bounds on the options that size the solver's work and memory, checked against the group's
/// `rows` before the regression crate allocates for them.
fn check_options(function: LassoFunction, opts: &ProtocolOptions, rows: usize) -> Result<()> {
    let name = function.name();
    let bad = |key: &str, value: usize, reason: String| {
        Err(Error::Regress {
            function: name,
            source: esmdb_regress::Error::InvalidOption { key: key.into(), value: value.to_string(), reason },
        }
        .into())
    };
    if opts.n_alphas > MAX_ALPHAS {
        return bad("n_alphas", opts.n_alphas, format!("expected at most {MAX_ALPHAS}"));
    }
    if opts.max_iter > MAX_ITER {
        return bad("max_iter", opts.max_iter, format!("expected at most {MAX_ITER}"));
    }
    // The random scheme checks this itself; the position schemes would first allocate one split
    // per fold (`folds=1e18` aborts), so every scheme is held to scikit-learn's rule here.
    if function == LassoFunction::Eval && opts.scheme != FoldScheme::Given && opts.folds > rows {
        return Err(Error::Regress {
            function: name,
            source: esmdb_regress::Error::TooFewRows {
                n_samples: rows,
                n_splits: opts.folds,
                context: "outer protocol folds",
            },
        }
        .into());
    }
    Ok(())
}

fn fit(name: &'static str, x: &Array2<f64>, y: &Array1<f64>, opts: &ProtocolOptions) -> Result<ScalarValue> {
    let model = opts
        .lasso_params()
        .fit_arrays(x.view(), y.view())
        .map_err(|source| Error::Regress { function: name, source })?;
    let pred = model.predict_checked(x.view()).map_err(|source| Error::Regress { function: name, source })?;
    let r2 = esmdb_regress::metrics::r2(&y.to_vec(), &pred.to_vec());
    let cv_mse =
        model.mse_path.rows().into_iter().map(|r| r.mean().unwrap_or(f64::INFINITY)).fold(f64::INFINITY, f64::min);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(vec![model.alpha])),
        Arc::new(Float64Array::from(vec![model.intercept])),
        Arc::new(vectors::list_f64_row(model.coef.to_vec())),
        Arc::new(Int64Array::from(vec![model.n_nonzero() as i64])),
        Arc::new(Float64Array::from(vec![cv_mse])),
        Arc::new(Float64Array::from(vec![r2])),
    ];
    Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(fit_fields(), columns, None)?)))
}

fn list_of_f64_rows(name: &'static str, rows: &[Option<Vec<f64>>]) -> Result<ListArray> {
    let offsets = vectors::offsets(name, rows.iter().map(|r| r.as_ref().map_or(0, Vec::len)))?;
    let values: Vec<f64> = rows.iter().flatten().flatten().copied().collect();
    let field = Arc::new(Field::new("item", DataType::Float64, true));
    Ok(ListArray::new(field, offsets, Arc::new(Float64Array::from(values)), None))
}
