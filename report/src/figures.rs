//! The study's figures as SVG strings: inline in Jupyter, written as files by `esmdb reproduce`, or
//! rasterized with [`svg_to_png`]. Every function returns a complete figure for any input: empty,
//! single-point, negative or NaN data give a readable plot or a figure that explains what is missing,
//! never a panic.

mod bars;
mod frame;
mod legend;
mod png;
mod scatter;
mod size;

pub use bars::bar_chart;
pub use png::{svg_to_png, svg_to_png_scaled};
pub use scatter::{ours_vs_published, predicted_vs_measured, zero_shot_vs_supervised};
pub use size::r2_by_model_size;
