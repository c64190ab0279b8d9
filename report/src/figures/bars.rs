//! Grouped bars, one group per label and one bar per series (embedding-cache statistics: cached vs
//! embedded sequences per dataset). Long or many labels are turned upright instead of overlapping.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::frame::{
    FONT, LEGEND_H, PLOT_H, PLOT_W, TICK_SIZE, header, message, padded_range, render, series_style, shorten,
    text_width, x_tick_labels,
};
use super::legend::{Entry, Legend, Swatch};

/// Bars for `series[s].1[i]` at `labels[i]`, coloured by series with a legend; bars grow from 0
/// (negative values downwards), NaN and missing values leave a gap, and values are printed above
/// the bars while there are at most 24 of them.
pub fn bar_chart(title: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let value = |s: usize, i: usize| series[s].1.get(i).copied().filter(|v| v.is_finite());
    let finite: Vec<f64> = (0..series.len()).flat_map(|s| (0..labels.len()).filter_map(move |i| value(s, i))).collect();
    if finite.is_empty() {
        let what = format!("{} labels × {} series, no finite value", labels.len(), series.len());
        return message(title, &[format!("Nothing to plot: {what}.")]);
    }
    let (lo, hi) = padded_range(finite.iter().copied().chain([0.0]), 1.0).unwrap_or((0.0, 1.0));
    let (lo, hi) = (if finite.iter().all(|v| *v >= 0.0) { 0.0 } else { lo }, hi);

    let labels: Vec<String> = labels.iter().map(|l| shorten(l, 32)).collect();
    let group_px = (PLOT_W as i32 - 100) / labels.len() as i32;
    let upright = labels.iter().any(|l| text_width(l, TICK_SIZE) + 8 > group_px);
    let label_area = if upright { labels.iter().map(|l| text_width(l, TICK_SIZE)).max().unwrap_or(0) + 20 } else { 36 };
    let entries = series
        .iter()
        .enumerate()
        .map(|(s, (name, _))| Entry {
            label: name.clone(),
            color: series_style(s).0,
            marker: None,
            swatch: Swatch::Bar,
        })
        .collect();
    let legend = Legend::new(entries, LEGEND_H);
    let n_bars = finite.len();
    let width = 0.8 / series.len() as f64;

    render(PLOT_W + legend.width(), PLOT_H + label_area as u32, |root| {
        let body = header(root, title, "")?;
        let (plot, legend_area) = body.split_horizontally(PLOT_W);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(label_area)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..labels.len() as f64, lo..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_label_formatter(&|v| compact(*v))
            .label_style((FONT, TICK_SIZE))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .draw()?;
        for (s, _) in series.iter().enumerate() {
            let color = series_style(s).0;
            let bars = (0..labels.len()).filter_map(|i| {
                let v = value(s, i)?;
                let x0 = i as f64 + 0.1 + s as f64 * width;
                Some(Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], color.filled()))
            });
            chart.draw_series(bars)?;
        }
        if n_bars <= 24 {
            let style = (FONT, TICK_SIZE).into_font().color(&RGBColor(60, 60, 60));
            for s in 0..series.len() {
                for i in 0..labels.len() {
                    let Some(v) = value(s, i) else { continue };
                    let x = i as f64 + 0.1 + (s as f64 + 0.46) * width;
                    let v_pos = if v >= 0.0 { VPos::Bottom } else { VPos::Top };
                    let (px, py) = chart.backend_coord(&(x, v));
                    let dy = if v >= 0.0 { -3 } else { 3 };
                    root.draw(&Text::new(compact(v), (px, py + dy), style.pos(Pos::new(HPos::Center, v_pos))))?;
                }
            }
        }
        let bottom = chart.plotting_area().get_pixel_range().1.end;
        let ticks: Vec<(i32, String)> =
            labels.iter().enumerate().map(|(i, l)| (chart.backend_coord(&(i as f64 + 0.5, lo)).0, l.clone())).collect();
        if upright {
            let style = (FONT, TICK_SIZE)
                .into_font()
                .transform(FontTransform::Rotate270)
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            for (x, label) in &ticks {
                root.draw(&PathElement::new(vec![(*x, bottom), (*x, bottom + 5)], BLACK))?;
                root.draw(&Text::new(label.as_str(), (*x, bottom + 8), style.clone()))?;
            }
        } else {
            x_tick_labels(root, bottom, &ticks)?;
        }
        legend.draw(&legend_area)
    })
}

/// `1234` for whole numbers, else three significant digits (`0.0123`, `45.6`).
fn compact(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(1234.0), "1234");
        assert_eq!(compact(45.678), "45.7");
        assert_eq!(compact(0.012345), "0.0123");
        assert_eq!(compact(-0.5), "-0.500");
    }
}
