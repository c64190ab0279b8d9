//! evcxr's display protocol.
//!
//! evcxr calls `evcxr_display(&self)` on a cell's final value when the type has such a method; the method
//! prints blocks `EVCXR_BEGIN_CONTENT <mime>\n<content>\nEVCXR_END_CONTENT` to stdout. The kernel collects
//! every block a cell prints into one result, keyed by MIME type.
use std::io::Write;

use crate::wire::Value;

/// Prints `(mime, content)` blocks under one stdout lock, so that nothing else interleaves.
pub(crate) fn emit(blocks: &[(&str, &str)]) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (mime, content) in blocks {
        // A content line equal to the end marker would cut the block short.
        let content = content.replace("\nEVCXR_END_CONTENT\n", "\nEVCXR_END_CONTENT \n");
        if let Err(e) = writeln!(out, "EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT") {
            eprintln!("esmdb: could not send a {mime} display to the notebook: {e}");
        }
    }
    let _ = out.flush();
}

/// Shows the `(mime, content)` pairs a `display` call of the library returned, or the error.
pub(crate) fn emit_reply(reply: crate::Result<Value>) {
    let blocks = reply.and_then(|v| {
        v.into_list()?
            .into_iter()
            .map(|pair| {
                let mut pair = pair.into_list()?.into_iter();
                match (pair.next(), pair.next()) {
                    (Some(mime), Some(content)) => Ok((mime.into_string()?, content.into_string()?)),
                    _ => Err(crate::Error::msg("a display block is not a (mime, content) pair")),
                }
            })
            .collect::<crate::Result<Vec<(String, String)>>>()
    });
    match blocks {
        Ok(blocks) => emit(&blocks.iter().map(|(m, c)| (m.as_str(), c.as_str())).collect::<Vec<_>>()),
        Err(e) => {
            emit(&[("text/html", &format!("<pre>{}</pre>", escape(&e.to_string()))), ("text/plain", &e.to_string())])
        }
    }
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
