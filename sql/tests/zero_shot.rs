//! `esm_score` over a dataset: the wild type's table costs its length in forward passes
//! (`masked-marginals`) or one (`wt-marginals`), once; a repeated query is answered from the store.
//! Scores equal the model crate's table read directly, and a checkpoint without an LM head fails
//! with a message that says so.
//!
//! One test function: the engine counters are process-wide.
mod common;

use arrow::array::{Array, Float64Array, StringArray};
use esmdb_model::{LoadOptions, ScoreMethod};
use esmdb_sql::engine::stats;

async fn scores(session: &esmdb_sql::Session, sql: &str) -> Vec<(String, f64)> {
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let m = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let s = b.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        for i in 0..b.num_rows() {
            assert!(!s.is_null(i), "row {i} has no score");
            out.push((m.value(i).to_owned(), s.value(i)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_costs_one_table_once_and_scores_are_its_lookups() {
    // IF1 (72 residues, 1,439 variants): masked-marginals costs 72 passes rather than YAP1's 504.
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let store = esmdb_store::Store::open_or_create(store_path.to_str().unwrap()).await.unwrap();
    store.ingest("if1", &common::if1_files(), &Default::default()).await.unwrap();
    let session = common::session(&store_path).await;
    let passes = || stats().snapshot().forward_passes;
    let sql = |method: &str| {
        format!("SELECT mutant, esm_score(sequence, mutant, '{method}') FROM variants ORDER BY input_row")
    };

    // The fixture's one wild type: every mutant reverted.
    let records = esmdb_store::input::read(&common::if1_files(), &Default::default()).unwrap();
    let first = &records[0];
    let muts = esmdb_store::parse_mutant(first.mutant.as_deref().unwrap()).unwrap();
    let wild_type = esmdb_store::wild_type(&first.sequence, first.mutant.as_deref().unwrap(), &muts).unwrap();

    let before = passes();
    let masked = scores(&session, &sql("masked-marginals")).await;
    assert_eq!(masked.len(), records.len());
    assert_eq!(passes() - before, wild_type.len(), "one forward pass per wild-type position");

    let before = passes();
    let again = scores(&session, &sql("masked-marginals")).await;
    assert_eq!(passes(), before, "a repeated query runs no model");
    assert_eq!(again, masked, "and returns the same scores");

    let before = passes();
    let wt = scores(&session, &sql("wt-marginals")).await;
    assert_eq!(passes() - before, 1, "wt-marginals: one forward pass");
    assert_ne!(wt, masked);

    // The scores are the model's table, read directly (no store, no SQL).
    let loaded =
        esmdb_model::load(&common::model_path(), &LoadOptions { threads: Some(2), ..Default::default() }).unwrap();
    for (method, got) in [(ScoreMethod::MaskedMarginals, &masked), (ScoreMethod::WtMarginals, &wt)] {
        let table = loaded.embedder.log_probs("wt", &wild_type, method, 4096).unwrap();
        for (mutant, score) in got.iter() {
            let expected: f64 = esmdb_store::parse_mutant(mutant)
                .unwrap()
                .iter()
                .map(|m| table.log_odds(m.position, m.wt, m.mt).unwrap())
                .sum();
            assert!((expected - score).abs() < 1e-9, "{method} {mutant}: {score} vs {expected}");
        }
    }

    // A checkpoint exported without the LM head (`EsmModel`) cannot score: the message says why.
    let headless = dir.path().join("headless");
    std::fs::create_dir_all(&headless).unwrap();
    let src = std::path::Path::new(&common::model_path()).to_path_buf();
    std::fs::copy(src.join("config.json"), headless.join("config.json")).unwrap();
    let tensors: Vec<(String, tch::Tensor)> = tch::Tensor::read_safetensors(src.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("lm_head."))
        .collect();
    tch::Tensor::write_safetensors(&tensors, headless.join("model.safetensors")).unwrap();
    let sql = format!("SELECT esm_score(sequence, mutant, 'wt-marginals', '{}') FROM variants", headless.display());
    let err = match session.sql(&sql).await {
        Ok(df) => df.collect().await.expect_err("no LM head").to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no masked-LM head"), "{err}");
}
