//! The paper's main figure: mean test R² against model size, one line per dataset, and the mean
//! over datasets in black, the curve the paper's argument (medium models suffice) rests on.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;

use super::frame::{
    FONT, LABEL_SIZE, LEGEND_H, Marker, PLOT_H, PLOT_W, TICK_SIZE, color, draw_marker, header, marked_title, message,
    padded_range, render, series_style, tick, x_tick_labels,
};
use super::legend::{Entry, Legend, Swatch};
use crate::models::{family_label, format_size, model_family, model_size};
use crate::summary::Summary;

const TITLE: &str = "Test R² by model size";

/// Model family: the paper's (`esm2`, `esmc`, `esm1v`, …, see [`model_family`]), else the name up
/// to the first `_`.
fn family(model: &str) -> &str {
    model_family(model).unwrap_or_else(|| model.split('_').next().unwrap_or(model))
}

/// (log10 parameters, mean, sd) of one model on one line.
type Point = (f64, f64, f64);

/// Mean test R² (± sample sd as error bars) against the number of parameters on a log axis labelled
/// with the sizes present (8M, 35M, 150M, 650M, …): one coloured line per dataset (and per
/// compression when several are given), plus the mean over the datasets that have every size as a
/// thick black line when there are two or more. Model families (ESM2, ESM C, AMPLIFY, …) get their own lines and marker
/// shapes, so one family's scaling curve never zigzags through another's. Summaries whose model has
/// no readable size ([`model_size`]) or whose mean is NaN are left out and counted in the subtitle.
pub fn r2_by_model_size(summaries: &[Summary]) -> String {
    let mut lines: BTreeMap<(&str, &str, &str), Vec<Point>> = BTreeMap::new();
    let mut skipped = 0;
    for s in summaries {
        match model_size(&s.model) {
            Some(size) if size > 0.0 && s.r2_test_mean.is_finite() => {
                let key = (s.dataset.as_str(), s.compression.as_str(), family(&s.model));
                lines.entry(key).or_default().push((size.log10(), s.r2_test_mean, s.r2_test_sd));
            }
            _ => skipped += 1,
        }
    }
    if lines.is_empty() {
        return message(
            TITLE,
            &[
                format!("Nothing to plot: {} summaries, none with a model size and a finite mean R².", summaries.len()),
                "Sizes are read from model names such as esm2_t6_8M_UR50D or esmc_300M.".into(),
            ],
        );
    }
    for points in lines.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    // Colours by (dataset, compression); markers by family, the family with most sizes first (circles).
    let groups: Vec<(&str, &str)> = lines.keys().map(|k| (k.0, k.1)).collect::<BTreeSet<_>>().into_iter().collect();
    let compressions: BTreeSet<&str> = groups.iter().map(|g| g.1).collect();
    let mut families: Vec<(&str, usize)> = Vec::new();
    for (key, points) in &lines {
        match families.iter_mut().find(|f| f.0 == key.2) {
            Some(f) => f.1 = f.1.max(points.len()),
            None => families.push((key.2, points.len())),
        }
    }
    families.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let marker_of = |fam: &str| series_style(10 * families.iter().position(|f| f.0 == fam).unwrap_or(0)).1;
    let color_of = |key: &(&str, &str, &str)| {
        color(groups.iter().position(|g| (g.0, g.1) == (key.0, key.1)).unwrap_or(0), groups.len())
    };
    let means = mean_lines(&lines);

    let mut sizes: Vec<f64> = lines.values().flatten().map(|p| p.0).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let (x_lo, x_hi) = (sizes[0], sizes[sizes.len() - 1]);
    let pad = 0.06 * (x_hi - x_lo) + 0.15;
    let whiskers = lines.values().flatten().flat_map(|&(_, m, sd)| {
        let sd = if sd.is_finite() { sd } else { 0.0 };
        [m - sd, m + sd]
    });
    let (y_lo, y_hi) = padded_range(whiskers, 0.1).unwrap_or((0.0, 1.0));

    let crowded = groups.len() > 10;
    let several_families = families.len() > 1;
    let mut entries: Vec<Entry> = groups
        .iter()
        .map(|&(dataset, compression)| Entry {
            label: if compressions.len() > 1 { format!("{dataset} · {compression}") } else { dataset.to_string() },
            color: color_of(&(dataset, compression, "")),
            marker: (!several_families).then_some(Marker::Circle),
            swatch: Swatch::Line,
        })
        .collect();
    if several_families {
        for (fam, _) in &families {
            entries.push(Entry {
                label: family_label(fam).to_string(),
                color: RGBColor(90, 90, 90),
                marker: Some(marker_of(fam)),
                swatch: Swatch::Marker,
            });
        }
    }
    if !means.is_empty() {
        entries.push(Entry {
            label: "mean over datasets".into(),
            color: BLACK,
            marker: Some(Marker::Circle),
            swatch: Swatch::Line,
        });
    }
    let legend = Legend::new(entries, LEGEND_H);
    let datasets: BTreeSet<&str> = groups.iter().map(|g| g.0).collect();
    let mut subtitle = format!("{} datasets · mean over folds, bars ± 1 sd", datasets.len());
    if skipped > 0 {
        subtitle += &format!(" · {skipped} summaries without a model size or R² not shown");
    }

    let title = marked_title(TITLE, summaries.iter().map(|s| s.model.as_str()));
    render(PLOT_W + legend.width(), PLOT_H, |root| {
        let body = header(root, &title, &subtitle)?;
        let (plot, legend_area) = body.split_horizontally(PLOT_W);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d((x_lo - pad)..(x_hi + pad), y_lo..y_hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_label_formatter(&tick)
            .x_desc("model size (parameters, log scale)")
            .y_desc("test R²")
            .label_style((FONT, TICK_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .draw()?;
        for &x in &sizes {
            chart.draw_series(std::iter::once(PathElement::new(vec![(x, y_lo), (x, y_hi)], BLACK.mix(0.08))))?;
        }
        if y_lo < 0.0 && y_hi > 0.0 {
            let zero = vec![(x_lo - pad, 0.0), (x_hi + pad, 0.0)];
            chart.draw_series(std::iter::once(PathElement::new(zero, BLACK.mix(0.4))))?;
        }
        let (width, alpha, radius) = if crowded { (1, 0.7, 3) } else { (2, 1.0, 4) };
        for (key, points) in &lines {
            let color = color_of(key);
            chart.draw_series(LineSeries::new(
                points.iter().map(|&(x, m, _)| (x, m)),
                color.mix(alpha).stroke_width(width),
            ))?;
            for &(x, m, sd) in points.iter().filter(|p| p.2.is_finite() && p.2 > 0.0) {
                let (px, lo) = chart.backend_coord(&(x, m - sd));
                let (_, hi) = chart.backend_coord(&(x, m + sd));
                let bar = vec![(px - 4, lo), (px + 4, lo), (px, lo), (px, hi), (px - 4, hi), (px + 4, hi)];
                root.draw(&PathElement::new(bar, color.mix(if crowded { 0.3 } else { 0.7 }).stroke_width(1)))?;
            }
        }
        for (key, points) in &lines {
            for &(x, m, _) in points {
                draw_marker(
                    root,
                    chart.backend_coord(&(x, m)),
                    marker_of(key.2),
                    color_of(key).mix(alpha).into(),
                    radius,
                )?;
            }
        }
        for ((_, fam), points) in &means {
            chart.draw_series(LineSeries::new(points.iter().copied(), BLACK.stroke_width(3)))?;
            for &p in points {
                draw_marker(root, chart.backend_coord(&p), marker_of(fam), BLACK.into(), 5)?;
            }
        }
        let bottom = chart.plotting_area().get_pixel_range().1.end;
        let ticks: Vec<(i32, String)> =
            sizes.iter().map(|&x| (chart.backend_coord(&(x, y_lo)).0, format_size(10f64.powf(x)))).collect();
        x_tick_labels(root, bottom, &ticks)?;
        legend.draw(&legend_area)
    })
}

/// Per (compression, family), the mean over datasets of the mean test R² at each size, taken over
/// the datasets that have every size of that family, so the curve is not bent by which datasets
/// happen to have which size; left out below two such datasets (the mean of one line is that line).
fn mean_lines<'a>(
    lines: &BTreeMap<(&'a str, &'a str, &'a str), Vec<Point>>,
) -> BTreeMap<(&'a str, &'a str), Vec<(f64, f64)>> {
    let mut by_family: BTreeMap<(&str, &str), Vec<&Vec<Point>>> = BTreeMap::new();
    for (&(_, compression, fam), points) in lines {
        by_family.entry((compression, fam)).or_default().push(points);
    }
    let mut out = BTreeMap::new();
    for (key, datasets) in by_family {
        let mut sizes: Vec<f64> = datasets.iter().flat_map(|d| d.iter().map(|p| p.0)).collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        let at = |d: &Vec<Point>, x: f64| d.iter().find(|p| (p.0 - x).abs() < 1e-9).map(|p| p.1);
        let complete: Vec<&Vec<Point>> =
            datasets.into_iter().filter(|d| sizes.iter().all(|&x| at(d, x).is_some())).collect();
        if complete.len() < 2 {
            continue;
        }
        let mean = |x: f64| complete.iter().filter_map(|d| at(d, x)).sum::<f64>() / complete.len() as f64;
        out.insert(key, sizes.iter().map(|&x| (x, mean(x))).collect());
    }
    out
}
