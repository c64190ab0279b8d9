//! Sequence normalization and content addressing.
//!
//! The cache is keyed by the hash of the *normalized* sequence (uppercase, whitespace removed), so the
//! same protein written in lower case or wrapped differently in two files is embedded once. The letter
//! check mirrors the ESM alphabet's residue tokens so bad input fails at ingest, not hours later in
//! the model.
use sha2::{Digest, Sha256};

/// Residue letters of the ESM alphabet (any case is accepted on input).
pub const RESIDUES: &str = "LAGVSERTIDPKQNFYMHWCXBUZO";

/// Uppercases and removes whitespace. Returns the first invalid character and its 1-based position
/// (counted over the non-whitespace characters) if any.
pub fn normalize(sequence: &str) -> Result<String, (usize, char)> {
    let mut out = String::with_capacity(sequence.len());
    for c in sequence.chars().filter(|c| !c.is_whitespace()) {
        let u = c.to_ascii_uppercase();
        if !u.is_ascii_uppercase() || !RESIDUES.contains(u) {
            return Err((out.len() + 1, c));
        }
        out.push(u);
    }
    Ok(out)
}

/// The content address of a normalized sequence: lowercase hex SHA-256 of its bytes.
pub fn seq_hash(normalized: &str) -> String {
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        assert_eq!(normalize("mk t\nAy"), Ok("MKTAY".to_owned()));
        assert_eq!(seq_hash("MKTAY"), seq_hash(&normalize("mkTay").unwrap_or_default()));
    }

    #[test]
    fn reports_first_bad_letter_position() {
        assert_eq!(normalize("MK*A"), Err((3, '*')));
        assert_eq!(normalize("MKJ"), Err((3, 'J')));
        assert_eq!(normalize("M-K"), Err((2, '-')));
    }
}
