//! A strict FASTA reader for protein sequences.
//!
//! Strict because a silently skipped record means a silently missing variant: an empty file, text
//! before the first header, an empty id, a duplicate id or an empty sequence is an error naming the
//! file and line.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A FASTA record: the id is the header up to the first whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Identifier (header text before the first whitespace).
    pub id: String,
    /// The sequence, lines concatenated, whitespace removed.
    pub sequence: String,
    /// 1-based line number of the header.
    pub line: usize,
}

/// A FASTA input problem.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct FastaError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (0 when about the whole file).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads and validates a FASTA file.
pub fn read(path: &Path) -> Result<Vec<Record>, FastaError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| FastaError { path: path.into(), line: 0, message: e.to_string() })?;
    parse(path, &text)
}

/// Parses FASTA text; `path` only labels errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>, FastaError> {
    let err = |line: usize, message: String| FastaError { path: path.into(), line, message };
    let mut records: Vec<Record> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(header) = l.strip_prefix('>') {
            if let Some(prev) = records.last()
                && prev.sequence.is_empty()
            {
                return Err(err(prev.line, format!("record `{}` has an empty sequence", prev.id)));
            }
            let id = header.split_whitespace().next().unwrap_or("").to_owned();
            if id.is_empty() {
                return Err(err(line, "header without an id".into()));
            }
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(err(line, format!("duplicate id `{id}` (first seen on line {first})")));
            }
            records.push(Record { id, sequence: String::new(), line });
        } else {
            let Some(rec) = records.last_mut() else {
                return Err(err(line, "sequence data before the first `>` header (is this a FASTA file?)".into()));
            };
            rec.sequence.extend(l.chars().filter(|c| !c.is_whitespace()));
        }
    }
    match records.last() {
        None => Err(err(0, "no FASTA records (empty file)".into())),
        Some(last) if last.sequence.is_empty() => {
            Err(err(last.line, format!("record `{}` has an empty sequence", last.id)))
        }
        Some(_) => Ok(records),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Record>, String> {
        parse(Path::new("x.fasta"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn multi_line_records() {
        let r = p(">a desc\nMK\nTA\n\n>b\nQQ\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].id.as_str(), r[0].sequence.as_str(), r[1].line), ("a", "MKTA", 5));
    }

    #[test]
    fn bad_inputs_name_file_and_line() {
        assert_eq!(p("").unwrap_err(), "x.fasta:0: no FASTA records (empty file)");
        assert_eq!(
            p("MKT\n>a\nM").unwrap_err(),
            "x.fasta:1: sequence data before the first `>` header (is this a FASTA file?)"
        );
        assert_eq!(p(">a\nM\n>a\nK").unwrap_err(), "x.fasta:3: duplicate id `a` (first seen on line 1)");
        assert_eq!(p(">a\n>b\nK").unwrap_err(), "x.fasta:1: record `a` has an empty sequence");
        assert_eq!(p(">a\nK\n>b\n").unwrap_err(), "x.fasta:3: record `b` has an empty sequence");
        assert_eq!(p(">\nK").unwrap_err(), "x.fasta:1: header without an id");
    }
}
