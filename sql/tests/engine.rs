//! What the SQL layer asks of the engine: a repeated query makes zero forward passes, the pooled
//! rewrite never computes per-token output, pooled vectors equal the mean of the per-token ones,
//! and `lasso_cv_eval` over SQL equals the protocol run directly on the same vectors.
//!
//! One test function: the engine counters are process-wide.
mod common;

use esmdb_sql::datafusion::arrow::array::{Array, AsArray, Float64Array};
use esmdb_sql::datafusion::arrow::datatypes::Float32Type;
use esmdb_sql::engine::stats;
use esmdb_sql::{Session, datafusion};

async fn collect(session: &Session, sql: &str) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    session.sql(sql).await.expect("plan").collect().await.expect("run")
}

/// Vectors of a `FixedSizeList<Float32>` or `List<FixedSizeList<Float32>>` column, row by row.
fn vectors(batches: &[datafusion::arrow::record_batch::RecordBatch], col: usize) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column(col);
        let fsl = c.as_fixed_size_list();
        for i in 0..fsl.len() {
            out.push(fsl.value(i).as_primitive::<Float32Type>().values().to_vec());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_work_is_cached_pooled_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let session = common::session_with_yap1(dir.path()).await;
    let rows = "FROM variants WHERE input_row < 40";

    // 1. The pooled rewrite: planned as esm2_embed_pooled, never per-token.
    let sql = format!("SELECT input_row, compress_mean(esm2_embed(sequence)) AS v {rows} ORDER BY input_row");
    let plan = session.sql(&sql).await.unwrap().into_optimized_plan().unwrap();
    let shown = format!("{}", plan.display_indent());
    assert!(shown.contains("esm2_embed_pooled(variants.sequence, Utf8(\"mean\")"), "{shown}");
    let before = stats().snapshot();
    let first = collect(&session, &sql).await;
    let after = stats().snapshot();
    assert_eq!(after.per_token_sequences, before.per_token_sequences, "pooled query computed per-token output");
    assert_eq!(after.forward_passes - before.forward_passes, 40, "one forward pass per distinct sequence");

    // 2. The same query again: everything from the cache.
    let again = collect(&session, &sql).await;
    let third = stats().snapshot();
    assert_eq!(third.forward_passes, after.forward_passes, "a repeated query ran the model");
    assert_eq!(third.cache_hits - after.cache_hits, 40);
    assert_eq!(vectors(&first, 1), vectors(&again, 1));

    // 3. Pooled mean = mean of esm2_embed's per-token vectors (computed here, in f64).
    let per_tok = collect(&session, &format!("SELECT esm2_embed(sequence) {rows} ORDER BY input_row LIMIT 3")).await;
    assert!(stats().snapshot().per_token_sequences >= third.per_token_sequences + 3);
    let pooled = vectors(&first, 1);
    let list = per_tok[0].column(0).as_list::<i32>();
    for (r, pooled_row) in pooled.iter().enumerate().take(3) {
        let tokens = list.value(r);
        let tokens = tokens.as_fixed_size_list();
        let dim = tokens.value_length() as usize;
        let values = tokens.values().as_primitive::<Float32Type>().values();
        let mut mean = vec![0f64; dim];
        for t in 0..tokens.len() {
            for d in 0..dim {
                mean[d] += f64::from(values[t * dim + d]) / tokens.len() as f64;
            }
        }
        let max_diff = mean.iter().zip(pooled_row).map(|(a, b)| (a - f64::from(*b)).abs()).fold(0.0, f64::max);
        assert!(max_diff < 1e-5, "row {r}: pooled mean differs from the per-token mean by {max_diff}");
    }

    // 4. lasso_cv_eval through SQL = the protocol on the same vectors in input order.
    let before_lasso = stats().snapshot();
    let eval = collect(
        &session,
        &format!(
            "SELECT r['fold'] AS fold, r['alpha'] AS alpha, r['r2_test'] AS r2 FROM \
             (SELECT unnest(lasso_cv_eval(compress_mean(esm2_embed(sequence)), target ORDER BY input_row)) AS r {rows}) \
             ORDER BY fold"
        ),
    )
    .await;
    let targets = collect(&session, &format!("SELECT target {rows} ORDER BY input_row")).await;
    let y: Vec<f64> = targets
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Float64Type>().values().to_vec())
        .collect();
    let dim = pooled[0].len();
    let x = ndarray::Array2::from_shape_fn((pooled.len(), dim), |(i, j)| f64::from(pooled[i][j]));
    let direct = esmdb_regress::protocol::evaluate(
        x.view(),
        ndarray::ArrayView1::from(&y),
        None,
        &esmdb_regress::ProtocolOptions::default(),
    )
    .unwrap();
    let alpha = eval[0].column(1).as_any().downcast_ref::<Float64Array>().unwrap();
    let r2 = eval[0].column(2).as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(alpha.len(), direct.folds.len());
    for (i, f) in direct.folds.iter().enumerate() {
        assert_eq!(alpha.value(i), f.alpha, "fold {}", f.fold);
        assert_eq!(r2.value(i), f.r2_test, "fold {}", f.fold);
    }
    let end = stats().snapshot();
    assert_eq!(end.forward_passes, before_lasso.forward_passes, "the lasso query ran the model");
    assert_eq!(end.per_token_sequences, before_lasso.per_token_sequences, "the lasso query computed per-token output");
}
