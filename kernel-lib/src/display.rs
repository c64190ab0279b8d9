//! evcxr's display protocol and the small HTML helpers the displays share.
//!
//! evcxr calls `evcxr_display(&self)` on a cell's final value when the type has such a method; the
//! method prints blocks `EVCXR_BEGIN_CONTENT <mime>\n<content>\nEVCXR_END_CONTENT` to stdout. The
//! kernel collects every block a cell prints into one result, keyed by MIME type, so a cell shows
//! one HTML and one SVG at most (a later block of the same type replaces an earlier one).
use std::io::Write;

/// Prints `(mime, content)` blocks in evcxr's protocol, under one stdout lock so that nothing else
/// interleaves.
pub(crate) fn emit(blocks: &[(&str, &str)]) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (mime, content) in blocks {
        // A content line equal to the end marker would cut the block short.
        let content = content.replace("\nEVCXR_END_CONTENT\n", "\nEVCXR_END_CONTENT \n");
        // Errors writing to stdout cannot be reported anywhere better than stderr.
        if let Err(e) = writeln!(out, "EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT") {
            eprintln!("esmdb: could not send a {mime} display to the notebook: {e}");
        }
    }
    let _ = out.flush();
}

/// [`emit`] for owned pairs.
pub(crate) fn emit_owned(blocks: &[(String, String)]) {
    emit(&blocks.iter().map(|(m, c)| (m.as_str(), c.as_str())).collect::<Vec<_>>());
}

/// Prints a line of text to the cell's output (stdout is where a notebook shows it).
#[allow(clippy::print_stdout)]
pub(crate) fn say(text: &str) {
    println!("{text}");
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coloured notice box: `kind` is `warning` (red), `note` (amber) or `ok` (green).
pub(crate) fn notice_html(kind: &str, html_body: &str) -> String {
    let (border, background) = match kind {
        "warning" => ("#c62828", "#fdecea"),
        "note" => ("#b26a00", "#fff4e5"),
        _ => ("#2e7d32", "#edf7ed"),
    };
    let style = format!("border-left:6px solid {border};background:{background};padding:8px 12px;margin:4px 0");
    format!("<div style=\"{style}\">{html_body}</div>")
}

/// A plain HTML table of strings (headers, then rows), for displays that are not query results.
pub(crate) fn simple_table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<table>");
    if !caption.is_empty() {
        html.push_str(&format!("<caption style=\"caption-side:top;text-align:left\">{}</caption>", escape(caption)));
    }
    html.push_str("<thead><tr>");
    for h in headers {
        html.push_str(&format!("<th>{}</th>", escape(h)));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{}</td>", escape(cell)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// A float for a table cell: 4 decimals in the usual range, scientific notation outside it.
pub(crate) fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn floats_are_short() {
        assert_eq!(float(0.419349288), "0.4193");
        assert_eq!(float(0.0), "0.0000");
        assert_eq!(float(1.5e-7), "1.500e-7");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
