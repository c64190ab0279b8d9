//! Per-fold result rows: one fit through SQL, and the one conversion from a table of
//! `lasso_cv_eval`'s fields to the report's [`FoldRow`]s (used by `reproduce` and the notebooks).
use esmdb_report::FoldRow;
use esmdb_sql::Session;
use esmdb_sql::datafusion::arrow::array::{Array, AsArray};
use esmdb_sql::datafusion::arrow::compute::cast;
use esmdb_sql::datafusion::arrow::datatypes::{DataType, Float64Type};
use esmdb_sql::datafusion::arrow::record_batch::RecordBatch;

use esmdb_model::ScoreMethod;

use crate::compression::Compression;
use crate::error::{Error, Result};

/// `lasso_cv_eval`'s numeric fields, as columns of a per-fold table.
const NUMERIC: [&str; 10] = [
    "fold",
    "r2_train",
    "mae_train",
    "rmse_train",
    "r2_test",
    "mae_test",
    "rmse_test",
    "rho_train",
    "rho_test",
    "n_nonzero",
];

/// Labels for the rows of a table that lacks the `dataset`, `model` or `compression` column.
#[derive(Debug, Clone, Default)]
pub struct FoldDefaults {
    /// Dataset label.
    pub dataset: String,
    /// Model label (a short name, see `esmdb_model::short_name`).
    pub model: String,
    /// Compression label (SWAT's name).
    pub compression: String,
}

/// Per-fold rows from batches with `lasso_cv_eval`'s fields as columns: `fold` and `r2_test` are
/// required; any of `r2_train`, `mae_*`, `rmse_*`, `rho_*`, `n_nonzero` (missing: NaN, or 0 for
/// `n_nonzero`) and `dataset`, `model`, `compression` (missing: `defaults`) are read when present.
pub fn fold_rows(batches: &[RecordBatch], defaults: &FoldDefaults) -> Result<Vec<FoldRow>> {
    let mut rows = Vec::new();
    for batch in batches {
        let has = |name: &str| batch.schema().index_of(name).is_ok();
        if !(has("fold") && has("r2_test")) {
            let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
            return Err(Error::Folds(format!(
                "per-fold rows need the columns `fold` and `r2_test` (lasso_cv_eval's fields); the table has {}",
                names.join(", ")
            )));
        }
        let n = batch.num_rows();
        let num = |name: &str| -> Result<Vec<f64>> {
            let Ok(i) = batch.schema().index_of(name) else { return Ok(vec![f64::NAN; n]) };
            let col = cast(batch.column(i), &DataType::Float64)
                .map_err(|e| Error::Folds(format!("column `{name}` is not numeric: {e}")))?;
            let col = col.as_primitive::<Float64Type>();
            Ok((0..n).map(|r| if col.is_null(r) { f64::NAN } else { col.value(r) }).collect())
        };
        let text = |name: &str, default: &str| -> Result<Vec<String>> {
            let Ok(i) = batch.schema().index_of(name) else { return Ok(vec![default.to_owned(); n]) };
            let col = cast(batch.column(i), &DataType::Utf8)
                .map_err(|e| Error::Folds(format!("column `{name}` is not text: {e}")))?;
            let col = col.as_string::<i32>();
            Ok((0..n).map(|r| if col.is_null(r) { default.to_owned() } else { col.value(r).to_owned() }).collect())
        };
        let v: Vec<Vec<f64>> = NUMERIC.iter().map(|c| num(c)).collect::<Result<_>>()?;
        let (datasets, models, compressions) = (
            text("dataset", &defaults.dataset)?,
            text("model", &defaults.model)?,
            text("compression", &defaults.compression)?,
        );
        for r in 0..n {
            if v[0][r].is_nan() {
                return Err(Error::Folds(format!("row {}: `fold` is NULL", rows.len() + 1)));
            }
            rows.push(FoldRow {
                model: models[r].clone(),
                fold: v[0][r] as i64,
                r2_train: v[1][r],
                mae_train: v[2][r],
                rmse_train: v[3][r],
                r2_test: v[4][r],
                mae_test: v[5][r],
                rmse_test: v[6][r],
                rho_train: v[7][r],
                rho_test: v[8][r],
                n_nonzero: if v[9][r].is_finite() { v[9][r] as i64 } else { 0 },
                compression: compressions[r].clone(),
                dataset: datasets[r].clone(),
            });
        }
    }
    Ok(rows)
}

/// One dataset × model × compression through SQL, under the paper's LassoCV `protocol`
/// (`lasso_cv_eval`'s options string). Rows are labelled with the model's short name.
pub async fn fit(
    session: &Session,
    dataset: &str,
    model: &str,
    layer: i32,
    compression: Compression,
    protocol: &str,
) -> Result<Vec<FoldRow>> {
    let features = compression.sql(&embed_sql(model, layer));
    fit_features(session, dataset, model, &features, compression.name(), protocol).await
}

/// The augmented model: `compression`'s features with the zero-shot score appended
/// (`concat_features`), fitted under the same protocol; labelled `<compression>+zero-shot(<method>)`.
pub async fn fit_augmented(
    session: &Session,
    dataset: &str,
    model: &str,
    layer: i32,
    compression: Compression,
    method: ScoreMethod,
    protocol: &str,
) -> Result<Vec<FoldRow>> {
    let features =
        format!("concat_features({}, {})", compression.sql(&embed_sql(model, layer)), score_sql(model, method));
    let label = format!("{}+{}", compression.name(), zero_shot_label(method));
    fit_features(session, dataset, model, &features, &label, protocol).await
}

/// The zero-shot score alone: Spearman's ρ of `esm_score` and the target over every variant of
/// `dataset` with a target, as one row (`Fold` 0: nothing is trained, so there are no folds; R²
/// and the other fit metrics are NaN), labelled `zero-shot(<method>)`.
pub async fn zero_shot(session: &Session, dataset: &str, model: &str, method: ScoreMethod) -> Result<FoldRow> {
    let sql = format!(
        "SELECT spearman({}, target) AS rho FROM variants WHERE dataset = {} AND target IS NOT NULL",
        score_sql(model, method),
        esmdb_sql::quote(dataset)
    );
    let failed = |source| Error::Fit { dataset: dataset.to_owned(), model: model.to_owned(), source };
    let batches = session.sql(&sql).await.map_err(failed)?.collect().await.map_err(failed)?;
    let rho = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| cast(b.column(0), &DataType::Float64).ok())
        .and_then(|c| {
            let c = c.as_primitive::<Float64Type>();
            (!c.is_null(0)).then(|| c.value(0))
        })
        .ok_or_else(|| Error::NoFolds { dataset: dataset.to_owned(), model: model.to_owned() })?;
    Ok(FoldRow {
        model: esmdb_model::short_name(model),
        fold: 0,
        r2_train: f64::NAN,
        mae_train: f64::NAN,
        rmse_train: f64::NAN,
        r2_test: f64::NAN,
        mae_test: f64::NAN,
        rmse_test: f64::NAN,
        rho_train: f64::NAN,
        rho_test: rho,
        n_nonzero: 0,
        compression: zero_shot_label(method),
        dataset: dataset.to_owned(),
    })
}

/// `zero-shot(<method>)`, as `Compression_method` tags zero-shot rows.
pub fn zero_shot_label(method: ScoreMethod) -> String {
    format!("{}({method})", esmdb_report::ZERO_SHOT)
}

fn embed_sql(model: &str, layer: i32) -> String {
    format!("esm2_embed(sequence, {}, {layer})", esmdb_sql::quote(model))
}

fn score_sql(model: &str, method: ScoreMethod) -> String {
    let q = esmdb_sql::quote;
    format!("esm_score(sequence, mutant, {}, {})", q(method.name()), q(model))
}

/// Fits `features` (an SQL expression over `variants`) against `target` under `protocol`.
async fn fit_features(
    session: &Session,
    dataset: &str,
    model: &str,
    features: &str,
    label: &str,
    protocol: &str,
) -> Result<Vec<FoldRow>> {
    let q = esmdb_sql::quote;
    let fields: Vec<String> = NUMERIC.iter().map(|c| format!("r['{c}'] AS {c}")).collect();
    let sql = format!(
        "SELECT {} FROM (SELECT unnest(lasso_cv_eval({features}, target, {} ORDER BY input_row)) AS r \
         FROM variants WHERE dataset = {}) ORDER BY fold",
        fields.join(", "),
        q(protocol),
        q(dataset)
    );
    let failed = |source| Error::Fit { dataset: dataset.to_owned(), model: model.to_owned(), source };
    let batches = session.sql(&sql).await.map_err(failed)?.collect().await.map_err(failed)?;
    // A dataset without targets aggregates to one NULL row.
    let no_folds = || Error::NoFolds { dataset: dataset.to_owned(), model: model.to_owned() };
    if batches.iter().all(|b| b.num_rows() == 0) || batches.iter().any(|b| b.column(0).null_count() > 0) {
        return Err(no_folds());
    }
    let defaults = FoldDefaults {
        dataset: dataset.to_owned(),
        model: esmdb_model::short_name(model),
        compression: label.to_owned(),
    };
    fold_rows(&batches, &defaults)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use esmdb_sql::datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn rows_read_by_name_with_defaults() {
        let b = batch(vec![
            ("dataset", Arc::new(StringArray::from(vec!["A", "A"])) as ArrayRef),
            ("fold", Arc::new(Int64Array::from(vec![1, 2]))),
            ("r2_test", Arc::new(Float64Array::from(vec![0.5, 0.25]))),
            ("n_nonzero", Arc::new(Int64Array::from(vec![Some(3), None]))),
        ]);
        let d = FoldDefaults { dataset: "D".into(), model: "m".into(), compression: "mean".into() };
        let rows = fold_rows(&[b], &d).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].dataset.as_str(), rows[1].fold, rows[1].r2_test), ("A", 2, 0.25));
        assert_eq!((rows[0].model.as_str(), rows[0].compression.as_str()), ("m", "mean"));
        assert!(rows[0].rho_test.is_nan() && rows[0].n_nonzero == 3 && rows[1].n_nonzero == 0);
    }

    #[test]
    fn missing_required_columns_are_named() {
        let b = batch(vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]);
        let err = fold_rows(&[b], &FoldDefaults::default()).unwrap_err().to_string();
        assert!(err.contains("need the columns `fold` and `r2_test`") && err.contains("has x"), "{err}");
        let b = batch(vec![
            ("fold", Arc::new(StringArray::from(vec!["one"])) as ArrayRef),
            ("r2_test", Arc::new(Float64Array::from(vec![0.5]))),
        ]);
        let err = fold_rows(&[b], &FoldDefaults::default()).unwrap_err().to_string();
        assert!(err.contains("`fold`"), "{err}");
    }
}
