//! The strict FASTA reader every FASTA input goes through.
//!
//! Strict because a silently skipped record means a silently missing variant: an empty file, text before the
//! first header, an empty id, a duplicate id, or a sequence [`crate::normalize`] refuses is an error naming
//! the file and line (and the record's id).
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::alphabet::{SequenceError, normalize};

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

/// A FASTA input problem: `path:line: what` (`path: what` when about the whole file).
#[derive(Debug)]
pub struct FastaError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (0 when about the whole file).
    pub line: usize,
    /// What is wrong.
    pub kind: FastaErrorKind,
}

/// What is wrong with a FASTA input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FastaErrorKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// No record at all.
    #[error("no FASTA records (empty file)")]
    Empty,
    /// Text before the first `>` header.
    #[error("sequence data before the first `>` header (is this a FASTA file?)")]
    NoHeader,
    /// A `>` header with nothing after it.
    #[error("header without an id")]
    NoId,
    /// An id seen before in the same file.
    #[error("duplicate id `{id}` (first seen on line {first_line})")]
    DuplicateId {
        /// The id.
        id: String,
        /// 1-based line of its first header.
        first_line: usize,
    },
    /// A sequence [`crate::normalize`] refuses (the line is its header's).
    #[error("{0}")]
    Sequence(#[source] SequenceError),
}

impl fmt::Display for FastaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.path.display(), self.kind),
            line => write!(f, "{}:{line}: {}", self.path.display(), self.kind),
        }
    }
}

impl std::error::Error for FastaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            FastaErrorKind::Read(e) => Some(e),
            FastaErrorKind::Sequence(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads and validates a FASTA file.
pub fn read(path: &Path) -> Result<Vec<Record>, FastaError> {
    let text = std::fs::read_to_string(path).map_err(|e| FastaError {
        path: path.into(),
        line: 0,
        kind: FastaErrorKind::Read(e),
    })?;
    parse(path, &text)
}

/// Parses FASTA text; `path` only labels errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>, FastaError> {
    let err = |line: usize, kind: FastaErrorKind| FastaError { path: path.into(), line, kind };
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
                return Err(err(line, FastaErrorKind::NoId));
            }
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(err(line, FastaErrorKind::DuplicateId { id, first_line: first }));
            }
            raw.push((id, String::new(), line));
        } else {
            let Some(rec) = raw.last_mut() else {
                return Err(err(line, FastaErrorKind::NoHeader));
            };
            rec.1.push_str(l);
        }
    }
    if raw.is_empty() {
        return Err(err(0, FastaErrorKind::Empty));
    }
    raw.into_iter()
        .map(|(id, sequence, line)| match normalize(&sequence) {
            Ok(sequence) => Ok(Record { id, sequence, line }),
            Err(refusal) => Err(err(line, FastaErrorKind::Sequence(refusal.for_id(&id)))),
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
        assert_eq!(p("").unwrap_err(), "x.fasta: no FASTA records (empty file)");
        assert_eq!(p(" \n\n").unwrap_err(), "x.fasta: no FASTA records (empty file)");
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

    #[test]
    fn a_refused_sequence_is_a_typed_source() {
        let e = parse(Path::new("x.fasta"), ">v\nMK*\n").unwrap_err();
        let FastaErrorKind::Sequence(refused) = &e.kind else { panic!("{e:?}") };
        assert_eq!(refused.id, "v");
        assert!(matches!(&refused.refusal, crate::Refusal::Letter { position: 3, found, .. } if found == "*"));
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source, Some(refused.to_string()));
        assert!(e.to_string().ends_with(&refused.to_string()), "the message carries its source's text");
    }
}
