//! The compressions the study knows, named as SWAT's `compressing_embeddings.py` names them (the
//! `Compression_method` column of the paper's results), and the SQL that computes each.
use esmdb_store::Pooling;

use crate::error::{Error, Result};

/// A way to turn a sequence's per-residue embeddings into one feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Mean over residues (the paper's best).
    Mean,
    /// The `<cls>` vector.
    Bos,
    /// Element-wise maximum over residues.
    Max,
    /// The first `k` principal-component scores (`pca1`, `pca1-2`).
    Pca(u32),
    /// iDCT quantization keeping `n` residue and `m` dimension coefficients (`iDCT1`..`iDCT3`).
    Idct {
        /// SWAT's name.
        name: &'static str,
        /// Residue coefficients.
        n: u32,
        /// Dimension coefficients.
        m: u32,
    },
}

/// Every compression by SWAT's name, in the paper's order.
pub const COMPRESSIONS: &[(&str, Compression)] = &[
    ("mean", Compression::Mean),
    ("bos", Compression::Bos),
    ("max", Compression::Max),
    ("pca1", Compression::Pca(1)),
    ("pca1-2", Compression::Pca(2)),
    ("iDCT1", Compression::Idct { name: "iDCT1", n: 5, m: 44 }),
    ("iDCT2", Compression::Idct { name: "iDCT2", n: 10, m: 64 }),
    ("iDCT3", Compression::Idct { name: "iDCT3", n: 10, m: 128 }),
];

impl Compression {
    /// SWAT's name (`mean`, `pca1-2`, `iDCT3`, …).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Mean => "mean",
            Compression::Bos => "bos",
            Compression::Max => "max",
            Compression::Pca(1) => "pca1",
            Compression::Pca(_) => "pca1-2",
            Compression::Idct { name, .. } => name,
        }
    }

    /// The SQL expression compressing `embed` (an `esm2_embed` call).
    pub fn sql(self, embed: &str) -> String {
        match self {
            Compression::Mean | Compression::Bos | Compression::Max => format!("compress_{}({embed})", self.name()),
            Compression::Pca(k) => format!("compress_pca({embed}, {k})"),
            Compression::Idct { n, m, .. } => format!("compress_idct({embed}, {n}, {m})"),
        }
    }

    /// The pooled vector the store caches for this compression; the others need every residue's
    /// vector, computed on demand.
    pub fn pooling(self) -> Option<Pooling> {
        match self {
            Compression::Mean => Some(Pooling::Mean),
            Compression::Bos => Some(Pooling::Bos),
            Compression::Max | Compression::Pca(_) | Compression::Idct { .. } => None,
        }
    }
}

/// Compressions by name (case-insensitive; `maxpool` is `max`), duplicates dropped, order kept.
pub fn parse_compressions(names: &[String]) -> Result<Vec<Compression>> {
    let mut out = Vec::new();
    for n in names {
        let wanted = n.trim();
        let wanted = if wanted.eq_ignore_ascii_case("maxpool") { "max" } else { wanted };
        let Some(&(_, c)) = COMPRESSIONS.iter().find(|(name, _)| name.eq_ignore_ascii_case(wanted)) else {
            let known: Vec<&str> = COMPRESSIONS.iter().map(|(name, _)| *name).collect();
            return Err(Error::Param {
                option: "--compress",
                message: format!("unknown compression `{wanted}`; expected one of {}", known.join(", ")),
            });
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_parse_by_swat_name_and_build_their_sql() {
        let names: Vec<String> = ["MEAN", "maxpool", "pca1-2", "idct3", "mean"].map(String::from).to_vec();
        let parsed = parse_compressions(&names).unwrap();
        let got: Vec<&str> = parsed.iter().map(|c| c.name()).collect();
        assert_eq!(got, ["mean", "max", "pca1-2", "iDCT3"], "SWAT's names, duplicates dropped");
        let sql: Vec<String> = parsed.iter().map(|c| c.sql("E")).collect();
        assert_eq!(sql, ["compress_mean(E)", "compress_max(E)", "compress_pca(E, 2)", "compress_idct(E, 10, 128)"]);
        assert_eq!(parsed.iter().map(|c| c.pooling().is_some()).collect::<Vec<_>>(), [true, false, false, false]);
        let err = parse_compressions(&["pca".into()]).unwrap_err().to_string();
        assert!(err.contains("`pca`") && err.contains("pca1, pca1-2, iDCT1"), "{err}");
    }
}
