//! A strict FASTA reader: every problem is an error naming the file and line, because a silently
//! skipped record would change which variants a model is trained on.
use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One FASTA record, sequence as written (not yet normalized).
#[derive(Debug, Clone)]
pub struct FastaRecord {
    /// The first word of the header.
    pub id: String,
    /// The sequence lines joined.
    pub sequence: String,
    /// 1-based line of the header.
    pub line: usize,
}

/// Parses FASTA text read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Vec<FastaRecord>> {
    if text.trim().is_empty() {
        return Err(Error::EmptyFile { path: path.to_owned() });
    }
    let mut records: Vec<FastaRecord> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.trim();
        if let Some(header) = content.strip_prefix('>') {
            finish(path, records.last())?;
            let id = header.split_whitespace().next().unwrap_or("").to_owned();
            if id.is_empty() {
                return Err(Error::Input { path: path.to_owned(), line, message: "header without an id".into() });
            }
            if let Some(&first_line) = seen.get(&id) {
                return Err(Error::DuplicateId { path: path.to_owned(), line, first_line, id });
            }
            seen.insert(id.clone(), line);
            records.push(FastaRecord { id, sequence: String::new(), line });
        } else if content.is_empty() {
            continue;
        } else {
            match records.last_mut() {
                Some(r) => r.sequence.push_str(content),
                None => {
                    return Err(Error::Input {
                        path: path.to_owned(),
                        line,
                        message: "sequence data before the first `>` header (not FASTA, or the header is missing)"
                            .into(),
                    });
                }
            }
        }
    }
    finish(path, records.last())?;
    Ok(records)
}

fn finish(path: &Path, record: Option<&FastaRecord>) -> Result<()> {
    match record {
        Some(r) if r.sequence.is_empty() => {
            Err(Error::EmptySequence { path: path.to_owned(), line: r.line, id: r.id.clone() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("x.fasta"), text).map(|_| ()).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn parses_multiline_records() {
        let r = parse(Path::new("x.fasta"), ">a desc\nMK\nTA\n\n>b\nQQ\n").unwrap_or_default();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].id.as_str(), r[0].sequence.as_str(), r[0].line), ("a", "MKTA", 1));
        assert_eq!(r[1].line, 5);
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(err(""), "x.fasta: file is empty");
        assert!(err("MKT\n>a\nMK\n").starts_with("x.fasta:1: sequence data before"));
        assert_eq!(err(">a\nMK\n>b\n>c\nM\n"), "x.fasta:3: sequence `b` is empty");
        assert_eq!(err(">a\nMK\n>a\nM\n"), "x.fasta:3: duplicate id `a` (first seen on line 1)");
    }
}
