//! `compress_idct` against SWAT's own `quant2D` (scipy.fftpack), run in the project venv on the same
//! matrices: the paper's settings iDCT1 (5, 44) and iDCT2 (10, 64) on ESM2-8M-sized and ragged inputs.
use anyhow::{Context, Result};
use esmdb_tests::run_python;
use rand::{Rng, SeedableRng};

fn check(rows: usize, dim: usize, n: usize, m: usize, seed: u64) -> Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let emb: Vec<Vec<f64>> = (0..rows).map(|_| (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect()).collect();
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&input, serde_json::to_string(&serde_json::json!({ "emb": emb, "n": n, "m": m }))?)?;
    run_python("idct_ref.py", &[input.as_os_str(), output.as_os_str()])?;
    let reference: Vec<i64> = serde_json::from_value(
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&output)?)?["q"].clone(),
    )
    .context("reading the reference output")?;
    let inner: Vec<f64> = emb[1..rows - 1].iter().flatten().copied().collect();
    let ours = esmdb_compress::idct::quant2d(&inner, rows - 2, dim, n, m)?;
    assert_eq!(ours.len(), reference.len());
    // Truncation to an integer can flip at an exact boundary; allow that, nothing else.
    let off: Vec<(usize, f32, i64)> = ours
        .iter()
        .zip(&reference)
        .enumerate()
        .filter(|(_, (a, b))| (**a as i64 - **b).abs() > 0)
        .map(|(i, (a, b))| (i, *a, *b))
        .collect();
    assert!(off.iter().all(|(_, a, b)| (*a as i64 - b).abs() <= 1), "differences beyond ±1: {off:?}");
    assert!(off.len() * 100 <= ours.len(), "{} of {} values differ by 1", off.len(), ours.len());
    Ok(())
}

#[test]
fn idct1_on_an_8m_sized_matrix() -> Result<()> {
    check(120, 320, 5, 44, 1)
}

#[test]
fn idct2_on_a_short_sequence() -> Result<()> {
    check(40, 320, 10, 64, 2)
}

#[test]
fn as_many_coefficients_as_residues() -> Result<()> {
    // 6 residues, the first and last dropped: n = 4 keeps every DCT coefficient.
    check(6, 24, 4, 8, 3)
}
