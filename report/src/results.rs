//! Fold-level results in the paper's CSV layout (`DMS_lassoCV_results.csv` of ziul-bio/SWAT), so our
//! files and the published one go through the same reader and can be compared row for row.

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::{model_size, paper_columns};

/// One outer fold of one (dataset, model, compression): the metrics `scripts/reg_LassoCV.py`
/// reports. Field names are ours; the CSV columns are [`RESULTS_COLUMNS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldRow {
    /// Model name, e.g. `esm2_t6_8M_UR50D` (paper rows: see [`paper_model_name`]).
    pub model: String,
    /// Outer fold, 1-based as in the paper.
    pub fold: i64,
    /// R² on the training part.
    pub r2_train: f64,
    /// Mean absolute error on the training part.
    pub mae_train: f64,
    /// Root mean squared error on the training part.
    pub rmse_train: f64,
    /// R² on the test part.
    pub r2_test: f64,
    /// Mean absolute error on the test part.
    pub mae_test: f64,
    /// Root mean squared error on the test part.
    pub rmse_test: f64,
    /// Spearman ρ on the training part (NaN where the paper's file is empty).
    pub rho_train: f64,
    /// Spearman ρ on the test part.
    pub rho_test: f64,
    /// Nonzero Lasso coefficients.
    pub n_nonzero: i64,
    /// How per-residue embeddings were pooled (`mean`, `bos`, …).
    pub compression: String,
    /// Dataset name, e.g. `YAP1_HUMAN_Fields2012_singles`.
    pub dataset: String,
}

/// The columns we write: the paper's, in its order and spelling (`nun_zero_coefs` included), with
/// `Model` the family and `ModelSize` the size as the paper writes them ([`paper_columns`]:
/// `esmc` / `300M`), then `Model_Name`, ours, for the exact model (`esmc_300m`, a checkpoint's
/// directory name), which the paper's table has no column for.
pub const RESULTS_COLUMNS: [&str; 15] = [
    "Model",
    "Fold",
    "R2_score_train",
    "MAE_score_train",
    "RMSE_score_train",
    "R2_score_test",
    "MAE_score_test",
    "RMSE_score_test",
    "rho_score_train",
    "rho_score_test",
    "nun_zero_coefs",
    "Compression_method",
    "Dataset",
    "ModelSize",
    "Model_Name",
];

/// The columns a results file must have: the first 13 of [`RESULTS_COLUMNS`], which the paper's
/// file and ours both carry.
const REQUIRED: usize = 13;

/// Writes `rows` with exactly [`RESULTS_COLUMNS`] as header. The file appears whole or not at all
/// (temporary file in the same directory, then rename), so an interrupted run never leaves half a
/// results file that a later `reproduce` would take as done. Floats are written round-trip exact.
pub fn write_results_csv(rows: &[FoldRow], path: impl AsRef<Path>) -> Result<()> {
    let records = rows.iter().map(|r| {
        let (family, size) = paper_columns(&r.model);
        vec![
            family,
            r.fold.to_string(),
            float(r.r2_train),
            float(r.mae_train),
            float(r.rmse_train),
            float(r.r2_test),
            float(r.mae_test),
            float(r.rmse_test),
            float(r.rho_train),
            float(r.rho_test),
            r.n_nonzero.to_string(),
            r.compression.clone(),
            r.dataset.clone(),
            size,
            r.model.clone(),
        ]
    });
    write_csv_atomic(path.as_ref(), &RESULTS_COLUMNS, records)
}

/// Reads a results CSV: ours, or the paper's `DMS_lassoCV_results.csv`, which adds an unnamed index
/// column and `Dataset_Name`, `parameters`, … (ignored). Each row's model is `Model_Name` where that
/// column is filled (our files), else `Model` + `ModelSize` turned into our name by
/// [`paper_model_name`] (`esm2` + `8M` → `esm2_t6_8M_UR50D`), else `Model` (files written before
/// `Model_Name` existed). Columns are found by name, in any order; an empty or `NaN` metric reads
/// as NaN (the paper has two empty ρ fields).
pub fn read_results_csv(path: impl AsRef<Path>) -> Result<Vec<FoldRow>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let mut reader = csv::ReaderBuilder::new().from_reader(file);
    let csv_err =
        |source: csv::Error| Error::Csv { path: path.into(), line: source.position().map_or(0, |p| p.line()), source };
    let header = reader.headers().map_err(csv_err)?.clone();
    let header_line = header.position().map_or(1, |p| p.line());
    let mut idx = [0usize; REQUIRED];
    for (slot, column) in idx.iter_mut().zip(RESULTS_COLUMNS) {
        *slot = header.iter().position(|h| h == column).ok_or_else(|| Error::MissingColumn {
            path: path.into(),
            line: header_line,
            column,
            found: header.iter().collect::<Vec<_>>().join(","),
        })?;
    }
    let column = |name: &str| header.iter().position(|h| h == name);
    let (size_col, name_col) = (column("ModelSize"), column("Model_Name"));

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(idx[i]).unwrap_or("");
        let num = |i: usize| parse_float(field(i)).ok_or_else(|| bad(path, line, i, field(i), "a number"));
        let int = |i: usize| parse_int(field(i)).ok_or_else(|| bad(path, line, i, field(i), "an integer"));
        let cell = |col: Option<usize>| col.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty());
        let model = match (cell(name_col), cell(size_col)) {
            (Some(name), _) => name.to_string(),
            (None, Some(size)) => paper_model_name(field(0), size),
            (None, None) => field(0).to_string(),
        };
        rows.push(FoldRow {
            model,
            fold: int(1)?,
            r2_train: num(2)?,
            mae_train: num(3)?,
            rmse_train: num(4)?,
            r2_test: num(5)?,
            mae_test: num(6)?,
            rmse_test: num(7)?,
            rho_train: num(8)?,
            rho_test: num(9)?,
            n_nonzero: int(10)?,
            compression: field(11).to_string(),
            dataset: field(12).to_string(),
        });
    }
    Ok(rows)
}

/// Our name for a model of the paper's file, given its `Model` and `ModelSize` columns: ESM2 gets
/// its fair-esm / Hugging Face name (`esm2` + `8M` → `esm2_t6_8M_UR50D`, 35M → `esm2_t12_35M_UR50D`,
/// 150M → `esm2_t30_150M_UR50D`, 650M → `esm2_t33_650M_UR50D`, 3B → `esm2_t36_3B_UR50D`, 15B →
/// `esm2_t48_15B_UR50D`); names that already fix the size stay (`esm1v`); other families get the
/// size appended (`esmc` + `300M` → `esmc_300M`, `amplify_120M`).
pub fn paper_model_name(model: &str, size: &str) -> String {
    let esm2 = match size {
        "8M" => Some("esm2_t6_8M_UR50D"),
        "35M" => Some("esm2_t12_35M_UR50D"),
        "150M" => Some("esm2_t30_150M_UR50D"),
        "650M" => Some("esm2_t33_650M_UR50D"),
        "3B" => Some("esm2_t36_3B_UR50D"),
        "15B" => Some("esm2_t48_15B_UR50D"),
        _ => None,
    };
    match (model, esm2) {
        ("esm2", Some(name)) => name.to_string(),
        _ if size.is_empty() || model_size(model).is_some() => model.to_string(),
        _ => format!("{model}_{size}"),
    }
}

fn bad(path: &Path, line: u64, column: usize, value: &str, expected: &'static str) -> Error {
    Error::Value { path: path.into(), line, column: RESULTS_COLUMNS[column], value: value.into(), expected }
}

fn parse_float(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() { Some(f64::NAN) } else { s.parse().ok() }
}

/// Integers; `5.0` too, as pandas writes an integer column that once held a NaN.
fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    s.parse().ok().or_else(|| {
        let v: f64 = s.parse().ok()?;
        (v.fract() == 0.0 && v.abs() < 9e15).then_some(v as i64)
    })
}

/// Shortest text that parses back to the same `f64` (`NaN`, `inf` as pandas reads them).
pub(crate) fn float(v: f64) -> String {
    format!("{v:?}")
}

/// Writes a CSV all at once: a temporary file beside `path`, synced, then renamed over it.
pub(crate) fn write_csv_atomic<I>(path: &Path, header: &[&str], records: I) -> Result<()>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let io = |source| Error::Io { path: path.into(), source };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new().prefix(".esmdb-report-").suffix(".tmp").tempfile_in(dir).map_err(io)?;
    {
        let mut writer = csv::Writer::from_writer(tmp.as_file());
        let csv_err = |line: usize, source| Error::Csv { path: path.into(), line: line as u64, source };
        writer.write_record(header).map_err(|e| csv_err(1, e))?;
        for (i, record) in records.into_iter().enumerate() {
            writer.write_record(&record).map_err(|e| csv_err(i + 2, e))?;
        }
        writer.flush().map_err(io)?;
    }
    // tempfile creates 0600; results are meant to be shared like any other output.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_names_map_to_ours() {
        assert_eq!(paper_model_name("esm2", "8M"), "esm2_t6_8M_UR50D");
        assert_eq!(paper_model_name("esm2", "15B"), "esm2_t48_15B_UR50D");
        assert_eq!(paper_model_name("esm2", "1B"), "esm2_1B");
        assert_eq!(paper_model_name("esm1v", "650M"), "esm1v");
        assert_eq!(paper_model_name("esmc", "300M"), "esmc_300M");
        assert_eq!(paper_model_name("amplify", "120M"), "amplify_120M");
        assert_eq!(paper_model_name("esm2_t6_8M_UR50D", "8M"), "esm2_t6_8M_UR50D");
    }

    #[test]
    fn numbers_parse_like_pandas_writes_them() {
        assert!(parse_float("").is_some_and(f64::is_nan));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("-6.661338147750939e-16"), Some(-6.661338147750939e-16));
        assert_eq!(parse_int("187"), Some(187));
        assert_eq!(parse_int("187.0"), Some(187));
        assert_eq!(parse_int("187.5"), None);
        assert_eq!(parse_float(&float(0.1 + 0.2)), Some(0.1 + 0.2));
        assert_eq!(float(f64::NAN), "NaN");
    }
}
