//! The SQL functions run any model family esmdb loads: an ESM C checkpoint (written at a small size in
//! the `esm` package's layout) is typed at planning from its `config.json`, embedded, pooled through the
//! cache and scored with its 64-wide LM head, with the same values as the model crate gives directly.
use crate::common;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float32Type, Float64Type};
use esmdb_model::{EmbedOptions, LoadOptions, Pooling, ScoreMethod};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esmc_runs_through_the_sql_functions() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("esmc_small");
    esmdb_model::init::write_random_esmc(&esmdb_model::esmc::EsmcConfig::new(2, 128, 2), 4, &model).unwrap();
    let m = model.display().to_string();
    let session = common::session_with_yap1(dir.path()).await;

    let df = session.sql(&format!("SELECT esm2_embed('MKTAYIAK', '{m}') AS e")).await.unwrap();
    let shown = format!("{:?}", df.schema().field(0).data_type());
    assert!(shown.contains("128"), "typed from config.json: {shown}");

    let sql = format!(
        "SELECT sequence, compress_mean(esm2_embed(sequence, '{m}')) AS v FROM variants WHERE input_row < 4 \
         ORDER BY input_row"
    );
    let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
    let b = &batches[0];
    let seqs: Vec<(String, String)> =
        (0..b.num_rows()).map(|i| (format!("s{i}"), b.column(0).as_string::<i32>().value(i).to_owned())).collect();
    let loaded = esmdb_model::load(&m, &LoadOptions::default()).unwrap();
    let direct = loaded.embedder.embed(&seqs, &EmbedOptions { pooling: vec![Pooling::Mean], ..Default::default() });
    let direct = direct.unwrap();
    let vectors = b.column(1).as_fixed_size_list();
    for i in 0..b.num_rows() {
        let v = vectors.value(i);
        let v = v.as_primitive::<Float32Type>().values();
        let d = v.iter().zip(&direct.values[0][i * 128..(i + 1) * 128]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(d < 1e-5, "row {i}: {d}");
    }

    // `embed` is the family-neutral name: the same vectors, the same cached pooled rewrite.
    let sql = format!(
        "SELECT compress_mean(embed(sequence, '{m}')) AS v FROM variants WHERE input_row < 4 ORDER BY input_row"
    );
    let again = session.sql(&sql).await.unwrap().collect().await.unwrap();
    assert_eq!(again[0].column(0).as_ref(), vectors as &dyn Array);
    let plan = session.sql(&format!("EXPLAIN {sql}")).await.unwrap().collect().await.unwrap();
    let plan = arrow::util::pretty::pretty_format_batches(&plan).unwrap().to_string();
    assert!(plan.contains("esm2_embed_pooled"), "compress_mean(embed(…)) is served by the cache: {plan}");

    let sql = format!("SELECT esm_score('MCTA', 'K2C', 'wt-marginals', '{m}') AS s");
    let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
    let score = batches[0].column(0).as_primitive::<Float64Type>().value(0);
    let table = loaded.embedder.log_probs("wt", "MKTA", ScoreMethod::WtMarginals, 4096).unwrap();
    assert_eq!(table.width, 64, "ESM C's head is 64 wide");
    assert!((score - table.log_odds(2, 'K', 'C').unwrap()).abs() < 1e-9, "{score}");
}
