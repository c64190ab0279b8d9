//! A repair of DataFusion 54's aggregate plans over async functions, so they survive serialization.
//!
//! When an aggregate's argument calls an async function (`lasso_cv_eval(compress_mean(esm2_embed(…)))`),
//! the planner computes it in an `AsyncFuncExec` below the aggregate and points the argument at the
//! new column (`__async_fn_0`, past the table's columns) — but keeps the table's schema as the
//! aggregate's `input_schema`. In one process nothing reads that schema again. datafusion-proto,
//! however, decodes the arguments against it, and an executor fails with "Column references column
//! '__async_fn_0' at index 4 but input schema only has 4 columns". This rule, run last on the
//! scheduler, gives such aggregates (partial and final) the schema that has the async columns.
use std::sync::Arc;

use esmdb_sql::datafusion::arrow::datatypes::SchemaRef;
use esmdb_sql::datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use esmdb_sql::datafusion::config::ConfigOptions;
use esmdb_sql::datafusion::error::Result;
use esmdb_sql::datafusion::physical_expr::PhysicalExpr;
use esmdb_sql::datafusion::physical_expr::expressions::Column;
use esmdb_sql::datafusion::physical_optimizer::PhysicalOptimizerRule;
use esmdb_sql::datafusion::physical_plan::ExecutionPlan;
use esmdb_sql::datafusion::physical_plan::aggregates::AggregateExec;
use esmdb_sql::datafusion::physical_plan::async_func::AsyncFuncExec;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct AsyncAggregateSchema;

impl PhysicalOptimizerRule for AsyncAggregateSchema {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(agg) = node.downcast_ref::<AggregateExec>() else { return Ok(Transformed::no(node)) };
            let Some(schema) = widened_input_schema(agg) else { return Ok(Transformed::no(node)) };
            let fixed = AggregateExec::try_new(
                *agg.mode(),
                agg.group_expr().clone(),
                agg.aggr_expr().to_vec(),
                agg.filter_expr().to_vec(),
                Arc::clone(agg.input()),
                schema,
            )?
            .with_limit_options(agg.limit_options());
            Ok(Transformed::yes(Arc::new(fixed) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "esmdb_async_aggregate_schema"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The schema `agg` should record as its input's, when its arguments reach past the one it has: that
/// of the `AsyncFuncExec` below it, or of the (already repaired) partial aggregate below a final one.
fn widened_input_schema(agg: &AggregateExec) -> Option<SchemaRef> {
    let mut exprs: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
    for f in agg.aggr_expr() {
        exprs.extend(f.expressions());
        exprs.extend(f.order_bys().iter().map(|s| Arc::clone(&s.expr)));
    }
    exprs.extend(agg.filter_expr().iter().flatten().cloned());
    let needed = exprs.iter().filter_map(max_column).max()? + 1;
    if needed <= agg.input_schema().fields().len() {
        return None;
    }
    let mut node = Arc::clone(agg.input());
    loop {
        if node.downcast_ref::<AsyncFuncExec>().is_some() {
            return Some(node.schema()).filter(|s| s.fields().len() >= needed);
        }
        if let Some(partial) = node.downcast_ref::<AggregateExec>() {
            return Some(partial.input_schema()).filter(|s| s.fields().len() >= needed);
        }
        match node.children().as_slice() {
            [only] => node = Arc::clone(only),
            _ => return None,
        }
    }
}

fn max_column(expr: &Arc<dyn PhysicalExpr>) -> Option<usize> {
    let mut max = None;
    let _ = expr.apply(|e| {
        if let Some(c) = e.downcast_ref::<Column>() {
            max = max.max(Some(c.index()));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    max
}
