//! The cache's key index (`esmdb_store::index`): a lookup of k sequences reads about k rows of a
//! table of N ≫ k (Lance's own count of rows read), the index follows the table as commits append,
//! and without it the same lookup reads every row of the key.
#![allow(clippy::unwrap_used)]
use crate::common;

use common::CountingEmbedder;
use esmdb_store::index::{KEY_INDEX, key_index_state};
use esmdb_store::lance::index::DatasetIndexExt;
use esmdb_store::{EmbedParams, OutputKey, Pooling, Store, StoreParams, embeddings_table, seq_hash};

const N: usize = 20_000;
const COMMIT: usize = 2_000;
const INDEX_EVERY: usize = 4_096;

/// Distinct protein-like sequences: `i` written in the 20 amino acids.
fn sequence(mut i: usize) -> String {
    const AA: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";
    let mut s = String::from("MK");
    loop {
        s.push(AA[i % 20] as char);
        i /= 20;
        if i == 0 {
            return s;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_of_k_keys_reads_k_rows_not_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let params = StoreParams { index_every: INDEX_EVERY, ..StoreParams::default() };
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap().with_params(params);
    let model = CountingEmbedder::new("fake@1", 4);
    let seqs: Vec<String> = (0..N).map(sequence).collect();
    let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
    let fill = EmbedParams { outputs: vec![(-1, Pooling::Mean)], batch_sequences: COMMIT };
    let r = store.embed_sequences(&refs, &model, &fill, &mut |_| {}).await.unwrap();
    assert_eq!((r.embedded, r.batches), (N, N / COMMIT));

    // The index was created with the table and kept within INDEX_EVERY rows of it.
    let table = embeddings_table(4);
    let ds = store.open_table(&table).await.unwrap().unwrap();
    let state = key_index_state(&ds, &table).await.unwrap();
    assert!(state.segments >= 1, "{state:?}");
    assert!(state.unindexed_rows < INDEX_EVERY, "{state:?}");

    // k = 10 cached sequences and 5 absent ones.
    let key = OutputKey { layer: 6, pooling: Pooling::Mean };
    let asked: Vec<String> =
        (0..10).map(|i| seq_hash(&seqs[i * 1_999])).chain((0..5).map(|i| seq_hash(&format!("W{i}")))).collect();
    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
    let before = store.key_rows_scanned();
    let found = store.lookup("fake@1", 4, key, &asked).await.unwrap();
    let read = store.key_rows_scanned() - before;
    assert_eq!(found.len(), 10);
    for i in 0..10 {
        assert_eq!(found[asked[i]], model.vector(&seqs[i * 1_999], key));
    }
    // Lance counts up to two reads of a hit's row (the refine filter's columns, then the projection's).
    assert!(read >= 10, "Lance counted {read} rows for 10 hits");
    assert!(
        read <= 2 * 10 + state.unindexed_rows as u64,
        "read {read} rows; {} outside the index",
        state.unindexed_rows
    );

    // A cached re-run of a few sequences: no forward pass, the same few rows.
    let calls = model.calls();
    let before = store.key_rows_scanned();
    let (got, report) = store.get_or_embed(&refs[..100], &model, -1, Pooling::Mean, 256, &mut |_| {}).await.unwrap();
    assert_eq!((report.hits, report.embedded, model.calls()), (100, 0, calls));
    assert_eq!(got[7], model.vector(refs[7], key));
    let read = store.key_rows_scanned() - before;
    assert!((100..=2 * 100 + state.unindexed_rows as u64).contains(&read), "read {read} rows for 100 hits");

    // Without the index the same lookup reads every row of the table.
    let mut ds = store.open_table(&table).await.unwrap().unwrap();
    ds.drop_index(KEY_INDEX).await.unwrap();
    let before = store.key_rows_scanned();
    assert_eq!(store.lookup("fake@1", 4, key, &asked).await.unwrap().len(), 10);
    let read = store.key_rows_scanned() - before;
    assert!(read >= N as u64, "an unindexed lookup read {read} rows of {N}");

    // The next write puts the index back.
    let more: Vec<String> = (N..N + 10).map(sequence).collect();
    let more: Vec<&str> = more.iter().map(String::as_str).collect();
    store.embed_sequences(&more, &model, &fill, &mut |_| {}).await.unwrap();
    let ds = store.open_table(&table).await.unwrap().unwrap();
    assert!(key_index_state(&ds, &table).await.unwrap().segments >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_rows_are_found_before_and_after_the_index_takes_them_in() {
    let dir = tempfile::tempdir().unwrap();
    let params = StoreParams { index_every: 100, ..StoreParams::default() };
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap().with_params(params);
    let model = CountingEmbedder::new("fake@1", 4);
    let fill = EmbedParams { outputs: vec![(-1, Pooling::Mean)], batch_sequences: 100 };
    let key = OutputKey { layer: 6, pooling: Pooling::Mean };
    let table = embeddings_table(4);
    let mut segments_seen = Vec::new();
    for round in 0..12 {
        let seqs: Vec<String> = (round * 100..(round + 1) * 100).map(sequence).collect();
        let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
        store.embed_sequences(&refs, &model, &fill, &mut |_| {}).await.unwrap();
        // Every sequence written so far is found, indexed or not.
        let all: Vec<String> = (0..(round + 1) * 100).map(|i| seq_hash(&sequence(i))).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(store.cached_among("fake@1", 4, key, &all).await.unwrap().len(), all.len(), "round {round}");
        let ds = store.open_table(&table).await.unwrap().unwrap();
        let state = key_index_state(&ds, &table).await.unwrap();
        assert_eq!(state.unindexed_rows, 0, "round {round}: {state:?}");
        segments_seen.push(state.segments);
    }
    // A segment per refresh, merged into one once there are MAX_SEGMENTS.
    let max = esmdb_store::index::MAX_SEGMENTS;
    let want: Vec<usize> = (0..12).map(|round| round % max + 1).collect();
    assert_eq!(segments_seen, want);
}
