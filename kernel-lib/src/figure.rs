//! Figures inline: [`Figure`] (an SVG shown as `image/svg+xml`) and the notebook helpers that turn
//! query results into `esmdb-report`'s plots and summaries.
//!
//! The plotting itself lives in `esmdb-report` (shared with `esmdb reproduce`); this module only
//! adapts [`Table`]s to its row types, so notebook figures and the CLI's are the same pictures.
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use esmdb_report::{FoldRow, Summary};
use esmdb_sql::datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};

use crate::display::{emit, escape, float, notice_html, simple_table};
use crate::error::{Result, wrap};
use crate::model::ModelChoice;
use crate::table::Table;

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

    /// The SVG text.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// PNG bytes (rendered with the font embedded in `esmdb-report`).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        wrap(|| Ok(esmdb_report::svg_to_png(&self.svg)?))
    }

    /// Writes the figure to `path`: PNG for a `.png` name, SVG otherwise.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_to(path.as_ref())
    }

    fn save_to(&self, path: &Path) -> Result<()> {
        let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        let bytes = if png { self.to_png()? } else { self.svg.clone().into_bytes() };
        wrap(|| std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display())))
    }

    /// Shows the figure (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        let text = format!("Figure (SVG, {} bytes)", self.svg.len());
        emit(&[("image/svg+xml", &self.svg), ("text/plain", &text)]);
    }
}

/// Per-fold rows from a table with `lasso_cv_eval`'s fields as columns (`fold`, `r2_test`, and any
/// of `r2_train`, `mae_*`, `rmse_*`, `rho_*`, `n_nonzero`, `dataset`, `model`, `compression`);
/// `model` and `compression` fill in for missing columns, missing metrics are NaN.
pub fn fold_rows(table: &Table, model: &str, compression: &str) -> Result<Vec<FoldRow>> {
    let defaults = esmdb_study::FoldDefaults {
        dataset: "dataset".to_owned(),
        model: model.to_owned(),
        compression: compression.to_owned(),
    };
    wrap(|| Ok(esmdb_study::fold_rows(&table.to_batches(), &defaults)?))
}

/// Mean test R² (± sd over folds) against model size, one line per dataset — the paper's main
/// figure (one point per dataset when a single model was run).
pub fn r2_figure(rows: &[FoldRow]) -> Figure {
    Figure::from_svg(esmdb_report::r2_by_model_size(&esmdb_report::summarize(rows)))
}

/// Zero-shot ρ against the supervised test ρ per dataset (`esmdb_report::zero_shot_vs_supervised`).
pub fn zero_shot_figure(rows: &[FoldRow]) -> Figure {
    Figure::from_svg(esmdb_report::zero_shot_vs_supervised(&esmdb_report::summarize(rows)))
}

/// Test R² of every outer fold, one bar colour per dataset.
pub fn fold_bars(rows: &[FoldRow]) -> Figure {
    let folds: BTreeSet<i64> = rows.iter().map(|r| r.fold).collect();
    let labels: Vec<String> = folds.iter().map(|f| format!("fold {f}")).collect();
    let mut datasets: Vec<&str> = Vec::new();
    for r in rows {
        if !datasets.contains(&r.dataset.as_str()) {
            datasets.push(&r.dataset);
        }
    }
    let series: Vec<(String, Vec<f64>)> = datasets
        .iter()
        .map(|d| {
            let values = folds
                .iter()
                .map(|f| rows.iter().find(|r| r.dataset == *d && r.fold == *f).map_or(f64::NAN, |r| r.r2_test))
                .collect();
            ((*d).to_owned(), values)
        })
        .collect();
    Figure::from_svg(esmdb_report::bar_chart("Test R² per outer fold", &labels, &series))
}

/// Predicted against measured values with the y = x diagonal; the subtitle gives n, R² and ρ; the title is
/// marked when `model` is a random-weight stand-in.
pub fn predicted_vs_measured(measured: &[f64], predicted: &[f64], title: &str, model: &str) -> Figure {
    Figure::from_svg(esmdb_report::predicted_vs_measured(measured, predicted, title, model))
}

/// Cached and missing sequences per dataset, from [`crate::Db::cache_stats`].
pub fn cache_figure(stats: &Table) -> Result<Figure> {
    let labels = stats.column_strings("dataset")?;
    let series = vec![
        ("cached".to_owned(), stats.column_f64("cached")?),
        ("not cached".to_owned(), stats.column_f64("missing")?),
    ];
    Ok(Figure::from_svg(esmdb_report::bar_chart("Distinct sequences in the embedding cache", &labels, &series)))
}

/// Per (dataset, model, compression): folds, mean and sd of the test R², mean test ρ.
pub fn summary_table(rows: &[FoldRow]) -> Result<Table> {
    let s = esmdb_report::summarize(rows);
    let strings = |f: fn(&Summary) -> &str| {
        Arc::new(StringArray::from(s.iter().map(|x| f(x).to_owned()).collect::<Vec<_>>())) as ArrayRef
    };
    let floats = |f: fn(&Summary) -> f64| Arc::new(Float64Array::from(s.iter().map(f).collect::<Vec<_>>())) as ArrayRef;
    let folds =
        Arc::new(Int64Array::from(s.iter().map(|x| i64::try_from(x.folds).unwrap_or(i64::MAX)).collect::<Vec<_>>()));
    wrap(|| {
        Table::from_columns(vec![
            ("dataset", strings(|x| x.dataset.as_str())),
            ("model", strings(|x| x.model.as_str())),
            ("compression", strings(|x| x.compression.as_str())),
            ("folds", folds as ArrayRef),
            ("r2_test_mean", floats(|x| x.r2_test_mean)),
            ("r2_test_sd", floats(|x| x.r2_test_sd)),
            ("rho_test_mean", floats(|x| x.rho_test_mean)),
        ])
    })
}

/// Our results next to the paper's published ones (`DMS_lassoCV_results.csv`), or why there is no
/// comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    skipped: Option<String>,
    pairs: Vec<(Summary, Summary)>,
    figure: Option<Figure>,
}

impl Comparison {
    /// Why nothing was compared, if nothing was.
    pub fn skipped(&self) -> Option<&str> {
        self.skipped.as_deref()
    }

    /// (ours, published) summaries of the (dataset, model, compression) both have.
    pub fn pairs(&self) -> &[(Summary, Summary)] {
        &self.pairs
    }

    /// Ours against published mean test R² (absent when skipped).
    pub fn figure(&self) -> Option<&Figure> {
        self.figure.as_ref()
    }

    /// HTML: the notice, or the table of pairs and the scatter plot.
    pub fn to_html(&self) -> String {
        if let Some(reason) = &self.skipped {
            return notice_html("note", &escape(reason));
        }
        let rows: Vec<Vec<String>> = self
            .pairs
            .iter()
            .map(|(o, p)| {
                vec![
                    o.dataset.clone(),
                    o.model.clone(),
                    o.compression.clone(),
                    format!("{} ± {}", float(o.r2_test_mean), float(o.r2_test_sd)),
                    format!("{} ± {}", float(p.r2_test_mean), float(p.r2_test_sd)),
                    float(o.r2_test_mean - p.r2_test_mean),
                ]
            })
            .collect();
        let headers = ["dataset", "model", "compression", "R² test, ours", "R² test, published", "difference"];
        let caption = format!("{} (dataset, model, compression) in both", rows.len());
        let mut html = simple_table(&caption, &headers, &rows);
        if let Some(f) = &self.figure {
            html.push_str(f.svg());
        }
        html
    }

    /// Shows the comparison (called by evcxr for a cell's final value).
    pub fn evcxr_display(&self) {
        let text = match &self.skipped {
            Some(reason) => reason.clone(),
            None => format!("{} pairs compared with the published results", self.pairs.len()),
        };
        emit(&[("text/html", &self.to_html()), ("text/plain", &text)]);
    }
}

/// Compares `ours` with the paper's published per-fold results in `published_csv` — only for
/// pretrained weights (random weights cannot be compared with anything) and when the file exists;
/// otherwise the result says why it was skipped.
pub fn compare_published(ours: &[FoldRow], model: &ModelChoice, published_csv: impl AsRef<Path>) -> Result<Comparison> {
    compare_with(ours, model, published_csv.as_ref())
}

/// [`compare_published`] without the generic parameter (see `Db::ingest_files` on why).
fn compare_with(ours: &[FoldRow], model: &ModelChoice, path: &Path) -> Result<Comparison> {
    compare_labelled(ours, model.label(), model.pretrained(), path)
}

/// [`compare_published`] for a model known by its label and whether its weights are pretrained.
pub fn compare_labelled(ours: &[FoldRow], label: &str, pretrained: bool, path: &Path) -> Result<Comparison> {
    let skip = |reason: String| Ok(Comparison { skipped: Some(reason), pairs: Vec::new(), figure: None });
    if !pretrained {
        return skip(format!(
            "Comparison with the paper's published results skipped: {label} has random weights, so its R² says \
             nothing about the paper's. Put real {} weights where esmdb looks and re-run.",
            label.trim_start_matches("random-").split("-seed").next().unwrap_or_default()
        ));
    }
    if !path.is_file() {
        return skip(format!(
            "Comparison with the paper's published results skipped: {} not found (set ESMDB_PAPER_RESULTS to the \
             paper's DMS_lassoCV_results.csv).",
            path.display()
        ));
    }
    wrap(|| {
        let published = esmdb_report::summarize(
            &esmdb_report::read_results_csv(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let ours = esmdb_report::summarize(ours);
        let key = |s: &Summary| (s.dataset.clone(), s.model.clone(), s.compression.clone());
        let pairs: Vec<(Summary, Summary)> = ours
            .iter()
            .filter_map(|o| published.iter().find(|p| key(p) == key(o)).map(|p| (o.clone(), p.clone())))
            .collect();
        let figure = Figure::from_svg(esmdb_report::ours_vs_published(&ours, &published));
        Ok(Comparison { skipped: None, pairs, figure: Some(figure) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folds() -> Table {
        Table::from_columns(vec![
            ("dataset", Arc::new(StringArray::from(vec!["A", "A", "B"])) as ArrayRef),
            ("fold", Arc::new(Int64Array::from(vec![1, 2, 1])) as ArrayRef),
            ("r2_test", Arc::new(Float64Array::from(vec![0.5, 0.25, -0.1])) as ArrayRef),
            ("n_nonzero", Arc::new(Int64Array::from(vec![3, 4, 0])) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn fold_rows_fill_defaults() {
        let rows = fold_rows(&folds(), "esm2_t6_8M_UR50D", "mean").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[1].dataset.as_str(), rows[1].fold, rows[1].r2_test), ("A", 2, 0.25));
        assert_eq!((rows[2].model.as_str(), rows[2].compression.as_str()), ("esm2_t6_8M_UR50D", "mean"));
        assert!(rows[0].rho_test.is_nan() && rows[0].n_nonzero == 3);
        let summary = summary_table(&rows).unwrap();
        assert_eq!(summary.num_rows(), 2);
        assert!(fold_bars(&rows).svg().contains("<svg"));
        let missing = Table::from_columns(vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]).unwrap();
        assert!(fold_rows(&missing, "m", "mean").unwrap_err().to_string().contains("need the columns `fold`"));
    }
}
