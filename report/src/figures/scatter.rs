//! Scatter plots against the y = x diagonal: our summaries against the published ones (does the
//! reproduction reproduce?), and predicted against measured fitness of one model.

use std::collections::{BTreeMap, HashMap};

use plotters::prelude::*;

use super::frame::{
    Area, DrawResult, FONT, LABEL_SIZE, LEGEND_H, PLOT_H, TICK_SIZE, draw_marker, header, marked_title, message,
    padded_range, render, series_style, tick,
};
use super::legend::{Entry, Legend, Swatch};
use crate::models::{ModelKey, cmp_models, family_label, model_family};
use crate::summary::{Summary, ZERO_SHOT};

/// Width of the square-ish scatter plots.
const SCATTER_W: u32 = 600;

/// Published mean test R² (x) against ours (y) for every (dataset, model, compression) in both,
/// coloured by model (legend ordered by size), ±sd bars both ways, and the y = x diagonal; the
/// subtitle gives the number of pairs, mean |ours − published| and Pearson r, and the legend the
/// same per family (ESM2, ESM C, ESM-1v, …), each family drawn with its own marker, so a family
/// that reproduces and one that does not are told apart. Models pair up by [`ModelKey`]: family and
/// size (our `esmc_300m` is the paper's `esmc` 300M, any ESM-1v the paper's one), else the exact
/// name. With no pair in common the figure says so and shows an example key of each side.
pub fn ours_vs_published(ours: &[Summary], published: &[Summary]) -> String {
    const TITLE: &str = "Test R²: ours vs published";
    let key = |s: &Summary| (s.dataset.clone(), ModelKey::of(&s.model), s.compression.clone());
    let by_key: HashMap<_, &Summary> = published.iter().map(|s| (key(s), s)).collect();
    let mut by_model: BTreeMap<&str, Vec<(&Summary, &Summary)>> = BTreeMap::new();
    let mut common = 0;
    for s in ours {
        if let Some(p) = by_key.get(&key(s)) {
            common += 1;
            if s.r2_test_mean.is_finite() && p.r2_test_mean.is_finite() {
                by_model.entry(&s.model).or_default().push((p, s));
            }
        }
    }
    if by_model.is_empty() {
        let example = |side: &str, list: &[Summary]| match list.first() {
            Some(s) => {
                format!("{side}: {} summaries, e.g. {} / {} / {}", list.len(), s.dataset, s.model, s.compression)
            }
            None => format!("{side}: no summaries"),
        };
        return message(
            TITLE,
            &[
                format!("No (dataset, model, compression) with a finite R² on both sides ({common} keys in common)."),
                example("ours", ours),
                example("published", published),
                "Models pair by family and size (esm2_t6_8M_UR50D = esm2 8M, esmc_300m = esmc 300M).".into(),
            ],
        );
    }
    let mut models: Vec<&str> = by_model.keys().copied().collect();
    models.sort_by(|a, b| cmp_models(a, b));
    let family = |m: &str| model_family(m).unwrap_or("other");
    let mut families: Vec<&str> = Vec::new();
    for m in &models {
        if !families.contains(&family(m)) {
            families.push(family(m));
        }
    }
    let marker_of = |m: &str| series_style(10 * families.iter().position(|f| *f == family(m)).unwrap_or(0)).1;
    let pairs_of = |fam: Option<&str>| -> Vec<(f64, f64)> {
        by_model
            .iter()
            .filter(|(m, _)| fam.is_none_or(|f| family(m) == f))
            .flat_map(|(_, v)| v.iter().map(|(p, o)| (p.r2_test_mean, o.r2_test_mean)))
            .collect()
    };
    let stats = |pairs: &[(f64, f64)]| {
        let mean_abs = pairs.iter().map(|(p, o)| (o - p).abs()).sum::<f64>() / pairs.len() as f64;
        let mut text = format!("{} pairs · mean |ours − published| = {mean_abs:.3}", pairs.len());
        if let Some(r) = pearson(pairs) {
            text += &format!(" · Pearson r = {r:.3}");
        }
        text
    };
    let subtitle = stats(&pairs_of(None));
    let mut entries: Vec<Entry> = models
        .iter()
        .enumerate()
        .map(|(i, m)| Entry {
            label: m.to_string(),
            color: series_style(i).0,
            marker: Some(marker_of(m)),
            swatch: Swatch::Marker,
        })
        .collect();
    if families.len() > 1 {
        for fam in &families {
            let pairs = pairs_of(Some(fam));
            let mean_abs = pairs.iter().map(|(p, o)| (o - p).abs()).sum::<f64>() / pairs.len() as f64;
            entries.push(Entry {
                label: format!("{}: {} pairs, |Δ| {mean_abs:.3}", family_label(fam), pairs.len()),
                color: RGBColor(90, 90, 90),
                marker: Some(series_style(10 * families.iter().position(|f| f == fam).unwrap_or(0)).1),
                swatch: Swatch::Marker,
            });
        }
    }
    let legend = Legend::new(entries, LEGEND_H);
    let extent = by_model.values().flatten().flat_map(|(p, o)| {
        let (psd, osd) = (finite_or_zero(p.r2_test_sd), finite_or_zero(o.r2_test_sd));
        [p.r2_test_mean - psd, p.r2_test_mean + psd, o.r2_test_mean - osd, o.r2_test_mean + osd]
    });
    let range = padded_range(extent, 0.1).unwrap_or((0.0, 1.0));

    render(SCATTER_W + legend.width(), PLOT_H, |root| {
        let body = header(root, TITLE, &subtitle)?;
        let (plot, legend_area) = body.split_horizontally(SCATTER_W);
        let chart = diagonal_chart(&plot, range, "published test R² (mean over folds)", "our test R²")?;
        for (i, model) in models.iter().enumerate() {
            let (color, marker) = (series_style(i).0, marker_of(model));
            for (p, o) in &by_model[model] {
                let at = chart((p.r2_test_mean, o.r2_test_mean));
                let whisker = color.mix(0.35).stroke_width(1);
                if let Some(sd) = Some(p.r2_test_sd).filter(|sd| sd.is_finite() && *sd > 0.0) {
                    let (l, r) = (chart((p.r2_test_mean - sd, 0.0)).0, chart((p.r2_test_mean + sd, 0.0)).0);
                    root.draw(&PathElement::new(vec![(l, at.1), (r, at.1)], whisker))?;
                }
                if let Some(sd) = Some(o.r2_test_sd).filter(|sd| sd.is_finite() && *sd > 0.0) {
                    let (t, b) = (chart((0.0, o.r2_test_mean + sd)).1, chart((0.0, o.r2_test_mean - sd)).1);
                    root.draw(&PathElement::new(vec![(at.0, t), (at.0, b)], whisker))?;
                }
                draw_marker(root, at, marker, color.mix(0.85).into(), 4)?;
            }
        }
        legend.draw(&legend_area)
    })
}

/// The zero-shot ρ of each (dataset, model) (x) against the mean test ρ of each supervised
/// compression of the same dataset and model (y), one colour per compression, with the y = x
/// diagonal: above it, the labels taught the model more than its LM head knew. Zero-shot summaries
/// are those whose compression starts with [`ZERO_SHOT`]; the subtitle counts the points above.
pub fn zero_shot_vs_supervised(summaries: &[Summary]) -> String {
    const TITLE: &str = "Zero-shot ρ vs supervised test ρ";
    let zero_shot: HashMap<(&str, &str), f64> = summaries
        .iter()
        .filter(|s| s.compression.starts_with(ZERO_SHOT) && s.rho_test_mean.is_finite())
        .map(|s| ((s.dataset.as_str(), s.model.as_str()), s.rho_test_mean))
        .collect();
    let mut by_compression: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for s in summaries.iter().filter(|s| !s.compression.starts_with(ZERO_SHOT) && s.rho_test_mean.is_finite()) {
        if let Some(&zs) = zero_shot.get(&(s.dataset.as_str(), s.model.as_str())) {
            by_compression.entry(&s.compression).or_default().push((zs, s.rho_test_mean));
        }
    }
    if by_compression.is_empty() {
        return message(
            TITLE,
            &[
                format!(
                    "{} zero-shot summaries; no supervised summary of the same dataset and model.",
                    zero_shot.len()
                ),
                "Run `esmdb reproduce --zero-shot` with at least one compression.".into(),
            ],
        );
    }
    let points: Vec<(f64, f64)> = by_compression.values().flatten().copied().collect();
    let above = points.iter().filter(|(x, y)| y > x).count();
    let subtitle = format!("{} points · supervised above zero-shot in {above}", points.len());
    let title = marked_title(TITLE, summaries.iter().map(|s| s.model.as_str()));
    let entries = by_compression
        .keys()
        .enumerate()
        .map(|(i, c)| {
            let (color, marker) = series_style(i);
            Entry { label: c.to_string(), color, marker: Some(marker), swatch: Swatch::Marker }
        })
        .collect();
    let legend = Legend::new(entries, LEGEND_H);
    let range = padded_range(points.iter().flat_map(|&(x, y)| [x, y]), 0.1).unwrap_or((0.0, 1.0));
    render(SCATTER_W + legend.width(), PLOT_H, |root| {
        let body = header(root, &title, &subtitle)?;
        let (plot, legend_area) = body.split_horizontally(SCATTER_W);
        let chart =
            diagonal_chart(&plot, range, "zero-shot Spearman ρ (all variants)", "supervised test ρ (mean over folds)")?;
        for (i, pts) in by_compression.values().enumerate() {
            let (color, marker) = series_style(i);
            for &p in pts {
                draw_marker(root, chart(p), marker, color.mix(0.85).into(), 4)?;
            }
        }
        legend.draw(&legend_area)
    })
}

/// Predicted against measured values (one dot per variant) with the y = x diagonal; the subtitle
/// gives n, R² (scikit-learn's `r2_score(measured, predicted)`) and Spearman ρ. Pairs with a NaN or
/// infinite side are skipped; unequal lengths use the common prefix and say so. `model` made the
/// predictions: the title says RANDOM WEIGHTS when it is a random-weight stand-in (`random-…`).
pub fn predicted_vs_measured(measured: &[f64], predicted: &[f64], title: &str, model: &str) -> String {
    let title = &marked_title(title, [model]);
    let pairs: Vec<(f64, f64)> =
        measured.iter().zip(predicted).map(|(&m, &p)| (m, p)).filter(|(m, p)| m.is_finite() && p.is_finite()).collect();
    let mut notes = Vec::new();
    if measured.len() != predicted.len() {
        notes.push(format!("lengths differ ({} measured, {} predicted)", measured.len(), predicted.len()));
    }
    let dropped = measured.len().min(predicted.len()) - pairs.len();
    if dropped > 0 {
        notes.push(format!("{dropped} non-finite pairs skipped"));
    }
    if pairs.is_empty() {
        notes.insert(0, "No finite (measured, predicted) pair to plot.".into());
        return message(title, &notes);
    }
    let mut subtitle = format!("n = {}", pairs.len());
    if let Some(r2) = r2_score(&pairs) {
        subtitle += &format!(" · R² = {r2:.3}");
    }
    if let Some(rho) = spearman(&pairs) {
        subtitle += &format!(" · Spearman ρ = {rho:.3}");
    }
    for note in notes {
        subtitle += &format!(" · {note}");
    }
    let range = padded_range(pairs.iter().flat_map(|&(m, p)| [m, p]), 0.1).unwrap_or((0.0, 1.0));
    let radius = if pairs.len() > 2000 { 2 } else { 3 };

    render(SCATTER_W + 40, PLOT_H, |root| {
        let body = header(root, title, &subtitle)?;
        let chart = diagonal_chart(&body, range, "measured", "predicted")?;
        for &(m, p) in &pairs {
            root.draw(&Circle::new(chart((m, p)), radius, series_style(0).0.mix(0.55).filled()))?;
        }
        Ok(())
    })
}

/// Axes with equal ranges, a light grid and the dashed-grey y = x line; returns the mapping from
/// data to canvas pixels (markers are drawn on the canvas so every marker shape has one code path).
fn diagonal_chart(
    area: &Area,
    (lo, hi): (f64, f64),
    x_desc: &str,
    y_desc: &str,
) -> DrawResult<impl Fn((f64, f64)) -> (i32, i32) + use<>> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_right(24)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    chart
        .configure_mesh()
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, TICK_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(vec![(lo, lo), (hi, hi)], BLACK.mix(0.45).stroke_width(1))))?;
    let coords = chart.as_coord_spec().clone();
    Ok(move |p: (f64, f64)| coords.translate(&p))
}

fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Pearson correlation; `None` below two pairs or without variance.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// `1 − SS_res / SS_tot` with measured as truth; `None` when the measured values are constant.
fn r2_score(pairs: &[(f64, f64)]) -> Option<f64> {
    let mean = pairs.iter().map(|p| p.0).sum::<f64>() / pairs.len() as f64;
    let ss_tot: f64 = pairs.iter().map(|p| (p.0 - mean).powi(2)).sum();
    let ss_res: f64 = pairs.iter().map(|p| (p.0 - p.1).powi(2)).sum();
    (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot)
}

/// Spearman ρ: Pearson on ranks, ties getting their average rank (as scipy).
fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    let xs = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let ys = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    pearson(&xs.into_iter().zip(ys).collect::<Vec<_>>())
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(dataset: &str, compression: &str, rho: f64) -> Summary {
        Summary {
            dataset: dataset.into(),
            model: "m".into(),
            compression: compression.into(),
            folds: 1,
            r2_test_mean: f64::NAN,
            r2_test_sd: f64::NAN,
            rho_test_mean: rho,
        }
    }

    #[test]
    fn zero_shot_points_pair_with_supervised_ones() {
        let rows = [
            summary("A", "zero-shot(masked-marginals)", 0.2),
            summary("A", "mean", 0.5),
            summary("A", "mean+zero-shot(masked-marginals)", 0.6),
            summary("B", "zero-shot(masked-marginals)", 0.4),
            summary("B", "mean", 0.3),
        ];
        let svg = zero_shot_vs_supervised(&rows);
        assert!(svg.contains("3 points · supervised above zero-shot in 2"), "subtitle");
        assert!(svg.contains("mean+zero-shot(masked-marginals)"), "legend names the augmented model");
        let empty = zero_shot_vs_supervised(&rows[..1]);
        assert!(empty.contains("no supervised summary"), "explains an empty figure");
    }

    #[test]
    fn statistics_match_scipy_and_sklearn() {
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505139
        let pairs = [(1.0, 1.0), (2.0, 3.0), (2.0, 2.0), (3.0, 4.0)];
        let rho = spearman(&pairs).unwrap_or(f64::NAN);
        assert!((rho - 0.9486832980505139).abs() < 1e-12, "{rho}");
        // sklearn.metrics.r2_score([1, 2, 2, 3], [1, 3, 2, 4]) = 0.0
        assert_eq!(r2_score(&pairs), Some(0.0));
        assert_eq!(pearson(&[(1.0, 2.0)]), None);
    }
}
