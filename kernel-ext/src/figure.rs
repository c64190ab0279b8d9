//! Figures inline: [`Figure`] (an SVG shown as `image/svg+xml`), per-fold rows ([`FoldRow`]) and the helpers
//! that turn them into `esmdb-report`'s plots and summaries (drawn in the kernel library, so notebook figures
//! and `esmdb reproduce`'s are the same pictures).
use std::path::Path;

use crate::display::emit;
use crate::error::{Error, Result};
use crate::library::call;
use crate::model::ModelChoice;
use crate::table::Table;
use crate::wire::Value;

/// An SVG figure, shown inline.
#[derive(Debug, Clone)]
pub struct Figure {
    svg: String,
}

impl Figure {
    /// Wraps SVG text.
    pub fn from_svg(svg: impl Into<String>) -> Self {
        Figure { svg: svg.into() }
    }

    pub(crate) fn from_reply(value: Value) -> Result<Figure> {
        Ok(Figure { svg: value.into_string()? })
    }

    /// The SVG text.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// PNG bytes (rendered with the font embedded in `esmdb-report`).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        Ok(call("svg_to_png", vec![Value::Str(self.svg.clone())])?.into_bytes()?)
    }

    /// Writes the figure to `path`: PNG for a `.png` name, SVG otherwise.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_to(path.as_ref())
    }

    fn save_to(&self, path: &Path) -> Result<()> {
        let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        let bytes = if png { self.to_png()? } else { self.svg.clone().into_bytes() };
        std::fs::write(path, bytes).map_err(|e| Error::msg(format!("writing {}: {e}", path.display())))
    }

    /// Shows the figure (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        let text = format!("Figure (SVG, {} bytes)", self.svg.len());
        emit(&[("image/svg+xml", &self.svg), ("text/plain", &text)]);
    }
}

/// One outer fold of the paper's protocol for one dataset, model and compression (`esmdb-report`'s row, as
/// `results.csv` has it).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldRow {
    /// Model name, e.g. `esm2_t6_8M_UR50D`.
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
    /// Spearman ρ on the training part.
    pub rho_train: f64,
    /// Spearman ρ on the test part.
    pub rho_test: f64,
    /// Nonzero Lasso coefficients.
    pub n_nonzero: i64,
    /// How per-residue embeddings were pooled (`mean`, `bos`, …).
    pub compression: String,
    /// Dataset name.
    pub dataset: String,
}

/// The row's wire encoding, the one codec both sides of the C ABI use (`esmdb-kernel-lib` encodes
/// its rows with these too): the fields in declaration order.
impl FoldRow {
    /// The row as a wire value.
    #[doc(hidden)]
    pub fn to_value(&self) -> Value {
        Value::List(vec![
            Value::Str(self.model.clone()),
            Value::I64(self.fold),
            Value::F64(self.r2_train),
            Value::F64(self.mae_train),
            Value::F64(self.rmse_train),
            Value::F64(self.r2_test),
            Value::F64(self.mae_test),
            Value::F64(self.rmse_test),
            Value::F64(self.rho_train),
            Value::F64(self.rho_test),
            Value::I64(self.n_nonzero),
            Value::Str(self.compression.clone()),
            Value::Str(self.dataset.clone()),
        ])
    }

    /// The row from a wire value, refusing any other shape.
    #[doc(hidden)]
    pub fn from_value(value: Value) -> Result<FoldRow> {
        let f = value.into_list()?;
        if f.len() != 13 {
            return Err(Error::msg(format!("a fold row has 13 fields, the library sent {}", f.len())));
        }
        Ok(FoldRow {
            model: f[0].as_str()?.to_owned(),
            fold: f[1].as_i64()?,
            r2_train: f[2].as_f64()?,
            mae_train: f[3].as_f64()?,
            rmse_train: f[4].as_f64()?,
            r2_test: f[5].as_f64()?,
            mae_test: f[6].as_f64()?,
            rmse_test: f[7].as_f64()?,
            rho_train: f[8].as_f64()?,
            rho_test: f[9].as_f64()?,
            n_nonzero: f[10].as_i64()?,
            compression: f[11].as_str()?.to_owned(),
            dataset: f[12].as_str()?.to_owned(),
        })
    }
}

fn rows_arg(rows: &[FoldRow]) -> Value {
    Value::List(rows.iter().map(FoldRow::to_value).collect())
}

/// Per-fold rows from a table with `lasso_cv_eval`'s fields as columns (`fold`, `r2_test`, and any of
/// `r2_train`, `mae_*`, `rmse_*`, `rho_*`, `n_nonzero`, `dataset`, `model`, `compression`); `model` and
/// `compression` fill in for missing columns, missing metrics are NaN.
pub fn fold_rows(table: &Table, model: &str, compression: &str) -> Result<Vec<FoldRow>> {
    let reply = call("fold_rows", vec![table.arg(), Value::Str(model.to_owned()), Value::Str(compression.to_owned())])?;
    reply.into_list()?.into_iter().map(FoldRow::from_value).collect()
}

/// Mean ± sd of each metric per (dataset, model, compression), as a table.
pub fn summary_table(rows: &[FoldRow]) -> Result<Table> {
    Table::from_reply(call("summary_table", vec![rows_arg(rows)])?)
}

/// Mean test R² against model size (the paper's figure), one line per dataset.
pub fn r2_figure(rows: &[FoldRow]) -> Result<Figure> {
    Figure::from_reply(call("r2_figure", vec![rows_arg(rows)])?)
}

/// Zero-shot ρ (rows whose compression starts with `zero-shot`) against the supervised test ρ of the same
/// dataset and model, one colour per compression, with the diagonal.
pub fn zero_shot_figure(rows: &[FoldRow]) -> Result<Figure> {
    Figure::from_reply(call("zero_shot_figure", vec![rows_arg(rows)])?)
}

/// Test R² of every fold, as bars per dataset.
pub fn fold_bars(rows: &[FoldRow]) -> Result<Figure> {
    Figure::from_reply(call("fold_bars", vec![rows_arg(rows)])?)
}

/// Predicted against measured values, with the diagonal; `model` (a [`crate::ModelChoice::label`]) made the
/// predictions, and the title says RANDOM WEIGHTS when it is a random-weight stand-in.
pub fn predicted_vs_measured(measured: &[f64], predicted: &[f64], title: &str, model: &str) -> Result<Figure> {
    let args = vec![
        Value::F64s(measured.to_vec()),
        Value::F64s(predicted.to_vec()),
        Value::Str(title.to_owned()),
        Value::Str(model.to_owned()),
    ];
    Figure::from_reply(call("predicted_vs_measured", args)?)
}

/// [`crate::cache_figure`] of a [`crate::Db::cache_stats`] table.
pub fn cache_figure(stats: &Table) -> Result<Figure> {
    Figure::from_reply(call("cache_figure", vec![stats.arg()])?)
}

/// Our results next to the paper's published ones (`DMS_lassoCV_results.csv`), or why there is no comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    skipped: Option<String>,
    pairs: usize,
    html: String,
    figure: Option<Figure>,
}

impl Comparison {
    /// Why nothing was compared, if nothing was.
    pub fn skipped(&self) -> Option<&str> {
        self.skipped.as_deref()
    }

    /// How many (dataset, model, compression) both have.
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// Ours against published mean test R² (absent when skipped).
    pub fn figure(&self) -> Option<&Figure> {
        self.figure.as_ref()
    }

    /// HTML: the notice, or the table of pairs and the scatter plot.
    pub fn to_html(&self) -> &str {
        &self.html
    }

    /// Shows the comparison (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        let text = match &self.skipped {
            Some(reason) => reason.clone(),
            None => format!("{} pairs compared with the published results", self.pairs),
        };
        emit(&[("text/html", &self.html), ("text/plain", &text)]);
    }
}

/// Compares `ours` with the paper's published per-fold results in `published_csv` — only for pretrained weights
/// (random weights cannot be compared with anything) and when the file exists; otherwise the result says why
/// it was skipped.
pub fn compare_published(ours: &[FoldRow], model: &ModelChoice, published_csv: impl AsRef<Path>) -> Result<Comparison> {
    compare_with(ours, model, published_csv.as_ref())
}

fn compare_with(ours: &[FoldRow], model: &ModelChoice, path: &Path) -> Result<Comparison> {
    let args = vec![
        rows_arg(ours),
        Value::Str(model.label().to_owned()),
        Value::Bool(model.pretrained()),
        Value::Str(path.to_string_lossy().into_owned()),
    ];
    let mut reply = call("compare_published", args)?.into_list()?.into_iter();
    let mut next = || reply.next().ok_or_else(|| Error::msg("compare_published: a short reply"));
    let skipped = next()?.into_opt_string()?;
    let pairs = usize::try_from(next()?.as_i64()?).unwrap_or(0);
    let html = next()?.into_string()?;
    let figure = next()?.into_opt_string()?.map(Figure::from_svg);
    Ok(Comparison { skipped, pairs, html, figure })
}
