//! Position-based fold schemes and in-fold scaling on the YAP1 fixture (ProteinGym definitions:
//! `fold_modulo` = (pos − 1) mod k, `fold_contiguous` = ⌊(pos − 1) / 5⌋ mod k).
#![allow(clippy::unwrap_used)]

mod common;

use esmdb_regress::baseline::onehot;
use esmdb_regress::kfold::mutant_position;
use esmdb_regress::{FoldScheme, Model, ProtocolOptions, protocol};
use ndarray::Array1;

#[test]
fn modulo_contiguous_inside_scaling_and_baselines_run() {
    let (mutants, targets, seqs) = common::yap1();
    let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
    let x = onehot(&refs).unwrap();
    let y = Array1::from(targets);
    let pos: Vec<i64> = mutants.iter().enumerate().map(|(i, m)| mutant_position(m, i).unwrap()).collect();

    for (text, scheme) in
        [("scheme=modulo, scale=inside", FoldScheme::Modulo), ("scheme=contiguous", FoldScheme::Contiguous)]
    {
        let opts = ProtocolOptions::parse(text).unwrap();
        assert_eq!(opts.scheme, scheme);
        let r = protocol::evaluate(x.view(), y.view(), Some(&pos), &opts).unwrap();
        for f in &r.folds {
            for &i in &f.split.test {
                let p = (pos[i] - 1) as usize;
                let want = if scheme == FoldScheme::Modulo { p % 5 } else { (p / 5) % 5 };
                assert_eq!(want, f.fold - 1, "row {i} at position {}", pos[i]);
            }
            assert!(f.r2_test.is_finite() && f.n_nonzero <= x.ncols());
        }
    }

    // Ridge (linfa-elasticnet, slow) on 60 of the columns that vary, to keep the test fast.
    let keep: Vec<usize> = (0..x.ncols()).filter(|&j| x.column(j).iter().any(|v| *v != x[[0, j]])).take(60).collect();
    let x = x.select(ndarray::Axis(1), &keep);
    let ridge = ProtocolOptions { model: Model::Ridge, ..ProtocolOptions::default() };
    let r = protocol::evaluate(x.view(), y.view(), None, &ridge).unwrap();
    assert!(r.mean_r2_test() > 0.0, "ridge on one-hot should beat the mean: {}", r.mean_r2_test());
}
