//! Position-based fold schemes and in-fold scaling (ProteinGym's definitions, over the sorted distinct
//! mutated positions: `fold_modulo` deals them to the folds in turn, `fold_contiguous` cuts them into
//! k consecutive segments): the folds follow the definitions, every fold matches scikit-learn given
//! the same folds and scaling, and a real ProteinGym assay's shipped fold columns are reproduced.
#![allow(clippy::unwrap_used)]

use crate::common;

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
        let mut distinct = pos.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let n = distinct.len();
        for f in &r.folds {
            for &i in &f.split.test {
                let rank = distinct.iter().position(|&d| d == pos[i]).unwrap();
                // np.array_split of the ranks into 5: the first n % 5 segments one longer.
                let bounds: Vec<usize> = (0..=5).map(|s| s * (n / 5) + s.min(n % 5)).collect();
                let segment = (0..5).find(|&s| rank >= bounds[s] && rank < bounds[s + 1]).unwrap();
                let want = if scheme == FoldScheme::Modulo { rank % 5 } else { segment };
                assert_eq!(want, f.fold - 1, "{text}: row {i} at position {}", pos[i]);
            }
        }
    }
}

/// A real ProteinGym assay (A0A1I9GEU1_NEIME_Kennouche_2019, 922 variants over 161 positions): the
/// modulo and contiguous schemes give exactly its shipped `fold_modulo_5` and `fold_contiguous_5`.
#[test]
fn proteingym_assay_fold_columns_are_reproduced_exactly() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/A0A1I9GEU1_NEIME_Kennouche_2019_folds.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("mutant,fold_random_5,fold_modulo_5,fold_contiguous_5"));
    let rows: Vec<(i64, usize, usize)> = lines
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            (mutant_position(f[0], i).unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 922);
    let pos: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let fold_of = |splits: Vec<esmdb_regress::kfold::Split>| {
        let mut fold = vec![usize::MAX; pos.len()];
        for (k, s) in splits.iter().enumerate() {
            for &i in &s.test {
                fold[i] = k;
            }
        }
        fold
    };
    let modulo = fold_of(esmdb_regress::kfold::modulo_folds(&pos, 5).unwrap());
    let contiguous = fold_of(esmdb_regress::kfold::contiguous_folds(&pos, 5).unwrap());
    let same = |got: &[usize], col: fn(&(i64, usize, usize)) -> usize| {
        rows.iter().zip(got).filter(|(r, g)| col(r) == **g).count()
    };
    assert_eq!(same(&modulo, |r| r.1), 922, "fold_modulo_5");
    assert_eq!(same(&contiguous, |r| r.2), 922, "fold_contiguous_5");
}
