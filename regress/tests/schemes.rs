//! Position-based fold schemes and in-fold scaling on the YAP1 fixture (ProteinGym definitions:
//! `fold_modulo` = (pos − 1) mod k, `fold_contiguous` = ⌊(pos − 1) / 5⌋ mod k): the folds follow
//! the definitions, and every fold matches scikit-learn given the same folds and scaling.
#![allow(clippy::unwrap_used)]

mod common;

use esmdb_regress::baseline::onehot;
use esmdb_regress::kfold::mutant_position;
use esmdb_regress::{FoldScheme, ProtocolOptions};
use ndarray::Array1;

/// Tolerance of the fold comparisons, as in `parity_protocol.rs` and `parity_baselines.rs`: the
/// same algorithms on both sides, differing by rounding only (measured ≤ 1e-13 of scale).
const REL: f64 = 1e-9;

#[test]
fn modulo_and_contiguous_folds_with_each_scaling_and_model_match_sklearn() {
    let (mutants, targets, seqs) = common::yap1();
    let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
    let x = onehot(&refs).unwrap();
    let y = Array1::from(targets);
    let pos: Vec<i64> = mutants.iter().enumerate().map(|(i, m)| mutant_position(m, i).unwrap()).collect();

    for (text, scheme) in [
        ("scheme=modulo, scale=inside", FoldScheme::Modulo),
        ("scheme=contiguous", FoldScheme::Contiguous),
        ("scheme=contiguous, scale=inside, model=ridge", FoldScheme::Contiguous),
        ("scheme=modulo, scale=none, model=ridge, ridge_alpha=3", FoldScheme::Modulo),
    ] {
        let opts = ProtocolOptions::parse(text).unwrap();
        assert_eq!(opts.scheme, scheme);
        let r = common::assert_protocol_parity(text, x.view(), y.view(), Some(&pos), &opts, REL);
        assert_eq!(r.folds.len(), opts.folds, "{text}: folds");
        for f in &r.folds {
            for &i in &f.split.test {
                let p = (pos[i] - 1) as usize;
                let want = if scheme == FoldScheme::Modulo { p % 5 } else { (p / 5) % 5 };
                assert_eq!(want, f.fold - 1, "{text}: row {i} at position {}", pos[i]);
            }
        }
    }
}
