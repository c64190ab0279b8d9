//! Figures: every function returns an SVG that usvg parses, carrying its title and labels, with
//! one marker per plotted point; degenerate input gives an explanatory figure, never a panic.

use esmdb_report::{Summary, bar_chart, ours_vs_published, predicted_vs_measured, r2_by_model_size, svg_to_png};
use resvg::usvg;

fn summary(dataset: &str, model: &str, mean: f64, sd: f64) -> Summary {
    Summary {
        dataset: dataset.into(),
        model: model.into(),
        compression: "mean".into(),
        folds: 5,
        r2_test_mean: mean,
        r2_test_sd: sd,
        rho_test_mean: 0.5,
    }
}

/// Parses like a browser would (usvg is strict about XML) and returns the element counts we check.
fn parse(svg: &str) -> usvg::Tree {
    match usvg::Tree::from_str(svg, &usvg::Options::default()) {
        Ok(tree) => tree,
        Err(e) => panic!("invalid SVG ({e}):\n{svg}"),
    }
}

fn count(svg: &str, tag: &str) -> usize {
    svg.matches(&format!("<{tag} ")).count()
}

const MODELS: [&str; 3] = ["esm2_t6_8M_UR50D", "esm2_t30_150M_UR50D", "esm2_t33_650M_UR50D"];

#[test]
fn r2_by_model_size_draws_one_line_per_dataset() {
    let mut input = Vec::new();
    for (d, dataset) in ["YAP1_HUMAN", "GAL4_YEAST"].iter().enumerate() {
        for (m, model) in MODELS.iter().enumerate() {
            input.push(summary(dataset, model, 0.3 + 0.05 * m as f64 - 0.1 * d as f64, 0.04));
        }
    }
    input.push(summary("YAP1_HUMAN", "ridge", 0.2, 0.01)); // no size: counted, not drawn
    input.push(summary("GAL4_YEAST", "esm2_t36_3B_UR50D", f64::NAN, f64::NAN)); // NaN: skipped
    let svg = r2_by_model_size(&input);
    parse(&svg);
    for text in ["Test R² by model size", "YAP1_HUMAN", "GAL4_YEAST", ">\n8M", ">\n150M", ">\n650M", "2 summaries"] {
        assert!(svg.contains(text), "{text:?} missing:\n{svg}");
    }
    // 6 points + 3 points of the mean over datasets + 3 legend markers, all circles (one family).
    assert_eq!(count(&svg, "circle"), 12);
    // Dataset lines and legend swatches are 2 px wide, the mean line 3 px.
    let polylines = |width: &str| svg.lines().filter(|l| l.starts_with("<polyline") && l.contains(width)).count();
    assert_eq!(polylines("stroke-width=\"2\""), 2 + 3);
    assert_eq!(polylines("stroke-width=\"3\""), 1);
}

#[test]
fn r2_by_model_size_handles_negative_single_and_empty() {
    let svg = r2_by_model_size(&[summary("X", "esm2_t6_8M_UR50D", -3.35, f64::NAN)]);
    parse(&svg);
    assert_eq!(count(&svg, "circle"), 2);
    assert!(svg.contains("-3.3"), "y ticks around the single negative value:\n{svg}");

    let many: Vec<Summary> =
        (0..40).map(|i| summary(&format!("dataset_{i:02}"), MODELS[i % 3], 0.01 * i as f64, 0.02)).collect();
    let svg = r2_by_model_size(&many);
    parse(&svg);
    assert!(svg.contains("dataset_39"));
    let fills: std::collections::BTreeSet<&str> =
        svg.lines().filter(|l| l.starts_with("<circle")).filter_map(|l| l.split("fill=\"").nth(1)).collect();
    assert!(fills.len() > 40, "forty datasets, forty colours (+ black): {}", fills.len());

    for svg in [r2_by_model_size(&[]), r2_by_model_size(&[summary("X", "ridge", 0.1, 0.0)])] {
        parse(&svg);
        assert!(svg.contains("Nothing to plot"), "{svg}");
    }
}

#[test]
fn ours_vs_published_pairs_matching_keys() {
    let published = vec![
        summary("YAP1", MODELS[0], 0.34, 0.05),
        summary("YAP1", MODELS[2], 0.33, 0.04),
        summary("GAL4", MODELS[0], 0.50, 0.02),
        summary("GAL4", MODELS[2], f64::NAN, f64::NAN),
    ];
    let ours = vec![
        summary("YAP1", MODELS[0], 0.35, 0.05),
        summary("YAP1", MODELS[2], 0.31, 0.03),
        summary("GAL4", MODELS[2], 0.6, 0.01),
        summary("OTHER", MODELS[0], 0.1, 0.01),
    ];
    let svg = ours_vs_published(&ours, &published);
    parse(&svg);
    for text in ["ours vs published", "2 pairs", "mean |ours − published| = 0.015", MODELS[0], MODELS[2]] {
        assert!(svg.contains(text), "{text:?} missing:\n{svg}");
    }
    assert_eq!(count(&svg, "circle"), 2 + 2, "2 points + 2 legend markers");
}

#[test]
fn ours_vs_published_pairs_models_by_family_and_size() {
    // The paper's table names families and sizes (read as `esmc_300M`, `esm1v`); ours are the names
    // models are run under. ESM-1v must not pair with ESM2 650M, which has the same size.
    let published = vec![
        summary("YAP1", "esmc_300M", 0.40, 0.05),
        summary("YAP1", "esm1v", 0.30, 0.04),
        summary("YAP1", "esm2_t33_650M_UR50D", 0.20, 0.04),
        summary("YAP1", MODELS[0], 0.10, 0.02),
    ];
    let ours = vec![
        summary("YAP1", "esmc_300m", 0.44, 0.05),
        summary("YAP1", "esm1v_t33_650M_UR90S_1", 0.31, 0.03),
        summary("YAP1", MODELS[0], 0.12, 0.01),
    ];
    let svg = ours_vs_published(&ours, &published);
    parse(&svg);
    for text in ["3 pairs", "ESM C: 1 pairs, |Δ| 0.040", "ESM-1v: 1 pairs, |Δ| 0.010", "ESM2: 1 pairs, |Δ| 0.020"] {
        assert!(svg.contains(text), "{text:?} missing:\n{svg}");
    }
    // One family per marker shape: ESM2 circles, ESM C squares, ESM-1v triangles (point + legend
    // model entry + legend family entry each).
    assert_eq!(count(&svg, "circle"), 3, "{svg}");
}

#[test]
fn r2_by_model_size_draws_one_series_per_family() {
    let input = vec![
        summary("YAP1", MODELS[0], 0.10, 0.02),
        summary("YAP1", MODELS[2], 0.20, 0.02),
        summary("YAP1", "esmc_300m", 0.40, 0.02),
        summary("YAP1", "ESMC-600M", 0.42, 0.02),
        summary("YAP1", "esm1v_t33_650M_UR90S_1", 0.30, 0.02),
    ];
    let svg = r2_by_model_size(&input);
    parse(&svg);
    for text in [">\nESM2", ">\nESM C", ">\nESM-1v", ">\n300M", ">\n600M"] {
        assert!(svg.contains(text), "{text:?} missing:\n{svg}");
    }
    // Three families, three lines for the one dataset, never one zigzag through all; plus its
    // legend swatch.
    let lines = svg.lines().filter(|l| l.starts_with("<polyline") && l.contains("stroke-width=\"2\"")).count();
    assert_eq!(lines, 3 + 1, "{svg}");
}

#[test]
fn ours_vs_published_explains_an_empty_intersection() {
    let svg = ours_vs_published(&[summary("YAP1", "esm2", 0.3, 0.0)], &[summary("YAP1", MODELS[0], 0.3, 0.0)]);
    parse(&svg);
    assert!(svg.contains("No (dataset, model, compression)") && svg.contains("YAP1 / esm2 / mean"), "{svg}");
    parse(&ours_vs_published(&[], &[]));
}

#[test]
fn predicted_vs_measured_skips_nan() {
    let measured = [0.1, 0.5, f64::NAN, 0.9, 1.3];
    let predicted = [0.2, 0.4, 0.3, 1.0, 1.1];
    let svg = predicted_vs_measured(&measured, &predicted, "YAP1 & friends <fold 1>", "esm2_t6_8M_UR50D");
    parse(&svg);
    assert!(svg.contains("YAP1 &amp; friends &lt;fold 1&gt;") && svg.contains("n = 4"), "{svg}");
    assert!(svg.contains("1 non-finite pairs skipped") && svg.contains("Spearman ρ = 1.000"), "{svg}");
    assert_eq!(count(&svg, "circle"), 4);

    let single = predicted_vs_measured(&[0.5], &[0.5, 0.7], "one", "random-esm2_t6_8M_UR50D-seed7");
    parse(&single);
    assert!(single.contains("lengths differ") && count(&single, "circle") == 1);
    assert!(single.contains("one (RANDOM WEIGHTS)") && !svg.contains("RANDOM WEIGHTS"), "{single}");
    let empty = predicted_vs_measured(&[], &[], "empty", "m");
    parse(&empty);
    assert!(empty.contains("No finite"));
}

#[test]
fn bar_chart_groups_bars_by_label() {
    let labels = vec!["YAP1".to_string(), "GAL4".to_string(), "UBC9".to_string()];
    let series =
        vec![("cached".to_string(), vec![120.0, 0.0, 35.0]), ("embedded".to_string(), vec![3.0, 512.0, f64::NAN])];
    let svg = bar_chart("Embedding cache", &labels, &series);
    parse(&svg);
    for text in ["Embedding cache", "YAP1", "UBC9", "cached", "embedded", ">\n512"] {
        assert!(svg.contains(text), "{text:?} missing:\n{svg}");
    }
    // Background + 5 finite bars + 2 legend swatches.
    assert_eq!(count(&svg, "rect"), 1 + 5 + 2);

    let long: Vec<String> = (0..12).map(|i| format!("PABP_YEAST_Fields2013_doubles_{i}")).collect();
    let svg = bar_chart("many", &long, &[("n".into(), (0..12).map(|i| -(i as f64)).collect())]);
    parse(&svg);
    assert!(svg.contains("rotate(270"), "long labels stand upright");

    for svg in [bar_chart("none", &[], &[]), bar_chart("nan", &labels, &[("x".into(), vec![f64::NAN])])] {
        parse(&svg);
        assert!(svg.contains("Nothing to plot"), "{svg}");
    }
}

#[test]
fn png_has_the_signature_the_size_and_rendered_text() -> Result<(), Box<dyn std::error::Error>> {
    let svg = r2_by_model_size(&[summary("YAP1", MODELS[0], 0.3, 0.05), summary("YAP1", MODELS[2], 0.35, 0.04)]);
    let png = svg_to_png(&svg)?;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png.len() > 5_000, "{} bytes", png.len());
    let tree = parse(&svg);
    let dims = |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    assert_eq!((dims(&png, 16), dims(&png, 20)), (tree.size().width() as u32, tree.size().height() as u32));

    // Text is drawn with the embedded font, whatever the machine has installed.
    let text = r#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="5" y="30" font-family="sans-serif" font-size="24">R² ± sd</text></svg>"#;
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(&svg_to_png(text)?)
        .map_err(|e| esmdb_report::Error::Render(e.to_string()))?;
    let inked = pixmap.pixels().iter().filter(|p| p.alpha() > 128).count();
    assert!(inked > 200, "{inked} pixels of text");

    assert!(matches!(svg_to_png("not svg"), Err(esmdb_report::Error::Svg(_))));
    Ok(())
}

/// A figure drawn from a random-weight stand-in (`random-…`, as `scripts/run` and the notebooks
/// name them) says so in its title; one from named weights does not.
#[test]
fn figures_of_random_weights_say_so() {
    let mark = "Test R² by model size (RANDOM WEIGHTS)";
    let random = vec![summary("YAP1", "random-esm2_t6_8M_UR50D-seed7", 0.3, 0.02)];
    assert!(esmdb_report::r2_by_model_size(&random).contains(mark));
    let named = vec![summary("YAP1", "esm2_t6_8M_UR50D", 0.3, 0.02)];
    assert!(!esmdb_report::r2_by_model_size(&named).contains(mark));
}
