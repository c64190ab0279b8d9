//! The strict FASTA reader every FASTA input goes through.
//!
//! Strict because a silently skipped record means a silently missing variant: an empty file, text before the
//! first header, an empty id, a duplicate id, or a sequence [`crate::normalize`] refuses is an error naming
//! the file and line (and the record's id).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::alphabet::normalize;

/// A FASTA record: the id is the header up to the first whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Identifier (header text before the first whitespace).
    pub id: String,
    /// The sequence, normalized (uppercase, no whitespace; see [`crate::normalize`]).
    pub sequence: String,
    /// 1-based line number of the header.
    pub line: usize,
}

/// A FASTA input problem: `path:line: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
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
    let text = std::fs::read_to_string(path).map_err(|e| FastaError {
        path: path.into(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Parses FASTA text; `path` only labels errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>, FastaError> {
    let err = |line: usize, message: String| FastaError { path: path.into(), line, message };
    let mut raw: Vec<(String, String, usize)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, text_line) in text.lines().enumerate() {
        let line = i + 1;
        let l = text_line.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(header) = l.strip_prefix('>') {
            let id = header.split_whitespace().next().unwrap_or("").to_owned();
            if id.is_empty() {
                return Err(err(line, "header without an id".into()));
            }
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(err(line, format!("duplicate id `{id}` (first seen on line {first})")));
            }
            raw.push((id, String::new(), line));
        } else {
            let Some(rec) = raw.last_mut() else {
                return Err(err(line, "sequence data before the first `>` header (is this a FASTA file?)".into()));
            };
            rec.1.push_str(l);
        }
    }
    if raw.is_empty() {
        return Err(err(0, "no FASTA records (empty file)".into()));
    }
    raw.into_iter()
        .map(|(id, sequence, line)| match normalize(&sequence) {
            Ok(sequence) => Ok(Record { id, sequence, line }),
            Err(refusal) => Err(err(line, refusal.for_id(&id).to_string())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Record>, String> {
        parse(Path::new("x.fasta"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn multi_line_records_are_joined_and_normalized() {
        let r = p(">a desc\nmk\nTA\n\n>b\nQ Q\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].id.as_str(), r[0].sequence.as_str(), r[1].line), ("a", "MKTA", 5));
        assert_eq!(r[1].sequence, "QQ");
    }

    #[test]
    fn bad_inputs_name_file_line_and_id() {
        assert_eq!(p("").unwrap_err(), "x.fasta:0: no FASTA records (empty file)");
        assert_eq!(
            p("MKT\n>a\nM").unwrap_err(),
            "x.fasta:1: sequence data before the first `>` header (is this a FASTA file?)"
        );
        assert_eq!(p(">a\nM\n>a\nK").unwrap_err(), "x.fasta:3: duplicate id `a` (first seen on line 1)");
        assert_eq!(p(">a\n>b\nK").unwrap_err(), "x.fasta:1: sequence `a` is empty");
        assert_eq!(p(">a\nK\n>b\n").unwrap_err(), "x.fasta:3: sequence `b` is empty");
        assert_eq!(p(">\nK").unwrap_err(), "x.fasta:1: header without an id");
        let stop = p(">a\nMK\n>v7 nonsense\nMKT*\n").unwrap_err();
        assert!(stop.starts_with("x.fasta:3: sequence `v7`: `*` at position 4 is a stop codon"), "{stop}");
        assert!(
            p(">g\nM-K\n").unwrap_err().starts_with("x.fasta:1: sequence `g`: `-` at position 2 is an alignment gap")
        );
    }
}
