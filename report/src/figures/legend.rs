//! The legend panel beside a plot: one line per series, in as many columns as the height needs,
//! measured with the embedded font so the canvas can be widened to fit it before drawing.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::frame::{Area, DrawResult, FONT, Marker, TICK_SIZE, draw_marker, shorten, text_width};

/// What a legend line shows left of its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Swatch {
    /// A short line (line plots), with the marker on it if there is one.
    Line,
    /// A filled box (bars).
    Bar,
    /// Only the marker (scatter plots).
    Marker,
}

/// One legend line.
pub(super) struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub marker: Option<Marker>,
    pub swatch: Swatch,
}

/// A legend beside the plot, in as many columns as the plot's height needs.
pub(super) struct Legend {
    entries: Vec<Entry>,
    rows: usize,
    col_width: i32,
}

const ROW_H: i32 = 20;
const SWATCH: i32 = 34;
const LEGEND_TOP: i32 = 14;

impl Legend {
    /// Lays out `entries` for a panel `height` pixels tall; labels are cut at 40 characters.
    pub fn new(mut entries: Vec<Entry>, height: u32) -> Self {
        for e in &mut entries {
            e.label = shorten(&e.label, 40);
        }
        let rows_fit = ((height as i32 - 2 * LEGEND_TOP) / ROW_H).max(1) as usize;
        let cols = entries.len().div_ceil(rows_fit).max(1);
        let rows = entries.len().div_ceil(cols);
        let widest = entries.iter().map(|e| text_width(&e.label, TICK_SIZE)).max().unwrap_or(0);
        Legend { entries, rows, col_width: SWATCH + widest + 16 }
    }

    /// Width of the panel in pixels (0 without entries).
    pub fn width(&self) -> u32 {
        if self.entries.is_empty() {
            0
        } else {
            (self.entries.len().div_ceil(self.rows.max(1)) as i32 * self.col_width + 8) as u32
        }
    }

    /// Draws the legend into its panel.
    pub fn draw(&self, area: &Area) -> DrawResult {
        let text = (FONT, TICK_SIZE).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, e) in self.entries.iter().enumerate() {
            let x = (i / self.rows) as i32 * self.col_width;
            let y = LEGEND_TOP + (i % self.rows) as i32 * ROW_H + ROW_H / 2;
            let style = ShapeStyle::from(&e.color).stroke_width(2);
            match e.swatch {
                Swatch::Line => area.draw(&PathElement::new(vec![(x + 4, y), (x + SWATCH - 6, y)], style))?,
                Swatch::Bar => area.draw(&Rectangle::new([(x + 8, y - 6), (x + 20, y + 6)], style.filled()))?,
                Swatch::Marker => {}
            }
            if let Some(marker) = e.marker {
                draw_marker(area, (x + (SWATCH - 2) / 2, y), marker, style, 4)?;
            }
            area.draw(&Text::new(e.label.as_str(), (x + SWATCH, y), text.clone()))?;
        }
        Ok(())
    }
}
