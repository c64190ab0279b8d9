//! Parity of esmdb's ESM C, ESM-1b/ESM-1v and AMPLIFY with their reference implementations on seeded
//! random-weight models, every tensor randomized: ESM C against EvolutionaryScale's `esm` package (`EsmcModel`,
//! its own venv), from both checkpoint layouts (the published `config.json` + safetensors directory and the 2024
//! release's `.pth` state dict); ESM-1b and ESM-1v against fair-esm's `ProteinBertModel`, from fair-esm's
//! v1 `.pt`; AMPLIFY against its authors' own model code (chandar-lab/AMPLIFY, `../shared/reference/amplify`),
//! from the published layout. The references run each sequence alone; esmdb runs them in mixed-length batches.
use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use esmdb_model::{EmbedOptions, Family, LoadOptions, Pooling};
use esmdb_tests::{dms_fixture, max_abs_diff, run_esmc_python, run_python};

const TOL: f32 = 1e-4;

/// Real DMS sequences, lengths 1 and 2, the rare residues.
fn cases() -> Result<Vec<(String, String)>> {
    let mut v: Vec<(String, String)> = dms_fixture()?.into_iter().step_by(120).collect();
    v.push(("len1".into(), "M".into()));
    v.push(("len2".into(), "MK".into()));
    v.push(("rare".into(), "MKXBZUOACDXXBZUO".into()));
    Ok(v)
}

/// esmdb's outputs keyed like the references' (`<id>/mean_L3`, `<id>/per_tok_L4`, `<id>/logits` residue rows).
fn ours(model: &Path, cases: &[(String, String)], layers: &[i64]) -> Result<(Family, HashMap<String, Vec<f32>>)> {
    let loaded = esmdb_model::load(&model.to_string_lossy(), &LoadOptions::default())?;
    let options = EmbedOptions {
        layers: layers.to_vec(),
        pooling: vec![Pooling::Mean, Pooling::Bos, Pooling::PerToken, Pooling::Logits],
        batch_tokens: 1500,
        truncate: None,
    };
    let out = loaded.embedder.embed(cases, &options)?;
    let mut map = HashMap::new();
    for ((spec, values), &w) in out.specs.iter().zip(&out.values).zip(&out.widths) {
        let mut offset = 0;
        for (i, (id, _)) in cases.iter().enumerate() {
            let n = if spec.pooling.per_residue() { out.lengths[i] * w } else { w };
            let start = if spec.pooling.per_residue() { offset } else { i * w };
            map.insert(format!("{id}/{}", spec.column_name()), values[start..start + n].to_vec());
            offset += if spec.pooling.per_residue() { n } else { 0 };
        }
    }
    Ok((loaded.embedder.model().family(), map))
}

fn reference(
    esmc: bool,
    script: &str,
    model: &Path,
    cases: &[(String, String)],
    layers: &[i64],
    dir: &Path,
) -> Result<HashMap<String, Vec<f32>>> {
    let req = dir.join("request.json");
    let out = dir.join("reference.safetensors");
    std::fs::write(&req, serde_json::to_string(&serde_json::json!({"sequences": cases, "layers": layers}))?)?;
    let args = ["run".as_ref(), model.as_os_str(), req.as_os_str(), out.as_os_str()];
    if esmc {
        run_esmc_python(script, &args)?
    } else {
        run_python(script, &args)?
    }
    let tensors = tch::Tensor::read_safetensors(&out)?;
    tensors.into_iter().map(|(k, t)| Ok((k, Vec::<f32>::try_from(&t.flatten(0, -1))?))).collect()
}

/// Every output of ours against the reference (the worst difference, logits' relative to their largest value);
/// the reference's logits include `<cls>`/`<eos>` rows.
fn compare(
    ours: &HashMap<String, Vec<f32>>,
    theirs: &HashMap<String, Vec<f32>>,
    cases: &[(String, String)],
    what: &str,
) -> f32 {
    let mut worst = 0.0f32;
    for (key, v) in ours {
        let r = theirs.get(key).unwrap_or_else(|| panic!("{what}: the reference has no {key}"));
        let r: &[f32] = if key.ends_with("/logits") {
            let id = key.trim_end_matches("/logits");
            let len = cases.iter().find(|c| c.0 == id).map(|c| c.1.len()).unwrap_or(0);
            let width = r.len() / (len + 2);
            &r[width..(len + 1) * width]
        } else {
            r
        };
        let d = max_abs_diff(v, r);
        // Logits are sums over the whole width and grow with it (|logit| in the hundreds at 1280 wide with
        // random weights): their tolerance is relative to their size; embeddings' is absolute.
        let scale = if key.ends_with("/logits") { r.iter().fold(1.0f32, |m, x| m.max(x.abs())) } else { 1.0 };
        assert!(d <= TOL * scale, "{what}: {key}: max |diff| {d:e} > {TOL:e} × {scale}");
        worst = worst.max(d / scale);
    }
    worst
}

/// AMPLIFY against the authors' `AMPLIFY` (loaded strictly from the published layout the reference script
/// writes). Layer 0 is the embedding, 2 a raw block output, 4 (the last) SWAT's LayerNorm of the last block, the
/// paper's pooling; the logits are the model's own head. 128 wide: the config's intermediate size 512 gives a
/// SwiGLU 344 wide (⌊2·512/3⌋ = 341 rounded up to 8), so the rounding is exercised.
#[test]
fn amplify_matches_the_authors_code() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("amplify");
    let config = r#"{"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 2, "intermediate_size": 512}"#;
    run_python("amplify_ref.py", &["init".as_ref(), config.as_ref(), "3".as_ref(), model.as_os_str()])?;
    let cases = cases()?;
    let layers = [0, 2, 4];
    let theirs = reference(false, "amplify_ref.py", &model, &cases, &layers, dir.path())?;
    let (family, mine) = ours(&model, &cases, &layers)?;
    assert_eq!(family, Family::Amplify);
    assert_eq!(mine.len(), cases.len() * 10, "3 layers × mean/bos/per_tok + logits per sequence");
    let worst = compare(&mine, &theirs, &cases, "AMPLIFY");
    eprintln!("AMPLIFY parity: max |diff| {worst:e}");
    Ok(())
}

/// AMPLIFY at the released 120M size (24 blocks × 640 wide, 10 heads; the config's intermediate size 2560 gives
/// the 1712-wide SwiGLU), random weights in the published layout, loaded strictly by the authors' code. The
/// reduced model above could hide a mistake that only shows at full size (the 64-wide heads, the full stack's
/// error growth). Layers: a middle block's raw output and the last (SWAT's LayerNorm), and the logits.
#[test]
fn amplify_at_its_released_120m_size_matches_the_authors_code() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("amplify_120m");
    let config =
        r#"{"hidden_size": 640, "num_hidden_layers": 24, "num_attention_heads": 10, "intermediate_size": 2560}"#;
    run_python("amplify_ref.py", &["init".as_ref(), config.as_ref(), "11".as_ref(), model.as_os_str()])?;
    let mut cases: Vec<(String, String)> = dms_fixture()?.into_iter().take(1).collect();
    cases.push(("len1".into(), "M".into()));
    cases.push(("rare".into(), "MKXBZUOACDXXBZUO".into()));
    let layers = [12, 24];
    let theirs = reference(false, "amplify_ref.py", &model, &cases, &layers, dir.path())?;
    let (family, mine) = ours(&model, &cases, &layers)?;
    assert_eq!(family, Family::Amplify);
    let loaded = esmdb_model::load(&model.to_string_lossy(), &LoadOptions::default())?;
    let m = loaded.embedder.model();
    assert_eq!((m.num_layers(), m.hidden_size()), (24, 640));
    let worst = compare(&mine, &theirs, &cases, "AMPLIFY 24x640");
    eprintln!("AMPLIFY parity at 24 × 640: max |diff| {worst:e} (logits relative to their largest value)");
    Ok(())
}

/// What `esmdb model init --arch amplify_*` writes (config.json by hand, the upstream state-dict names) is what
/// the authors' code loads with a strict `load_state_dict`, and computes what esmdb computes from it.
#[test]
fn esmdb_written_random_amplify_is_what_the_authors_code_reads() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("amplify_small");
    esmdb_model::init::write_random_amplify(&esmdb_model::amplify::AmplifyConfig::new(3, 192, 3), 9, &model)?;
    let cases = cases()?;
    let layers = [1, 3];
    let theirs = reference(false, "amplify_ref.py", &model, &cases, &layers, dir.path())?;
    let (family, mine) = ours(&model, &cases, &layers)?;
    assert_eq!(family, Family::Amplify);
    let worst = compare(&mine, &theirs, &cases, "esmdb-written AMPLIFY");
    eprintln!("AMPLIFY written by esmdb, read by the authors' code: max |diff| {worst:e}");
    Ok(())
}

#[test]
fn esmc_matches_the_esm_package_from_both_layouts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("esmc");
    let config = r#"{"hidden_size": 256, "num_attention_heads": 4, "num_hidden_layers": 5}"#;
    run_esmc_python("esmc_ref.py", &["init".as_ref(), config.as_ref(), "3".as_ref(), out.as_os_str()])?;
    let cases = cases()?;
    let layers = [2, 5];
    let theirs = reference(true, "esmc_ref.py", &out.join("hf"), &cases, &layers, dir.path())?;
    for model in [out.join("hf"), out.join("esmc.pth")] {
        let (family, mine) = ours(&model, &cases, &layers)?;
        assert_eq!(family, Family::Esmc, "{}", model.display());
        assert_eq!(mine.len(), cases.len() * 7, "2 layers × mean/bos/per_tok + logits per sequence");
        let worst = compare(&mine, &theirs, &cases, &format!("ESM C {}", model.display()));
        eprintln!("ESM C parity ({}): max |diff| {worst:e}", model.file_name().unwrap().to_string_lossy());
    }
    Ok(())
}

/// What `esmdb model init --arch esmc_*` writes is the published layout: the `esm` package loads it
/// (`EsmcForMaskedLM.from_pretrained`) and computes what esmdb computes from it.
#[test]
fn esmdb_written_random_esmc_is_what_the_esm_package_reads() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("esmc_small");
    esmdb_model::init::write_random_esmc(&esmdb_model::esmc::EsmcConfig::new(3, 192, 3), 9, &model)?;
    let cases = cases()?;
    let layers = [1, 3];
    let theirs = reference(true, "esmc_ref.py", &model, &cases, &layers, dir.path())?;
    let (family, mine) = ours(&model, &cases, &layers)?;
    assert_eq!(family, Family::Esmc);
    let worst = compare(&mine, &theirs, &cases, "esmdb-written ESM C");
    eprintln!("ESM C written by esmdb, read by the esm package: max |diff| {worst:e}");
    Ok(())
}

/// What `esmdb model init --arch esm1b_…|esm1v_…` writes (a transformers directory, as the hub repositories
/// hold) is what transformers' `EsmModel`/`EsmForMaskedLM` read, with the same numbers.
#[test]
fn esmdb_written_random_esm1_is_what_transformers_reads() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cases = cases()?;
    for before in [true, false] {
        let model = dir.path().join(format!("esm1_{before}"));
        let config = esmdb_model::esm1::Esm1Config::new(3, 128, 4, before);
        esmdb_model::init::write_random_esm1(&config, 6, &model)?;
        let layers = [1, 3];
        let (family, mine) = ours(&model, &cases, &layers)?;
        assert_eq!(family, Family::Esm1);
        let mut theirs: HashMap<String, Vec<f32>> = HashMap::new();
        for cmd in ["hf", "hf-logits"] {
            let req = dir.path().join("request-hf.json");
            let out = dir.path().join(format!("reference-{cmd}.safetensors"));
            std::fs::write(&req, serde_json::to_string(&serde_json::json!({"sequences": cases, "layers": layers}))?)?;
            run_python("esm_ref.py", &[cmd.as_ref(), model.as_os_str(), req.as_os_str(), out.as_os_str()])?;
            for (k, t) in tch::Tensor::read_safetensors(&out)? {
                theirs.insert(k, Vec::<f32>::try_from(&t.flatten(0, -1))?);
            }
        }
        // transformers' runner gives per-token, mean and logits (no bos).
        let shared: HashMap<String, Vec<f32>> = mine.into_iter().filter(|(k, _)| !k.contains("/bos_")).collect();
        assert_eq!(shared.len(), cases.len() * 5);
        let worst = compare(&shared, &theirs, &cases, &format!("esmdb-written ESM-1 (LayerNorm before: {before})"));
        eprintln!("ESM-1 written by esmdb (LayerNorm before: {before}), read by transformers: max |diff| {worst:e}");
    }
    Ok(())
}

#[test]
fn esm1b_and_esm1v_match_fair_esm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cases = cases()?;
    let layers = [2, 4];
    for (name, before) in [("esm1b_small.pt", true), ("esm1v_small_1.pt", false)] {
        let pt = dir.path().join(name);
        let config =
            format!(r#"{{"layers": 4, "embed_dim": 128, "attention_heads": 4, "emb_layer_norm_before": {before}}}"#);
        run_python("esm1_ref.py", &["init".as_ref(), config.as_ref(), "5".as_ref(), pt.as_os_str()])?;
        let theirs = reference(false, "esm1_ref.py", &pt, &cases, &layers, dir.path())?;
        let (family, mine) = ours(&pt, &cases, &layers)?;
        assert_eq!(family, Family::Esm1);
        let worst = compare(&mine, &theirs, &cases, name);
        eprintln!("ESM-1 parity ({name}): max |diff| {worst:e}");
    }

    // Learned positions end at 1022 residues: a clear error, and --truncate's way out.
    let pt = dir.path().join("esm1v_small_1.pt");
    let long = [("long".to_owned(), "MKTAYIAKQR".repeat(103))];
    let loaded = esmdb_model::load(&pt.to_string_lossy(), &LoadOptions::default())?;
    let err = loaded.embedder.embed(&long, &EmbedOptions::default()).unwrap_err().to_string();
    assert!(err.contains("1030 residues") && err.contains("at most 1022") && err.contains("--truncate"), "{err}");
    let options = EmbedOptions { truncate: Some(1022), ..Default::default() };
    assert_eq!(loaded.embedder.embed(&long, &options)?.lengths, vec![1022]);
    Ok(())
}

/// ESM-1v at its released size (33 blocks × 1280 wide, 20 heads, 5120-wide feed-forward; `args` as in
/// `esm1v_t33_650M_UR90S_*.pt`), random weights in fair-esm's own v1 `.pt`, read by fair-esm's
/// `load_model_and_alphabet_local`. The reduced models above could hide a mistake that only shows at full
/// size (the 64-wide heads, the 1280-wide norms, the full stack's error growth). 2.6 GB on disk; about a
/// minute on 2 cores.
#[test]
fn esm1v_at_its_released_33x1280_size_matches_fair_esm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cases: Vec<(String, String)> = dms_fixture()?.into_iter().take(1).collect();
    cases.push(("len1".into(), "M".into()));
    cases.push(("rare".into(), "MKXBZUOACDXXBZUO".into()));
    let layers = [17, 33];
    let pt = dir.path().join("esm1v_t33_650M_UR90S_1.pt");
    let config = r#"{"layers": 33, "embed_dim": 1280, "attention_heads": 20, "emb_layer_norm_before": false}"#;
    run_python("esm1_ref.py", &["init".as_ref(), config.as_ref(), "11".as_ref(), pt.as_os_str()])?;
    let theirs = reference(false, "esm1_ref.py", &pt, &cases, &layers, dir.path())?;
    let (family, mine) = ours(&pt, &cases, &layers)?;
    assert_eq!(family, Family::Esm1);
    let loaded = esmdb_model::load(&pt.to_string_lossy(), &LoadOptions::default())?;
    let m = loaded.embedder.model();
    assert_eq!((m.num_layers(), m.hidden_size(), m.max_residues()), (33, 1280, Some(1022)));
    let worst = compare(&mine, &theirs, &cases, "esm1v 33x1280");
    eprintln!("ESM-1v parity at 33 × 1280: max |diff| {worst:e} (logits relative to their largest value)");
    Ok(())
}
