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
    let out: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&output)?)?;
    let reference: Vec<i64> = serde_json::from_value(out["q"].clone()).context("reading the reference's q")?;
    let real: Vec<f64> = serde_json::from_value(out["real"].clone()).context("reading the reference's real")?;
    let inner: Vec<f64> = emb[1..rows - 1].iter().flatten().copied().collect();
    let ours = esmdb_compress::idct::quant2d(&inner, rows - 2, dim, n, m)?;
    assert_eq!(ours.len(), reference.len());
    assert_eq!(real.len(), reference.len());
    // Both sides truncate `scaled · 127`, computed in f64 with different summation orders (scipy's FFT, our direct
    // sums): the two reals differ by ~1e-13, so they truncate to different integers only where the real is that
    // close to an integer. Min-max scaling makes each row's ends exactly 0 and 127 on both sides, so those never
    // differ. A value that differs must differ by one and sit within BOUNDARY of an integer; nothing else may.
    const BOUNDARY: f64 = 1e-6;
    for (i, ((a, b), x)) in ours.iter().zip(&reference).zip(&real).enumerate() {
        let a = *a as i64;
        if a != *b {
            let gap = (x - x.round()).abs();
            assert!(
                (a - b).abs() == 1 && gap <= BOUNDARY,
                "value {i}: ours {a}, SWAT's {b}, its real {x} is {gap:e} from an integer (allowed: ±1 within {BOUNDARY:e})"
            );
        }
    }
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
