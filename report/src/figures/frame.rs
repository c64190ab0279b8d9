//! What every figure shares: the SVG canvas, fonts and sizes, the palette (matplotlib's tab10, as
//! in the paper's figures) with markers to tell more than ten series apart, a legend panel beside
//! the plot, ranges that stay readable for one point or negative R², and the "nothing to plot" page.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font;

/// A drawing area of the SVG canvas, in pixels from the canvas' top-left corner.
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// Any plotters failure; turned into an explanatory SVG by [`render`].
pub(super) type DrawResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Font family in the SVG; browsers use their own sans-serif, our measurements and PNGs DejaVu Sans.
pub(super) const FONT: &str = "sans-serif";
/// plotters' font sizes (the SVG's `font-size` is this / 1.24).
pub(super) const TITLE_SIZE: f64 = 24.0;
pub(super) const SUBTITLE_SIZE: f64 = 15.0;
pub(super) const LABEL_SIZE: f64 = 17.0;
pub(super) const TICK_SIZE: f64 = 15.0;
/// Size of the plot part of a figure; a legend widens the canvas instead of squeezing the plot.
pub(super) const PLOT_W: u32 = 720;
pub(super) const PLOT_H: u32 = 500;
/// Height left for a legend under the title and subtitle.
pub(super) const LEGEND_H: u32 = PLOT_H - 70;
pub(super) const GREY: RGBColor = RGBColor(90, 90, 90);

const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Point markers; series 0–9 get circles, 10–19 squares, … so more than ten series stay apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// Color `i` of `n`: tab10 up to ten, else hues stepped by the golden ratio (neighbours in the
/// legend differ most) in two lightnesses, so forty datasets get forty different colours.
pub(super) fn color(i: usize, n: usize) -> RGBColor {
    if n <= TAB10.len() {
        return TAB10[i % TAB10.len()];
    }
    let lightness = if i.is_multiple_of(2) { 0.38 } else { 0.55 };
    let (r, g, b) = HSLColor((i as f64 * 0.618_034).fract(), 0.7, lightness).rgb();
    RGBColor(r, g, b)
}

/// Axis tick text with two decimals, never `-0.00`.
pub(super) fn tick(v: &f64) -> String {
    let text = format!("{v:.2}");
    if text == "-0.00" { "0.00".into() } else { text }
}

/// Color and marker of the `i`-th series.
pub(super) fn series_style(i: usize) -> (RGBColor, Marker) {
    let markers = [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond];
    (TAB10[i % TAB10.len()], markers[(i / TAB10.len()) % markers.len()])
}

/// Draws a filled marker of radius `r` centred on a canvas pixel.
pub(super) fn draw_marker(area: &Area, (x, y): (i32, i32), marker: Marker, style: ShapeStyle, r: i32) -> DrawResult {
    let style = style.filled();
    match marker {
        Marker::Circle => area.draw(&Circle::new((x, y), r, style))?,
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], style))?,
        Marker::Triangle => {
            area.draw(&Polygon::new(vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)], style))?
        }
        Marker::Diamond => {
            let d = r + 1;
            area.draw(&Polygon::new(vec![(x, y - d), (x + d, y), (x, y + d), (x - d, y)], style))?
        }
    }
    Ok(())
}

/// Text width in pixels as plotters will lay it out (DejaVu Sans metrics).
pub(super) fn text_width(text: &str, size: f64) -> i32 {
    font::register_for_plotters();
    match (FONT, size).into_font().box_size(text) {
        Ok((w, _)) => w as i32,
        Err(_) => (text.chars().count() as f64 * size * 0.6) as i32,
    }
}

/// Cuts a label to `max` characters with an ellipsis, so one long name cannot eat the figure.
pub(super) fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        label.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// Draws into a `width` × `height` SVG with a white background. A plotters error (which the SVG
/// backend only raises for text it cannot measure) yields a figure that says so, never a panic.
pub(super) fn render(width: u32, height: u32, draw: impl FnOnce(&Area) -> DrawResult) -> String {
    font::register_for_plotters();
    let mut svg = String::new();
    let result: DrawResult = (|| {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    match result {
        Ok(()) => svg,
        Err(e) => plain_message_svg(width, height, &format!("figure could not be drawn: {e}")),
    }
}

/// What a figure drawn from random-weight stand-ins adds to its title, so it cannot pass for a
/// result (short enough for the title's width; the console says why).
pub(super) const STAND_IN_MARK: &str = "RANDOM WEIGHTS";

/// `title`, marked when any of `models` is a random-weight stand-in: esmdb names those
/// `random-…` (`scripts/run`, the notebooks' `model_or_random`).
pub(super) fn marked_title<'a>(title: &str, models: impl IntoIterator<Item = &'a str>) -> String {
    if models.into_iter().any(|m| m.starts_with("random-")) {
        format!("{title} ({STAND_IN_MARK})")
    } else {
        title.to_owned()
    }
}

/// Title (and an optional grey subtitle) at the top; returns the area below them.
pub(super) fn header<'a>(root: &Area<'a>, title: &str, subtitle: &str) -> DrawResult<Area<'a>> {
    let body = root.titled(title, (FONT, TITLE_SIZE))?;
    if subtitle.is_empty() {
        return Ok(body);
    }
    Ok(body.titled(subtitle, (FONT, SUBTITLE_SIZE).into_font().color(&GREY))?)
}

/// A figure that has only a title and centred lines of explanation (empty or unplottable input).
pub(super) fn message(title: &str, lines: &[String]) -> String {
    let widest = lines.iter().map(|l| text_width(l, LABEL_SIZE)).max().unwrap_or(0) + 40;
    render(PLOT_W.max(widest as u32), PLOT_H / 2, |root| {
        let body = header(root, title, "")?;
        let (w, h) = body.dim_in_pixel();
        let step = 22;
        let top = h as i32 / 2 - step * (lines.len() as i32 - 1) / 2;
        let style = (FONT, LABEL_SIZE).into_font().color(&GREY).pos(Pos::new(HPos::Center, VPos::Center));
        for (i, line) in lines.iter().enumerate() {
            body.draw(&Text::new(line.as_str(), (w as i32 / 2, top + step * i as i32), style.clone()))?;
        }
        Ok(())
    })
}

/// The last resort when plotters itself failed: a hand-written SVG with the message.
fn plain_message_svg(width: u32, height: u32, text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\">\n<rect width=\"100%\" height=\"100%\" fill=\"#FFFFFF\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"14\">{escaped}</text>\n</svg>\n",
        width / 2,
        height / 2
    )
}

/// Tick marks and labels under a plot whose bottom edge is at canvas row `bottom`, at canvas
/// columns; a label that would overlap the previous one is left out (its tick stays).
pub(super) fn x_tick_labels(root: &Area, bottom: i32, ticks: &[(i32, String)]) -> DrawResult {
    let style = (FONT, TICK_SIZE).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    let mut right_edge = i32::MIN / 2;
    for (x, label) in ticks {
        root.draw(&PathElement::new(vec![(*x, bottom), (*x, bottom + 5)], BLACK))?;
        let half = text_width(label, TICK_SIZE) / 2;
        if x - half > right_edge + 6 {
            root.draw(&Text::new(label.as_str(), (*x, bottom + 8), style.clone()))?;
            right_edge = x + half;
        }
    }
    Ok(())
}

/// `[lo, hi]` around the finite values with 8% headroom; a single value or a flat set gets
/// ±`min_span`/2 so the point is not drawn on the frame. `None` when nothing is finite.
pub(super) fn padded_range(values: impl IntoIterator<Item = f64>, min_span: f64) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    if span < min_span {
        let mid = (lo + hi) / 2.0;
        return Some((mid - min_span / 2.0, mid + min_span / 2.0));
    }
    Some((lo - 0.08 * span, hi + 0.08 * span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_stay_readable() {
        assert_eq!(padded_range([0.5], 0.1), Some((0.45, 0.55)));
        assert_eq!(padded_range([f64::NAN], 0.1), None);
        assert_eq!(padded_range([], 0.1), None);
        let (lo, hi) = padded_range([-3.0, 1.0, f64::NAN], 0.1).unwrap_or_default();
        assert!(lo < -3.0 && hi > 1.0);
    }

    #[test]
    fn embedded_font_measures_text() {
        let narrow = text_width("iiii", TICK_SIZE);
        let wide = text_width("WWWW", TICK_SIZE);
        assert!(narrow > 0 && wide > 2 * narrow, "{narrow} {wide}");
    }
}
