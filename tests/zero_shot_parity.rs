//! Zero-shot parity on seeded random-weight ESM2 (every tensor randomized, the LM head included):
//! esmdb's masked-LM logits against transformers' `EsmForMaskedLM` and fair-esm's `ESM2`, and
//! `esm_score` over a DMS set (through SQL and the store) against fair-esm's variant-prediction
//! formulas computed with transformers. The references run each sequence alone; esmdb batches.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use esmdb_model::{EmbedOptions, LoadOptions, Pooling};
use esmdb_tests::{dms_fixture, max_abs_diff, random_model, root, run_python};

const TOL: f32 = 1e-4;
const VOCAB: usize = 33;

fn reference(cmd: &str, model: &Path, request: &serde_json::Value, dir: &Path) -> Result<HashMap<String, tch::Tensor>> {
    let req = dir.join(format!("request-{cmd}.json"));
    let out = dir.join(format!("reference-{cmd}.safetensors"));
    std::fs::write(&req, serde_json::to_string(request)?)?;
    run_python("esm_ref.py", &[cmd.as_ref(), model.as_os_str(), req.as_os_str(), out.as_os_str()])?;
    Ok(tch::Tensor::read_safetensors(&out)?.into_iter().collect())
}

fn f32s(t: &tch::Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(&t.to_kind(tch::Kind::Float).flatten(0, -1))?)
}

/// Real DMS sequences, lengths 1 and 2, the rare residues: mixed lengths in one batch.
fn cases() -> Result<Vec<(String, String)>> {
    let mut v: Vec<(String, String)> = dms_fixture()?.into_iter().step_by(90).collect();
    v.push(("len1".into(), "M".into()));
    v.push(("len2".into(), "MK".into()));
    v.push(("rare".into(), "MKXBZUOACDXXBZUO".into()));
    Ok(v)
}

/// esmdb's per-residue logits of `cases`, batched, keyed by id.
fn our_logits(model: &Path, cases: &[(String, String)]) -> Result<HashMap<String, Vec<f32>>> {
    let loaded = esmdb_model::load(&model.to_string_lossy(), &LoadOptions::default())?;
    let options = EmbedOptions { pooling: vec![Pooling::Logits], batch_tokens: 2000, ..Default::default() };
    let out = loaded.embedder.embed(cases, &options)?;
    assert_eq!(out.widths, vec![VOCAB]);
    let mut map = HashMap::new();
    let mut offset = 0;
    for ((id, _), len) in cases.iter().zip(&out.lengths) {
        map.insert(id.clone(), out.values[0][offset..offset + len * VOCAB].to_vec());
        offset += len * VOCAB;
    }
    Ok(map)
}

/// Compares residue rows (the reference also has `<cls>`/`<eos>`), returns the largest difference.
fn compare_logits(
    ours: &HashMap<String, Vec<f32>>,
    theirs: &HashMap<String, tch::Tensor>,
    cases: &[(String, String)],
    what: &str,
) -> Result<f32> {
    let mut worst = 0.0f32;
    for (id, seq) in cases {
        let full = f32s(&theirs[&format!("{id}/logits")])?;
        assert_eq!(full.len(), (seq.len() + 2) * VOCAB, "{what}: {id} reference shape");
        let residues = &full[VOCAB..(seq.len() + 1) * VOCAB];
        let d = max_abs_diff(&ours[id], residues);
        assert!(d <= TOL, "{what}: {id}: max |diff| {d:e} > {TOL:e}");
        worst = worst.max(d);
    }
    Ok(worst)
}

#[test]
fn logits_match_transformers_and_fair_esm() -> Result<()> {
    let (dir, model) = random_model("esm2_t6_8M_UR50D", 11)?;
    let cases = cases()?;
    let request = serde_json::json!({ "sequences": cases });
    let ours = our_logits(&model, &cases)?;
    let hf = reference("hf-logits", &model, &request, dir.path())?;
    let worst_hf = compare_logits(&ours, &hf, &cases, "vs EsmForMaskedLM")?;

    // The same weights as a fair-esm checkpoint: identical logits here, and fair-esm's agree.
    let pt = dir.path().join("esm2_t6_8M_UR50D.pt");
    run_python("esm_ref.py", &["to-fair".as_ref(), model.as_os_str(), pt.as_os_str()])?;
    let from_pt = our_logits(&pt, &cases)?;
    for (id, _) in &cases {
        assert_eq!(max_abs_diff(&ours[id], &from_pt[id]), 0.0, "{id}: .pt and HF directory differ");
    }
    let fair = reference("fair-logits", &pt, &request, dir.path())?;
    let worst_fair = compare_logits(&from_pt, &fair, &cases, "vs fair-esm")?;
    eprintln!("logits parity: max |diff| {worst_hf:e} vs transformers, {worst_fair:e} vs fair-esm");
    Ok(())
}

/// `esm_score` over the IF1 fixture (1,439 variants) through SQL and the store, both methods, against the formulas
/// computed with transformers; the store's cached table against the reference's.
#[test]
fn esm_score_matches_the_reference_formulas_on_a_dms_set() -> Result<()> {
    let (dir, model) = random_model("esm2_t6_8M_UR50D", 12)?;
    let fixture = root().join("tests/fixtures/dms");
    let files: Vec<PathBuf> =
        ["IF1_ECOLI_metadata.csv", "IF1_ECOLI_muts.fasta"].iter().map(|f| fixture.join(f)).collect();
    let records = esmdb_store::input::read(&files, &Default::default())?;
    let mutants: Vec<String> = records.iter().map(|r| r.mutant.clone().unwrap_or_default()).collect();
    let first = &records[0];
    let muts = esmdb_store::parse_mutant(&mutants[0])?;
    let wild_type = esmdb_store::wild_type(&first.sequence, &mutants[0], &muts)?;

    let methods = ["wt-marginals", "masked-marginals"];
    let request = serde_json::json!({ "wild_type": wild_type, "mutants": mutants, "methods": methods });
    let theirs = reference("hf-score", &model, &request, dir.path())?;

    let store_dir = dir.path().join("store");
    let rt = tokio::runtime::Runtime::new()?;
    let ours: HashMap<&str, Vec<f64>> = rt.block_on(async {
        let store = esmdb_store::Store::open_or_create(store_dir.to_str().unwrap()).await?;
        store.ingest("if1", &files, &Default::default()).await?;
        let config = esmdb_sql::EngineConfig {
            model: model.display().to_string(),
            store: store_dir.display().to_string(),
            threads: 2,
            ..Default::default()
        };
        let session = esmdb_sql::Session::open(config).await?;
        let mut out = HashMap::new();
        for method in methods {
            let sql = format!("SELECT esm_score(sequence, mutant, '{method}') FROM variants ORDER BY input_row");
            let batches = session.sql(&sql).await?.collect().await?;
            let mut v = Vec::new();
            for b in &batches {
                let a = b.column(0).as_any().downcast_ref::<arrow_array::Float64Array>().unwrap();
                v.extend(a.values().iter().copied());
            }
            out.insert(method, v);
        }
        anyhow::Ok(out)
    })?;

    for method in methods {
        let reference = Vec::<f64>::try_from(&theirs[&format!("scores/{method}")].to_kind(tch::Kind::Double))?;
        let ours = &ours[method];
        assert_eq!(ours.len(), reference.len(), "{method}: one score per variant");
        let worst = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= f64::from(TOL), "{method}: max |diff| {worst:e} > {TOL:e}");
        // The cached table itself.
        let table = rt.block_on(async {
            let store = esmdb_store::Store::open(store_dir.to_str().unwrap()).await?;
            let hash = esmdb_store::seq_hash(&wild_type);
            let all = store.lookup_log_probs(&model_id(&model)?, method, std::slice::from_ref(&hash)).await?;
            anyhow::Ok(all.get(&hash).cloned())
        })?;
        let table = table.unwrap_or_else(|| panic!("{method}: no cached table for the wild type"));
        let d = max_abs_diff(&table.values, &f32s(&theirs[&format!("log_probs/{method}")])?);
        assert!(d <= TOL, "{method}: cached table max |diff| {d:e}");
        eprintln!("esm_score {method}: {} variants, max |diff| {worst:e}, table {d:e}", ours.len());
    }
    Ok(())
}

/// AMPLIFY's zero-shot tables, both methods (its own `<bos>`/`<eos>`/`<mask>` ids), against the authors' model
/// code: log_softmax over its 27 tokens, re-indexed into the ESM columns every cached table uses.
#[test]
fn amplify_log_probs_match_the_authors_code() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("amplify");
    esmdb_model::init::write_random_amplify(&esmdb_model::amplify::AmplifyConfig::new(2, 128, 2), 13, &model)?;
    let cases = vec![dms_fixture()?.swap_remove(0), ("rare".to_owned(), "MKXBZUOACDXXBZUO".to_owned())];
    let methods = ["wt-marginals", "masked-marginals"];
    let req = dir.path().join("request-log-probs.json");
    let out = dir.path().join("reference-log-probs.safetensors");
    std::fs::write(&req, serde_json::to_string(&serde_json::json!({ "sequences": cases, "methods": methods }))?)?;
    run_python("amplify_ref.py", &["log-probs".as_ref(), model.as_os_str(), req.as_os_str(), out.as_os_str()])?;
    let theirs: HashMap<String, tch::Tensor> = tch::Tensor::read_safetensors(&out)?.into_iter().collect();
    let loaded = esmdb_model::load(&model.to_string_lossy(), &LoadOptions::default())?;
    for (id, seq) in &cases {
        for method in methods {
            let lp = loaded.embedder.log_probs(id, seq, method.parse()?, 2000)?;
            assert_eq!((lp.length, lp.width), (seq.len(), VOCAB), "{id} {method}");
            let d = max_abs_diff(&lp.values, &f32s(&theirs[&format!("{id}/{method}")])?);
            assert!(d <= TOL, "{id} {method}: max |diff| {d:e} > {TOL:e}");
            eprintln!("AMPLIFY {method} ({id}, {} residues): max |diff| {d:e}", seq.len());
        }
    }
    Ok(())
}

fn model_id(model: &Path) -> Result<String> {
    Ok(esmdb_model::load(&model.to_string_lossy(), &LoadOptions::default())?.id)
}
