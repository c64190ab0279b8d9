//! The paper's mutant notation (`Q2C`, multi-mutants `Q2C:A5G`, 1-based positions) and the wild type
//! it implies: a variant's sequence with its mutations reverted.
//!
//! Zero-shot scores are computed on the wild type, and a DMS dataset has one; recovering it from each
//! variant (rather than asking for it) keeps `esm_score(sequence, mutant)` a function of the row, and
//! checking each mutation against the sequence catches mutants numbered from another start.
use std::fmt;

/// One substitution: `wt` at 1-based `position` became `mt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mutation {
    /// The wild-type residue (uppercase).
    pub wt: char,
    /// 1-based position in the sequence.
    pub position: usize,
    /// The mutant residue (uppercase).
    pub mt: char,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.wt, self.position, self.mt)
    }
}

/// Why a mutant string was refused, or does not fit its sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutantError {
    /// Not `<residue><position><residue>[:…]`.
    #[error("mutant `{mutant}`: `{part}` is not a substitution like `Q2C` (residue, 1-based position, residue)")]
    Syntax {
        /// The whole mutant string.
        mutant: String,
        /// The part that does not parse.
        part: String,
    },
    /// The same position mutated twice.
    #[error("mutant `{mutant}`: position {position} is mutated twice")]
    Repeated {
        /// The whole mutant string.
        mutant: String,
        /// The repeated position.
        position: usize,
    },
    /// The position is past the sequence's end.
    #[error("mutant `{mutant}`: position {position} is past the end of the {length}-residue sequence")]
    OutOfRange {
        /// The whole mutant string.
        mutant: String,
        /// The position.
        position: usize,
        /// The sequence's length.
        length: usize,
    },
    /// The sequence does not carry the mutant residue where the notation says.
    #[error(
        "mutant `{mutant}`: `{mutation}` says position {position} is `{expected}`, but the sequence has `{found}` there \
         (are positions numbered from another start?)"
    )]
    Mismatch {
        /// The whole mutant string.
        mutant: String,
        /// The mutation that does not fit.
        mutation: Mutation,
        /// Its position.
        position: usize,
        /// The mutant residue the notation names.
        expected: char,
        /// The residue the sequence has.
        found: char,
    },
}

/// Parses `Q2C` or `Q2C:A5G` (case-insensitive residues; spaces around parts ignored). An empty
/// string, `WT` or `_wt` (how DMS tables write the unmutated sequence) is no mutation.
pub fn parse_mutant(mutant: &str) -> Result<Vec<Mutation>, MutantError> {
    let trimmed = mutant.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("wt") || trimmed.eq_ignore_ascii_case("_wt") {
        return Ok(Vec::new());
    }
    let mut out: Vec<Mutation> = Vec::new();
    for part in trimmed.split(':').map(str::trim) {
        let syntax = || MutantError::Syntax { mutant: mutant.to_owned(), part: part.to_owned() };
        let mut chars = part.chars();
        let (Some(wt), Some(mt)) = (chars.next(), chars.next_back()) else { return Err(syntax()) };
        let digits = chars.as_str();
        let residue = |c: char| c.is_ascii_alphabetic().then(|| c.to_ascii_uppercase());
        let (Some(wt), Some(mt)) = (residue(wt), residue(mt)) else { return Err(syntax()) };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let position: usize = digits.parse().map_err(|_| syntax())?;
        if position == 0 {
            return Err(syntax());
        }
        if out.iter().any(|m| m.position == position) {
            return Err(MutantError::Repeated { mutant: mutant.to_owned(), position });
        }
        out.push(Mutation { wt, position, mt });
    }
    Ok(out)
}

/// The wild type of `sequence` (a normalized variant sequence): each mutation checked against it
/// and reverted.
pub fn wild_type(sequence: &str, mutant: &str, mutations: &[Mutation]) -> Result<String, MutantError> {
    let mut residues: Vec<char> = sequence.chars().collect();
    for m in mutations {
        let Some(found) = residues.get(m.position - 1).copied() else {
            return Err(MutantError::OutOfRange {
                mutant: mutant.to_owned(),
                position: m.position,
                length: residues.len(),
            });
        };
        if found != m.mt {
            return Err(MutantError::Mismatch {
                mutant: mutant.to_owned(),
                mutation: *m,
                position: m.position,
                expected: m.mt,
                found,
            });
        }
        residues[m.position - 1] = m.wt;
    }
    Ok(residues.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_multi_mutants() {
        assert_eq!(parse_mutant("Q2C").unwrap(), vec![Mutation { wt: 'Q', position: 2, mt: 'C' }]);
        let m = parse_mutant(" q2c : A15g ").unwrap();
        assert_eq!(m[1], Mutation { wt: 'A', position: 15, mt: 'G' });
        assert!(parse_mutant("WT").unwrap().is_empty());
        assert!(parse_mutant("").unwrap().is_empty());
    }

    #[test]
    fn refuses_malformed_mutants() {
        for bad in ["Q2", "2C", "QC", "Q0C", "Q-2C", "Q2C:", "Q2*", "Q 2C", "QQ2C", "Q99999999999999999999999C"] {
            let err = parse_mutant(bad).unwrap_err().to_string();
            assert!(err.contains("is not a substitution"), "{bad}: {err}");
        }
        let err = parse_mutant("Q2C:A2G").unwrap_err().to_string();
        assert!(err.contains("position 2 is mutated twice"), "{err}");
    }

    #[test]
    fn reverts_to_the_wild_type_and_checks_each_mutation() {
        let m = parse_mutant("M1C:K3A").unwrap();
        assert_eq!(wild_type("CTAL", "M1C:K3A", &m).unwrap(), "MTKL");
        let err = wild_type("CTKL", "M1C:K3A", &m).unwrap_err().to_string();
        assert!(err.contains("`K3A` says position 3 is `A`, but the sequence has `K` there"), "{err}");
        let err = wild_type("CT", "M1C:K3A", &m).unwrap_err().to_string();
        assert!(err.contains("position 3 is past the end of the 2-residue sequence"), "{err}");
    }
}
