//! Where model work happens: planning reads no weights and downloads nothing for a named model,
//! execution loads each model once per process, and a load that fails leaves the process's registry
//! usable for the next query (a notebook kernel lives on after a bad checkpoint).
//!
//! One test function: the engine counters are process-wide.
mod common;

use esmdb_sql::engine::stats;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_load_where_the_plan_runs_once_and_failures_do_not_stick() {
    let dir = tempfile::tempdir().unwrap();
    let session = common::session_with_yap1(dir.path()).await;
    let loads = || stats().snapshot().models_loaded;
    let before = loads();

    // 1. A published name is typed from the architecture table: planning loads nothing, even for a
    //    model this machine does not have (650M: 1280 wide), and finds nothing to download.
    let missing = "esm2_t33_650M_UR50D";
    let sql = format!("SELECT esm2_embed(sequence, '{missing}') AS e FROM variants WHERE input_row < 2");
    let df = session.sql(&sql).await.expect("planning a named model needs no weights");
    let shown = format!("{:?}", df.schema().field(0).data_type());
    assert!(shown.contains("1280"), "typed by the architecture: {shown}");
    assert_eq!(loads(), before, "planning loaded a model");
    // Layers out of range are still refused at planning, from the same table.
    let err = session
        .sql(&format!("SELECT esm2_embed(sequence, '{missing}', 34) FROM variants"))
        .await
        .expect_err("layer 34 of a 33-layer model")
        .to_string();
    assert!(err.contains("layer 34 is out of range"), "{err}");

    // 2. Execution: the random model loads once for a query of many batches (commit_every = 64).
    let sql = "SELECT compress_max(esm2_embed(sequence)) FROM variants WHERE input_row < 200";
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 200);
    assert_eq!(loads(), before + 1, "one load for every batch of the query");
    session.sql(sql).await.unwrap().collect().await.unwrap();
    assert_eq!(loads(), before + 1, "a second query reuses the loaded model");

    // 3. A checkpoint whose weights cannot be read fails its query, with the model named...
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let config = esmdb_model::Config::for_architecture("esm2_t6_8M_UR50D").unwrap();
    std::fs::write(broken.join("config.json"), config.to_hf_json()).unwrap();
    std::fs::write(broken.join("model.safetensors"), b"not a safetensors file").unwrap();
    let sql = format!("SELECT esm2_embed(sequence, '{}') FROM variants WHERE input_row < 2", broken.display());
    let err = match session.sql(&sql).await {
        Ok(df) => df.collect().await.expect_err("unreadable weights").to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("broken"), "names the model: {err}");
    // ...and again on a retry (nothing half-loaded was kept), while the good model keeps working.
    let again = match session.sql(&sql).await {
        Ok(df) => df.collect().await.expect_err("still unreadable").to_string(),
        Err(e) => e.to_string(),
    };
    assert!(again.contains("broken") && !again.contains("poison"), "{again}");
    let ok = session.sql("SELECT compress_mean(esm2_embed(sequence)) FROM variants WHERE input_row < 3").await;
    assert_eq!(ok.unwrap().collect().await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 3);
}
