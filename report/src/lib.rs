//! # esmdb-report
//!
//! Results and figures of the paper's study (datasets × models × compressions, evaluated with the
//! LassoCV protocol): fold-level result CSVs in the paper's exact layout, per (dataset, model,
//! compression) summaries, and the figures as SVG strings (inline in Jupyter) or PNG bytes.
//!
//! This crate knows rows of numbers and names. It knows nothing of SQL, models, embeddings or
//! storage: `esmdb reproduce` and the Jupyter kernel extension fill [`FoldRow`]s and call
//! [`summarize`] and the [`figures`] functions.
//!
//! Text in figures is measured and rendered with DejaVu Sans embedded in the library, so neither
//! the build nor the run needs fontconfig or system fonts.
#![deny(missing_docs)]

mod error;
mod font;

pub mod figures;
pub mod models;
pub mod results;
pub mod summary;

pub use error::{Error, Result};
pub use figures::{
    bar_chart, ours_vs_published, predicted_vs_measured, r2_by_model_size, svg_to_png, svg_to_png_scaled,
    zero_shot_vs_supervised,
};
pub use models::{ModelKey, family_label, format_size, model_family, model_size, paper_columns};
pub use results::{FoldRow, RESULTS_COLUMNS, paper_model_name, read_results_csv, write_results_csv};
pub use summary::{SUMMARY_COLUMNS, Summary, ZERO_SHOT, summarize, summary_table, write_summary_csv};
