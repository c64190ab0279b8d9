//! Parity of esmdb's ESM2 with the reference implementations (transformers `EsmModel`, fair-esm
//! `ESM2`) on seeded random-weight models of the real architectures, every tensor randomized.
//! The references run each sequence alone (no padding); esmdb runs them in mixed-length batches.
use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use esmdb_model::{EmbedOptions, Embeddings, LoadOptions, Pooling};
use esmdb_tests::{dms_fixture, max_abs_diff, random_model, run_python};
use rand::{Rng, SeedableRng};

const TOL: f32 = 1e-4;
const INTERMEDIATE: i64 = 3;

fn random_protein(len: usize, seed: u64) -> String {
    const AA: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| AA[rng.random_range(0..AA.len())] as char).collect()
}

/// (id, sequence given to esmdb, sequence given to the reference).
fn cases() -> Result<Vec<(String, String, String)>> {
    let dms = dms_fixture()?;
    let mut v: Vec<(String, String, String)> =
        dms.iter().step_by(71).map(|(id, s)| (id.clone(), s.clone(), s.clone())).collect();
    let lower = &dms[5].1;
    v.push(("lowercase".into(), lower.to_lowercase(), lower.clone()));
    v.push(("len1".into(), "M".into(), "M".into()));
    v.push(("short".into(), random_protein(30, 1), random_protein(30, 1)));
    v.push(("rare_residues".into(), "MKXBZUOACDXXBZUO".into(), "MKXBZUOACDXXBZUO".into()));
    v.push(("len1022".into(), random_protein(1022, 2), random_protein(1022, 2)));
    v.push(("len1100".into(), random_protein(1100, 3), random_protein(1100, 3)));
    Ok(v)
}

fn embed(model: &Path, seqs: &[(String, String)], truncate: Option<usize>) -> Result<Embeddings> {
    let loaded = esmdb_model::load(&model.to_string_lossy(), &LoadOptions::default())?;
    let options = EmbedOptions {
        layers: vec![INTERMEDIATE, -1],
        pooling: vec![Pooling::Mean, Pooling::PerToken],
        // Small enough to split the set, large enough to batch length 1 with ~500-residue sequences.
        batch_tokens: 3000,
        truncate,
    };
    Ok(loaded.embedder.embed(seqs, &options)?)
}

/// Per id and column (`mean_L3`, `per_tok_L6`, ...): the values.
fn by_id(ids: &[String], e: &Embeddings) -> HashMap<(String, String), Vec<f32>> {
    let mut out = HashMap::new();
    for (spec, values) in e.specs.iter().zip(&e.values) {
        let mut offset = 0;
        for (i, id) in ids.iter().enumerate() {
            let n = if spec.pooling == Pooling::PerToken { e.lengths[i] * e.dim } else { e.dim };
            let start = if spec.pooling == Pooling::PerToken { offset } else { i * e.dim };
            out.insert((id.clone(), spec.column_name()), values[start..start + n].to_vec());
            offset += if spec.pooling == Pooling::PerToken { n } else { 0 };
        }
    }
    out
}

fn reference(
    kind: &str,
    model: &Path,
    seqs: &[(String, String)],
    layers: &[i64],
    dir: &Path,
) -> Result<HashMap<String, Vec<f32>>> {
    let req = dir.join(format!("request-{kind}.json"));
    let out = dir.join(format!("reference-{kind}.safetensors"));
    std::fs::write(&req, serde_json::to_string(&serde_json::json!({"sequences": seqs, "layers": layers}))?)?;
    run_python("esm_ref.py", &[kind.as_ref(), model.as_os_str(), req.as_os_str(), out.as_os_str()])?;
    let tensors = tch::Tensor::read_safetensors(&out)?;
    tensors.into_iter().map(|(k, t)| Ok((k, Vec::<f32>::try_from(&t.flatten(0, -1))?))).collect()
}

/// Compares every (sequence, layer, pooling) and returns the largest difference seen.
fn assert_close(
    ours: &HashMap<(String, String), Vec<f32>>,
    theirs: &HashMap<String, Vec<f32>>,
    ids: &[String],
    what: &str,
) -> f32 {
    let mut worst = 0.0f32;
    let mut compared = 0;
    for id in ids {
        for ((oid, col), v) in ours.iter().filter(|((oid, _), _)| oid == id) {
            let key = format!("{oid}/{col}");
            let r = theirs.get(&key).unwrap_or_else(|| panic!("{what}: reference has no {key}"));
            assert_eq!(v.len(), r.len(), "{what}: {key} length");
            let d = max_abs_diff(v, r);
            assert!(d <= TOL, "{what}: {key} max |diff| {d:e} > {TOL:e}");
            worst = worst.max(d);
            compared += 1;
        }
    }
    assert_eq!(compared, ids.len() * 4, "{what}: every sequence × 2 layers × 2 poolings compared");
    worst
}

fn hf_parity(arch: &str, seed: u64) -> Result<()> {
    let (dir, model) = random_model(arch, seed)?;
    let n_layers = esmdb_model::Config::for_architecture(arch)?.num_hidden_layers;
    let cases = cases()?;
    let ours_in: Vec<(String, String)> = cases.iter().map(|(i, s, _)| (i.clone(), s.clone())).collect();
    let ref_in: Vec<(String, String)> = cases.iter().map(|(i, _, r)| (i.clone(), r.clone())).collect();
    let ids: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();

    let ours = by_id(&ids, &embed(&model, &ours_in, None)?);
    let theirs = reference("hf", &model, &ref_in, &[INTERMEDIATE, n_layers], dir.path())?;
    let worst = assert_close(&ours, &theirs, &ids, &format!("{arch} seed {seed} vs transformers"));

    // Truncation mimics extract.py: the reference sees the first 1022 residues.
    let long = [("len1100".to_string(), random_protein(1100, 3))];
    let ours_t = by_id(&["len1100".into()], &embed(&model, &long, Some(1022))?);
    let ref_t = reference(
        "hf",
        &model,
        &[("len1100".into(), random_protein(1100, 3)[..1022].to_string())],
        &[INTERMEDIATE, n_layers],
        dir.path(),
    )?;
    let worst_t = assert_close(&ours_t, &ref_t, &["len1100".into()], &format!("{arch} truncated"));
    eprintln!("parity {arch} seed {seed}: max |diff| {worst:e} (truncated: {worst_t:e}) over {} sequences", ids.len());
    Ok(())
}

#[test]
fn esm2_8m_matches_transformers_seed_1() -> Result<()> {
    hf_parity("esm2_t6_8M_UR50D", 1)
}

#[test]
fn esm2_8m_matches_transformers_seed_2() -> Result<()> {
    hf_parity("esm2_t6_8M_UR50D", 2)
}

#[test]
fn esm2_35m_matches_transformers_seed_3() -> Result<()> {
    hf_parity("esm2_t12_35M_UR50D", 3)
}

/// The same weights as a fair-esm checkpoint (written by fair-esm's own layout, loaded by fair-esm
/// to prove it is valid) give identical output, and match fair-esm's ESM2.
#[test]
fn fair_esm_checkpoint_loads_and_matches() -> Result<()> {
    let (dir, model) = random_model("esm2_t6_8M_UR50D", 4)?;
    let pt = dir.path().join("esm2_t6_8M_UR50D.pt");
    run_python("esm_ref.py", &["to-fair".as_ref(), model.as_os_str(), pt.as_os_str()])?;
    let seqs: Vec<(String, String)> = dms_fixture()?.into_iter().step_by(50).collect();
    let ids: Vec<String> = seqs.iter().map(|s| s.0.clone()).collect();

    let from_hf = embed(&model, &seqs, None)?;
    let from_pt = embed(&pt, &seqs, None)?;
    for (a, b) in from_hf.values.iter().zip(&from_pt.values) {
        assert_eq!(max_abs_diff(a, b), 0.0, "fair-esm checkpoint must give identical output");
    }
    let theirs = reference("fair", &pt, &seqs, &[INTERMEDIATE, 6], dir.path())?;
    let worst = assert_close(&by_id(&ids, &from_pt), &theirs, &ids, "fair-esm");
    eprintln!("parity vs fair-esm: max |diff| {worst:e}");
    Ok(())
}

/// What transformers' `save_pretrained` writes today (and its sharded form) loads to the same model.
#[test]
fn save_pretrained_layouts_load_identically() -> Result<()> {
    let (dir, model) = random_model("esm2_t6_8M_UR50D", 5)?;
    let resaved = dir.path().join("resaved");
    let sharded = dir.path().join("sharded");
    run_python("esm_ref.py", &["resave".as_ref(), model.as_os_str(), resaved.as_os_str()])?;
    run_python("esm_ref.py", &["resave".as_ref(), model.as_os_str(), sharded.as_os_str(), "2MB".as_ref()])?;
    assert!(sharded.join("model.safetensors.index.json").is_file(), "expected a sharded checkpoint");
    let seqs: Vec<(String, String)> = dms_fixture()?.into_iter().take(4).collect();
    let base = embed(&model, &seqs, None)?;
    for m in [&resaved, &sharded] {
        let other = embed(m, &seqs, None).with_context(|| m.display().to_string())?;
        for (a, b) in base.values.iter().zip(&other.values) {
            assert_eq!(max_abs_diff(a, b), 0.0, "{}", m.display());
        }
    }
    Ok(())
}
