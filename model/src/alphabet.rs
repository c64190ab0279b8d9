//! The fair-esm "ESM-1b" alphabet shared by every ESM2 model, and the tokenizer.
//!
//! Port of `esm/data.py` `Alphabet.from_architecture("ESM-1b")`: 4 prepended specials, the 27 standard
//! tokens, one `<null_1>` pad to a multiple of 8, then `<mask>` (33 tokens).
use crate::error::{Error, Result};

/// Token id of `<cls>`, prepended to every sequence.
pub const CLS: i64 = 0;
/// Token id of `<pad>`.
pub const PAD: i64 = 1;
/// Token id of `<eos>`, appended to every sequence.
pub const EOS: i64 = 2;
/// Token id of `<unk>`.
pub const UNK: i64 = 3;
/// Token id of `<mask>`.
pub const MASK: i64 = 32;
/// Number of tokens in the alphabet (the embedding matrix has this many rows).
pub const VOCAB_SIZE: i64 = 33;

/// All tokens, index = token id.
pub const TOKENS: [&str; 33] = [
    "<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y",
    "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>",
];

/// The token id of a residue letter (any case), `None` for anything else.
pub fn residue_token(c: char) -> Option<i64> {
    u8::try_from(c).ok().and_then(residue_id).filter(|&t| t < 29)
}

fn residue_id(c: u8) -> Option<i64> {
    let id = match c.to_ascii_uppercase() {
        b'L' => 4,
        b'A' => 5,
        b'G' => 6,
        b'V' => 7,
        b'S' => 8,
        b'E' => 9,
        b'R' => 10,
        b'T' => 11,
        b'I' => 12,
        b'D' => 13,
        b'P' => 14,
        b'K' => 15,
        b'Q' => 16,
        b'N' => 17,
        b'F' => 18,
        b'Y' => 19,
        b'M' => 20,
        b'H' => 21,
        b'W' => 22,
        b'C' => 23,
        b'X' => 24,
        b'B' => 25,
        b'U' => 26,
        b'Z' => 27,
        b'O' => 28,
        b'.' => 29,
        b'-' => 30,
        _ => return None,
    };
    Some(id)
}

/// Tokenizes one sequence into residue token ids (without `<cls>`/`<eos>`).
///
/// Lowercase letters are accepted; the gap tokens `.` `-` and special tokens written inline as
/// `<mask>`, `<unk>`, etc. are tokenized (as fair-esm's tokenizer does), for callers that build
/// inputs themselves (zero-shot scoring masks positions). Anything else is an
/// [`Error::InvalidResidue`] naming `id` and the 1-based position.
///
/// This is not the input policy: user input (FASTA files, ingested tables, SQL values) goes through
/// `esmdb-seq`, which refuses gaps and model tokens, before it reaches the tokenizer.
pub fn tokenize(id: &str, sequence: &str) -> Result<Vec<i64>> {
    let bytes = sequence.as_bytes();
    let mut tokens = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'<'
            && let Some(len) = bytes[i..].iter().position(|&b| b == b'>')
        {
            let tok = &sequence[i..=i + len];
            if let Some(t) = TOKENS.iter().position(|t| t.eq_ignore_ascii_case(tok)) {
                tokens.push(t as i64);
                i += len + 1;
                continue;
            }
        }
        match residue_id(c) {
            Some(t) => tokens.push(t),
            None => {
                let residue = sequence[i..].chars().next().map(String::from).unwrap_or_default();
                return Err(Error::InvalidResidue { id: id.to_owned(), residue, position: i + 1 });
            }
        }
        i += 1;
    }
    if tokens.is_empty() {
        return Err(Error::EmptySequence { id: id.to_owned() });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_fair_esm_order() {
        assert_eq!(tokenize("s", "LAGVSERTIDPKQNFYMHWCXBUZO.-").unwrap(), (4..=30).collect::<Vec<_>>());
        assert_eq!(TOKENS[MASK as usize], "<mask>");
        assert_eq!(TOKENS.len() as i64, VOCAB_SIZE);
    }

    #[test]
    fn lowercase_and_inline_specials() {
        assert_eq!(tokenize("s", "ma<mask>K").unwrap(), vec![20, 5, MASK, 15]);
    }

    #[test]
    fn invalid_residue_names_id_and_position() {
        let err = tokenize("P123", "MKJL").unwrap_err().to_string();
        assert!(err.contains("sequence `P123`") && err.contains("`J` at position 3"), "{err}");
        let err = tokenize("s", "MK<foo>").unwrap_err().to_string();
        assert!(err.contains("`<` at position 3"), "{err}");
        let err = tokenize("e", "").unwrap_err().to_string();
        assert_eq!(err, "sequence `e` is empty");
    }
}
