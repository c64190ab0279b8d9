//! What the keyed cache insert costs against the plain append it replaced. Not a check (timings
//! depend on the machine); run it with
//! `cargo test --workspace --test integration -- --ignored --nocapture write_cost::`.
#![allow(clippy::unwrap_used)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use esmdb_store::lance::Dataset;
use esmdb_store::lance::dataset::{
    InsertBuilder, MergeInsertBuilder, WhenMatched, WhenNotMatched, WriteMode, WriteParams,
};
use esmdb_store::seq_hash;
use esmdb_store::{EMBEDDINGS_KEY, schema};

const DIM: usize = 320;
const BATCH: usize = 256;
const REPEATS: usize = 9;

/// `n` cache rows for sequences `start..start + n` (one model, layer 6, mean).
fn rows(start: usize, n: usize) -> RecordBatch {
    let hashes: Vec<String> = (start..start + n).map(|i| seq_hash(&format!("MK{i}"))).collect();
    let keys: Vec<(i32, &str, &str)> = hashes.iter().map(|h| (6, "mean", h.as_str())).collect();
    let flat: Vec<f32> = (0..n * DIM).map(|i| (i % 977) as f32 * 0.001).collect();
    schema::embeddings_batch(DIM, "esm2_t6_8M_UR50D@0123456789ab", &keys, &flat).unwrap()
}

async fn table(dir: &std::path::Path, name: &str, existing: usize) -> Dataset {
    let batch = rows(0, existing);
    let reader = arrow_array::RecordBatchIterator::new(vec![Ok(batch.clone())], batch.schema());
    let params = WriteParams { mode: WriteMode::Create, ..Default::default() };
    Dataset::write(reader, dir.join(name).to_str().unwrap(), Some(params)).await.unwrap()
}

async fn append(ds: Dataset, batch: RecordBatch) -> Dataset {
    let params = WriteParams { mode: WriteMode::Append, ..Default::default() };
    InsertBuilder::new(Arc::new(ds)).with_params(&params).execute(vec![batch]).await.unwrap()
}

/// The merge `Store` commits for each cache batch (store/src/keyed.rs).
async fn merge(ds: Dataset, batch: RecordBatch) -> (Dataset, u64) {
    let on = EMBEDDINGS_KEY.iter().map(|k| (*k).to_owned()).collect();
    let mut builder = MergeInsertBuilder::try_new(Arc::new(ds), on).unwrap();
    builder.when_matched(WhenMatched::DoNothing).when_not_matched(WhenNotMatched::InsertAll);
    let (ds, stats) = builder.try_build().unwrap().execute_batches(vec![batch]).await.unwrap();
    (Arc::unwrap_or_clone(ds), stats.num_inserted_rows)
}

fn median(mut t: Vec<Duration>) -> f64 {
    t.sort();
    t[t.len() / 2].as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn merge_vs_append_cost() {
    let dir = tempfile::tempdir().unwrap();
    for existing in [4096, 65536] {
        let (mut appended, mut merged, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        let mut a = table(dir.path(), &format!("a{existing}"), existing).await;
        let mut m = table(dir.path(), &format!("m{existing}"), existing).await;
        for r in 0..REPEATS {
            let new = rows(existing + r * BATCH, BATCH);
            let t = Instant::now();
            a = append(a, new.clone()).await;
            appended.push(t.elapsed());
            let t = Instant::now();
            let (next, inserted) = merge(m, new.clone()).await;
            merged.push(t.elapsed());
            assert_eq!(inserted, BATCH as u64);
            // The same batch again: what a writer that lost the race to another one pays.
            let t = Instant::now();
            let (next, inserted) = merge(next, new).await;
            skipped.push(t.elapsed());
            assert_eq!(inserted, 0);
            m = next;
        }
        eprintln!(
            "{BATCH} × {DIM} floats into {existing} rows: append {:.1} ms, merge {:.1} ms, merge of keys already there {:.1} ms (medians of {REPEATS})",
            median(appended),
            median(merged),
            median(skipped)
        );
    }
}
