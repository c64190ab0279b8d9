//! SVG → PNG with resvg, for files and reports that cannot embed SVG. Text is shaped with the
//! embedded DejaVu Sans (every generic family maps to it), so the output does not depend on the
//! fonts of the machine and matches the layout plotters computed.

use resvg::{tiny_skia, usvg};

use crate::error::{Error, Result};
use crate::font;

/// Rasterizes an SVG at its own pixel size.
pub fn svg_to_png(svg: &str) -> Result<Vec<u8>> {
    svg_to_png_scaled(svg, 1.0)
}

/// Rasterizes an SVG at `scale` × its pixel size (2.0 for print or high-DPI screens).
pub fn svg_to_png_scaled(svg: &str, scale: f32) -> Result<Vec<u8>> {
    let options = usvg::Options { fontdb: font::database(), font_family: font::FAMILY.into(), ..Default::default() };
    let tree = usvg::Tree::from_str(svg, &options).map_err(Error::Svg)?;
    let size = tree.size();
    let (w, h) = ((size.width() * scale).ceil(), (size.height() * scale).ceil());
    let too_big = || Error::Render(format!("cannot allocate a {w}×{h} pixel canvas (scale {scale})"));
    if !(w >= 1.0 && h >= 1.0 && w * h <= 1e9) {
        return Err(too_big());
    }
    let mut pixmap = tiny_skia::Pixmap::new(w as u32, h as u32).ok_or_else(too_big)?;
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| Error::Render(e.to_string()))
}
