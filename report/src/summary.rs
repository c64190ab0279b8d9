//! Per (dataset, model, compression) summaries of the fold rows: what the paper's figures plot and
//! what `esmdb reproduce` prints, computed like pandas (`mean`, `std(ddof=1)`, NaN skipped).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::results::{FoldRow, float, write_csv_atomic};

/// The folds of one (dataset, model, compression) reduced to the numbers the figures need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Dataset name.
    pub dataset: String,
    /// Model name (see [`model_size`] for how its size is read).
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

/// Orders model names by parameter count, unknown sizes last, then by name.
pub(crate) fn cmp_models(a: &str, b: &str) -> Ordering {
    match (model_size(a), model_size(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.cmp(b))
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

/// Parameters of a model from its name: the first `_`/`-`-separated token that is a number with a
/// K/M/B/T suffix (`esm2_t33_650M_UR50D` → 6.5e8, `esm2_t48_15B_UR50D` → 1.5e10, `esmc_300m` → 3e8).
/// A directory path counts by its last component, a `.pt`/`.safetensors` extension and an
/// `@checksum` (store model ids) are ignored; `esm1v`/`esm1b` are 650M. `None` when there is no size.
pub fn model_size(name: &str) -> Option<f64> {
    let trimmed = name.trim().trim_end_matches(['/', '\\']);
    let last = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    let last = last.split('@').next().unwrap_or(last);
    let stem = match last.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().all(|c| c.is_ascii_alphabetic()) => stem,
        _ => last,
    };
    let from_token = stem.split(['_', '-', '+', ' ']).find_map(size_token);
    from_token.or_else(|| {
        let family = stem.split(['_', '-']).next().unwrap_or(stem).to_ascii_lowercase();
        matches!(family.as_str(), "esm1v" | "esm1b").then_some(650e6)
    })
}

fn size_token(token: &str) -> Option<f64> {
    let (number, suffix) = token.split_at(token.len().checked_sub(1)?);
    let scale = match suffix {
        "K" | "k" => 1e3,
        "M" | "m" => 1e6,
        "B" | "b" | "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    let well_formed = number.starts_with(|c: char| c.is_ascii_digit())
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.matches('.').count() <= 1;
    if !well_formed {
        return None;
    }
    number.parse::<f64>().ok().map(|v| v * scale)
}

/// `8e6` → `8M`, `6.5e8` → `650M`, `1.5e9` → `1.5B`: the labels of the paper's x axis.
pub fn format_size(params: f64) -> String {
    let (value, unit) = match params.abs() {
        p if p >= 1e12 => (params / 1e12, "T"),
        p if p >= 1e9 => (params / 1e9, "B"),
        p if p >= 1e6 => (params / 1e6, "M"),
        p if p >= 1e3 => (params / 1e3, "K"),
        _ => (params, ""),
    };
    let text = format!("{value:.1}");
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_from_names() {
        assert_eq!(model_size("esm2_t6_8M_UR50D"), Some(8e6));
        assert_eq!(model_size("esm2_t12_35M_UR50D"), Some(35e6));
        assert_eq!(model_size("esm2_t30_150M_UR50D.pt"), Some(150e6));
        assert_eq!(model_size("esm2_t33_650M_UR50D"), Some(650e6));
        assert_eq!(model_size("esm2_t36_3B_UR50D"), Some(3e9));
        assert_eq!(model_size("esm2_t48_15B_UR50D"), Some(15e9));
        assert_eq!(model_size("/models/esm2_t33_650M_UR50D/"), Some(650e6));
        assert_eq!(model_size("hub/models--facebook--esm2_t6_8M_UR50D"), Some(8e6));
        assert_eq!(model_size("esm2_t6_8M_UR50D@3f9a2b+bf16"), Some(8e6));
        assert_eq!(model_size("esmc_300M"), Some(300e6));
        assert_eq!(model_size("esmc_300m"), Some(300e6));
        assert_eq!(model_size("amplify_120M"), Some(120e6));
        assert_eq!(model_size("esm1v"), Some(650e6));
        assert_eq!(model_size("esm_1.5B"), Some(1.5e9));
        assert_eq!(model_size("esm2"), None);
        assert_eq!(model_size("ridge"), None);
        assert_eq!(model_size(""), None);
    }

    #[test]
    fn sizes_format_back() {
        assert_eq!(format_size(8e6), "8M");
        assert_eq!(format_size(650e6), "650M");
        assert_eq!(format_size(1.5e9), "1.5B");
        assert_eq!(format_size(15e9), "15B");
    }

    #[test]
    fn sd_is_sample_sd_and_skips_nan() {
        let (m, sd) = mean_sd(&[1.0, 2.0, f64::NAN, 4.0]);
        assert!((m - 7.0 / 3.0).abs() < 1e-15);
        assert!((sd - (7.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!(mean_sd(&[0.5]).1.is_nan());
        assert!(mean_sd(&[]).0.is_nan());
    }

    #[test]
    fn models_sort_by_size_then_name() {
        let mut names = vec!["esm2_t33_650M_UR50D", "x", "esm2_t6_8M_UR50D", "esm1v", "esm2_t36_3B_UR50D"];
        names.sort_by(|a, b| cmp_models(a, b));
        assert_eq!(names, ["esm2_t6_8M_UR50D", "esm1v", "esm2_t33_650M_UR50D", "esm2_t36_3B_UR50D", "x"]);
    }
}
