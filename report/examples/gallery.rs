//! Writes every figure as SVG and PNG into a directory, from the paper's fixture rows plus made-up
//! numbers, for looking at the figures by eye: `cargo run -p esmdb-report --example gallery -- OUT`.

use std::path::PathBuf;

use esmdb_report::{
    Summary, bar_chart, ours_vs_published, predicted_vs_measured, r2_by_model_size, read_results_csv, summarize,
    svg_to_png,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    std::fs::create_dir_all(&out)?;
    let paper = std::env::args().nth(2).map_or_else(
        || {
            std::path::PathBuf::from(
                std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
            )
            .join("tests/fixtures/paper_lassocv_head.csv")
        },
        PathBuf::from,
    );
    let published = summarize(&read_results_csv(&paper)?);
    let ours: Vec<Summary> = published
        .iter()
        .enumerate()
        .map(|(i, s)| Summary { r2_test_mean: s.r2_test_mean + 0.02 * ((i % 5) as f64 - 2.0), ..s.clone() })
        .collect();
    let measured: Vec<f64> = (0..400).map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0).collect();
    let predicted: Vec<f64> =
        measured.iter().enumerate().map(|(i, m)| 0.6 * m + 0.3 * (((i * 13) % 17) as f64 / 8.0 - 1.0)).collect();
    let labels: Vec<String> =
        ["YAP1_HUMAN_Fields2012_singles", "GAL4_YEAST_Shendure2015", "UBC9_HUMAN_Roth2017"].map(String::from).to_vec();
    let series =
        vec![("cached".to_string(), vec![362.0, 1195.0, 0.0]), ("embedded".to_string(), vec![0.0, 12.0, 2722.0])];
    let figures = [
        ("r2_by_model_size", r2_by_model_size(&published)),
        ("ours_vs_published", ours_vs_published(&ours, &published)),
        ("ours_vs_published_empty", ours_vs_published(&ours[..1], &[])),
        (
            "predicted_vs_measured",
            predicted_vs_measured(&measured, &predicted, "YAP1 · esm2_t6_8M_UR50D · fold 1", "esm2_t6_8M_UR50D"),
        ),
        ("bar_chart", bar_chart("Embedding cache per dataset", &labels, &series)),
    ];
    for (name, svg) in figures {
        std::fs::write(out.join(format!("{name}.svg")), &svg)?;
        std::fs::write(out.join(format!("{name}.png")), svg_to_png(&svg)?)?;
    }
    Ok(())
}
