//! Per (dataset, model, compression) summaries of the fold rows: what the paper's figures plot and
//! what `esmdb reproduce` prints, computed like pandas (`mean`, `std(ddof=1)`, NaN skipped).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::models::cmp_models;
use crate::results::{FoldRow, float, write_csv_atomic};

/// The folds of one (dataset, model, compression) reduced to the numbers the figures need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Dataset name.
    pub dataset: String,
    /// Model name (see [`crate::model_size`] for how its size is read).
    pub model: String,
    /// Pooling of the embeddings.
    pub compression: String,
    /// Fold rows that went in.
    pub folds: usize,
    /// Mean test R² over the folds whose R² is not NaN (NaN if none).
    pub r2_test_mean: f64,
    /// Sample standard deviation (ddof = 1, as pandas) of the test R²; NaN below two values.
    pub r2_test_sd: f64,
    /// Mean test Spearman ρ, NaN skipped.
    pub rho_test_mean: f64,
}

/// How zero-shot rows are tagged in `Compression_method`: `zero-shot(<method>)` for the LM head's
/// score alone (one row per dataset and model, `Fold` 0 = every variant: nothing is trained), and
/// `<compression>+zero-shot(<method>)` for the augmented model (embedding plus score, fitted under
/// the paper's protocol).
pub const ZERO_SHOT: &str = "zero-shot";

/// Columns of [`write_summary_csv`].
pub const SUMMARY_COLUMNS: [&str; 7] =
    ["dataset", "model", "compression", "folds", "r2_test_mean", "r2_test_sd", "rho_test_mean"];

/// Groups rows by (dataset, model, compression); the result is sorted by dataset, then model size
/// (models without a readable size last), model name and compression.
pub fn summarize(rows: &[FoldRow]) -> Vec<Summary> {
    let mut groups: HashMap<(&str, &str, &str), Vec<&FoldRow>> = HashMap::new();
    for row in rows {
        groups.entry((&row.dataset, &row.model, &row.compression)).or_default().push(row);
    }
    let mut out: Vec<Summary> = groups
        .into_iter()
        .map(|((dataset, model, compression), rows)| {
            let r2: Vec<f64> = rows.iter().map(|r| r.r2_test).collect();
            let rho: Vec<f64> = rows.iter().map(|r| r.rho_test).collect();
            let (r2_test_mean, r2_test_sd) = mean_sd(&r2);
            Summary {
                dataset: dataset.into(),
                model: model.into(),
                compression: compression.into(),
                folds: rows.len(),
                r2_test_mean,
                r2_test_sd,
                rho_test_mean: mean_sd(&rho).0,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.dataset
            .cmp(&b.dataset)
            .then_with(|| cmp_models(&a.model, &b.model))
            .then_with(|| a.compression.cmp(&b.compression))
    });
    out
}

/// Mean and sample sd (ddof = 1) of the non-NaN values.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n;
    let sd =
        if v.len() < 2 { f64::NAN } else { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() };
    (mean, sd)
}

/// Writes summaries as CSV with [`SUMMARY_COLUMNS`], atomically like the results file.
pub fn write_summary_csv(summaries: &[Summary], path: impl AsRef<Path>) -> Result<()> {
    let records = summaries.iter().map(|s| {
        vec![
            s.dataset.clone(),
            s.model.clone(),
            s.compression.clone(),
            s.folds.to_string(),
            float(s.r2_test_mean),
            float(s.r2_test_sd),
            float(s.rho_test_mean),
        ]
    });
    write_csv_atomic(path.as_ref(), &SUMMARY_COLUMNS, records)
}

/// A fixed-width table for the terminal: `dataset | model | compression | R² test (mean ± sd)`,
/// three decimals, `n/a` for a missing sd (one fold). Widths count characters, not bytes.
pub fn summary_table(summaries: &[Summary]) -> String {
    let header = ["dataset", "model", "compression", "R² test (mean ± sd)"];
    let rows: Vec<[String; 4]> = summaries
        .iter()
        .map(|s| {
            let sd = if s.r2_test_sd.is_nan() { "n/a".to_string() } else { format!("{:.3}", s.r2_test_sd) };
            let mean = format!("{:>6.3}", s.r2_test_mean).replace("-0.000", " 0.000");
            [s.dataset.clone(), s.model.clone(), s.compression.clone(), format!("{mean} ± {sd}")]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join(" | ").trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    out += &(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-") + "\n");
    for row in &rows {
        out += &line([&row[0], &row[1], &row[2], &row[3]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_is_sample_sd_and_skips_nan() {
        let (m, sd) = mean_sd(&[1.0, 2.0, f64::NAN, 4.0]);
        assert!((m - 7.0 / 3.0).abs() < 1e-15);
        assert!((sd - (7.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!(mean_sd(&[0.5]).1.is_nan());
        assert!(mean_sd(&[]).0.is_nan());
    }
}
