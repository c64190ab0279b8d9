//! [`normalize`]: the accept/refuse policy of the crate doc, and [`seq_hash`], the cache's content address.
use std::fmt;

use sha2::{Digest, Sha256};

/// The residue letters of the ESM alphabet, uppercase (any case is accepted on input).
pub const RESIDUES: &str = "ACDEFGHIKLMNPQRSTVWYXBZUO";

/// Why a sequence was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A character (or special token) that is not a residue letter.
    Letter {
        /// 1-based position among the sequence's non-whitespace characters.
        position: usize,
        /// What was found (`*`, `-`, `<mask>`, …).
        found: String,
        /// What it is and what to do.
        reason: &'static str,
    },
    /// Nothing but whitespace.
    Empty,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Letter { position, found, reason } => write!(f, "`{found}` at position {position} {reason}"),
            Refusal::Empty => f.write_str("is empty"),
        }
    }
}

impl std::error::Error for Refusal {}

/// A refused sequence and its id: `sequence `P1`: `*` at position 57 is a stop codon; …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SequenceError {
    /// The sequence's id (FASTA header, `id` column, or `row N` in SQL).
    pub id: String,
    /// Why.
    pub refusal: Refusal,
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.refusal {
            Refusal::Empty => write!(f, "sequence `{}` is empty", self.id),
            other => write!(f, "sequence `{}`: {other}", self.id),
        }
    }
}

impl Refusal {
    /// This refusal, for the sequence `id`.
    pub fn for_id(self, id: &str) -> SequenceError {
        SequenceError { id: id.to_owned(), refusal: self }
    }
}

const GAP: &str = "is an alignment gap: esmdb embeds unaligned sequences (remove the gaps)";
const STOP: &str = "is a stop codon: a nonsense variant has no full-length protein to embed (leave such variants out)";
const DIGIT: &str = "is a digit: sequence lines must hold residue letters only";
const TOKEN: &str = "is a model token, not a residue: inputs hold residue letters only";
const OTHER: &str = "is not a residue letter (the ESM alphabet: ACDEFGHIKLMNPQRSTVWY and X, B, Z, U, O)";

/// The sequence uppercased with whitespace removed, or why it is refused (see the crate doc).
pub fn normalize(sequence: &str) -> Result<String, Refusal> {
    let mut out = String::with_capacity(sequence.len());
    for (at, c) in sequence.char_indices().filter(|(_, c)| !c.is_whitespace()) {
        let upper = c.to_ascii_uppercase();
        if upper.is_ascii_uppercase() && RESIDUES.contains(upper) {
            out.push(upper);
            continue;
        }
        let position = out.len() + 1;
        let refuse = |found: String, reason| Err(Refusal::Letter { position, found, reason });
        return match c {
            '-' | '.' => refuse(c.to_string(), GAP),
            '*' => refuse(c.to_string(), STOP),
            '0'..='9' => refuse(c.to_string(), DIGIT),
            '<' => match special_token(&sequence[at..]) {
                Some(token) => refuse(token.to_owned(), TOKEN),
                None => refuse(c.to_string(), OTHER),
            },
            _ => refuse(c.to_string(), OTHER),
        };
    }
    if out.is_empty() {
        return Err(Refusal::Empty);
    }
    Ok(out)
}

/// `<word>` at the start of `text` (a short run of letters, digits and `_` between angle brackets).
fn special_token(text: &str) -> Option<&str> {
    let end = text.char_indices().take(16).find(|(_, c)| *c == '>').map(|(i, _)| i)?;
    let inner = &text[1..end];
    (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| &text[..=end])
}

/// The content address of a normalized sequence: lowercase hex SHA-256 of its bytes.
pub fn seq_hash(normalized: &str) -> String {
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> String {
        normalize(s).map(|_| String::new()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn accepts_residues_in_any_case_and_drops_whitespace() {
        assert_eq!(normalize("mk t\nAy\tXBZUO").unwrap(), "MKTAYXBZUO");
        assert_eq!(normalize(RESIDUES).unwrap(), RESIDUES);
        assert_eq!(seq_hash("MKTAY"), seq_hash(&normalize("mkTay").unwrap()));
        assert_eq!(seq_hash("").len(), 64);
    }

    /// The cache key of stores written before this crate existed (`sha256sum` of the normalized bytes): a changed
    /// hash would silently turn every cached vector into a miss.
    #[test]
    fn seq_hash_is_the_sha256_hex_old_stores_are_keyed_by() {
        assert_eq!(seq_hash("MKTAY"), "bc7b36f275e07968c69b6007d7196157c1df7070c8e89b10ea9c642b337a9d04");
        assert_eq!(seq_hash(RESIDUES), "a30a1db0ef97a525f5e37c47d2eb338cadf6d7de2b7fec98835cfd04988a258a");
    }

    #[test]
    fn refusals_say_what_and_where() {
        assert_eq!(refused("MK*A"), format!("`*` at position 3 {STOP}"));
        assert_eq!(refused("M-K"), format!("`-` at position 2 {GAP}"));
        assert_eq!(refused("M K.K"), format!("`.` at position 3 {GAP}"));
        assert_eq!(refused("MK1"), format!("`1` at position 3 {DIGIT}"));
        assert_eq!(refused("MA<mask>K"), format!("`<mask>` at position 3 {TOKEN}"));
        assert_eq!(refused("MA<K"), format!("`<` at position 3 {OTHER}"));
        assert_eq!(refused("MKJ"), format!("`J` at position 3 {OTHER}"));
        assert_eq!(refused("Mé"), format!("`é` at position 2 {OTHER}"));
        assert_eq!(refused(" \n"), "is empty");
        assert_eq!(refused(""), "is empty");
    }

    #[test]
    fn errors_name_the_sequence() {
        let e = normalize("MK*").unwrap_err().for_id("P1").to_string();
        assert_eq!(e, format!("sequence `P1`: `*` at position 3 {STOP}"));
        assert_eq!(normalize("").unwrap_err().for_id("e").to_string(), "sequence `e` is empty");
    }
}
