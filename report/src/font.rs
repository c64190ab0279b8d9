//! The one font of every figure, embedded so that layout and rasterization need no system fonts.
//!
//! plotters' SVG backend writes `<text font-family="sans-serif">` but measures text (label areas,
//! legend widths) through its font backend; with the `ab_glyph` feature that backend only knows
//! fonts registered here. resvg maps `sans-serif` to the same font, so PNGs match the layout.

use std::sync::{Arc, Once, OnceLock};

use resvg::usvg::fontdb;

/// DejaVu Sans 2.37 (Bitstream Vera license, see `assets/DejaVuSans-LICENSE.txt`).
pub(crate) const DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// Family name inside the font file, what fontdb matches on.
pub(crate) const FAMILY: &str = "DejaVu Sans";

/// Registers the font as plotters' `sans-serif` (once per process; cheap afterwards).
pub(crate) fn register_for_plotters() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are ours and checked by a test; a failure would only make text unmeasurable,
        // which the figure code turns into an explanatory SVG.
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, DEJAVU_SANS);
    });
}

/// A font database holding only the embedded font, with every generic family mapped to it.
pub(crate) fn database() -> Arc<fontdb::Database> {
    static DB: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_source(fontdb::Source::Binary(Arc::new(DEJAVU_SANS)));
        db.set_sans_serif_family(FAMILY);
        db.set_serif_family(FAMILY);
        db.set_monospace_family(FAMILY);
        db.set_cursive_family(FAMILY);
        db.set_fantasy_family(FAMILY);
        Arc::new(db)
    })
    .clone()
}
