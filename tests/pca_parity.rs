//! `compress_pca` against SWAT's own `pca_transformation` (scikit-learn's MinMaxScaler + PCA), run in
//! the project venv on the same matrices: fewer residues than dimensions (scikit-learn's full SVD and
//! its covariance-eigh solver) and more residues than dimensions (the other Gram side here).
use anyhow::{Context, Result};
use esmdb_tests::run_python;
use rand::{Rng, SeedableRng};

fn check(rows: usize, dim: usize, k: usize, seed: u64) -> Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // f32 values, as embeddings are, given to both sides exactly.
    let emb: Vec<Vec<f32>> = (0..rows).map(|_| (0..dim).map(|_| rng.random_range(-2.0f32..2.0)).collect()).collect();
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&input, serde_json::to_string(&serde_json::json!({ "emb": emb, "k": k }))?)?;
    run_python("pca_ref.py", &[input.as_os_str(), output.as_os_str()])?;
    let reference: Vec<f64> = serde_json::from_value(
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&output)?)?["scores"].clone(),
    )
    .context("reading the reference output")?;
    let flat: Vec<f32> = emb.iter().flatten().copied().collect();
    let ours = esmdb_compress::pca::scores(&flat, rows, dim, k)?;
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-5 * scale,
            "score {i} (component {}, dimension {}): ours {a}, scikit-learn {b}",
            i / dim,
            i % dim
        );
    }
    Ok(())
}

#[test]
fn pca1_2_on_an_8m_sized_matrix() -> Result<()> {
    check(120, 320, 2, 1)
}

#[test]
fn pca1_on_a_short_sequence() -> Result<()> {
    // 320 samples ≥ 10 × 20 features: scikit-learn's covariance_eigh solver.
    check(20, 320, 1, 2)
}

#[test]
fn more_residues_than_dimensions() -> Result<()> {
    check(300, 64, 3, 3)
}
