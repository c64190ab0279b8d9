//! The embedding cache: misses only, zero forward passes on a re-run, shared sequences embedded once,
//! interrupted runs resume, lookups return what the model produced.
#![allow(clippy::unwrap_used)]
use crate::common;

use common::{CountingEmbedder, write, yap1};
use esmdb_store::{EmbedParams, IngestParams, OutputKey, Pooling, Store, embeddings_table};

async fn yap1_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    let (csv, fasta) = yap1();
    store.ingest("YAP1", &[csv, fasta], &IngestParams::default()).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_run_makes_zero_forward_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = yap1_store(&dir).await;
    let model = CountingEmbedder::new("fake@1", 8);
    let params = EmbedParams { outputs: vec![(-1, Pooling::Mean), (3, Pooling::Bos)], batch_sequences: 100 };
    let mut seen = vec![];
    let r = store.embed_dataset("YAP1", &model, &params, &mut |p| seen.push(p)).await.unwrap();
    assert_eq!((r.requested, r.unique, r.hits, r.embedded, r.batches), (362, 362, 0, 362, 4));
    assert_eq!(r.vectors_written, 724);
    assert_eq!(model.calls(), 4);
    assert_eq!(seen.last().unwrap().embedded, 362);

    let r = store.embed_dataset("YAP1", &model, &params, &mut |_| {}).await.unwrap();
    assert_eq!((r.hits, r.embedded, r.batches), (362, 0, 0));
    assert_eq!(model.calls(), 4, "a second run calls the model zero times");

    // A new output only computes that output; the others are not written twice.
    let more = EmbedParams { outputs: vec![(6, Pooling::Mean), (0, Pooling::Mean)], batch_sequences: 1000 };
    let r = store.embed_dataset("YAP1", &model, &more, &mut |_| {}).await.unwrap();
    assert_eq!((r.embedded, r.vectors_written), (362, 362));
    assert_eq!(
        store.cached_hashes("fake@1", 8, OutputKey { layer: 6, pooling: Pooling::Mean }).await.unwrap().len(),
        362
    );

    // Same name, different weights: its own rows.
    let other = CountingEmbedder::new("fake@2", 8);
    let r = store.embed_dataset("YAP1", &other, &params, &mut |_| {}).await.unwrap();
    assert_eq!(r.embedded, 362);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_sequences_are_embedded_once_and_vectors_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    let a = write(dir.path(), "a.fasta", ">a1\nMKT\n>a2\nMKA\n>a3\nmkt\n");
    let b = write(dir.path(), "b.fasta", ">b1\nMKA\n>b2\nMKW\n");
    store.ingest("A", &[a], &IngestParams::default()).await.unwrap();
    store.ingest("B", &[b], &IngestParams::default()).await.unwrap();
    let model = CountingEmbedder::new("fake@1", 4);
    let params = EmbedParams::default();
    let r = store.embed_dataset("A", &model, &params, &mut |_| {}).await.unwrap();
    assert_eq!((r.requested, r.unique, r.embedded), (3, 2, 2), "MKT and mkt are one sequence");
    let r = store.embed_dataset("B", &model, &params, &mut |_| {}).await.unwrap();
    assert_eq!((r.unique, r.hits, r.embedded), (2, 1, 1), "MKA was embedded for A already");
    assert_eq!(model.sequences(), 3);

    let key = OutputKey { layer: 6, pooling: Pooling::Mean };
    let (got, report) =
        store.get_or_embed(&["MKW", "MKT", "MQQ", "MKW"], &model, -1, Pooling::Mean, 16, &mut |_| {}).await.unwrap();
    assert_eq!(model.sequences(), 4, "only MQQ was new");
    assert_eq!((report.requested, report.unique, report.hits, report.embedded), (4, 3, 2, 1));
    let got = got[..3].to_vec();
    assert_eq!(got, vec![model.vector("MKW", key), model.vector("MKT", key), model.vector("MQQ", key)]);
    assert!(store.tables().await.unwrap().contains(&embeddings_table(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_run_keeps_finished_batches_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store = yap1_store(&dir).await;
    let mut crashing = CountingEmbedder::new("fake@1", 8);
    crashing.fail_after_calls = Some(2);
    let params = EmbedParams { batch_sequences: 50, ..Default::default() };
    let err = store.embed_dataset("YAP1", &crashing, &params, &mut |_| {}).await.unwrap_err();
    assert_eq!(err.to_string(), "embedding with `fake@1` failed: simulated crash");
    let key = OutputKey { layer: 6, pooling: Pooling::Mean };
    assert_eq!(store.cached_hashes("fake@1", 8, key).await.unwrap().len(), 100);

    let model = CountingEmbedder::new("fake@1", 8);
    let r = store.embed_dataset("YAP1", &model, &params, &mut |_| {}).await.unwrap();
    assert_eq!((r.hits, r.embedded), (100, 262));
    assert_eq!(store.cached_hashes("fake@1", 8, key).await.unwrap().len(), 362);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_dataset_and_bad_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = yap1_store(&dir).await;
    let model = CountingEmbedder::new("fake@1", 8);
    let err = store.embed_dataset("nope", &model, &EmbedParams::default(), &mut |_| {}).await.unwrap_err();
    assert_eq!(err.to_string(), "unknown dataset `nope` (the store has: YAP1)");
    let params = EmbedParams { outputs: vec![(7, Pooling::Mean)], ..Default::default() };
    let err = store.embed_dataset("YAP1", &model, &params, &mut |_| {}).await.unwrap_err();
    assert_eq!(err.to_string(), "layer 7 out of range for a 6-layer model (0..=6 or -1..=-7)");
    assert_eq!(model.calls(), 0);
}

/// The `models` table: each model id once (the first source kept), the latest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_recorded_once_latest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    assert!(store.models().await.unwrap().is_empty());
    assert!(store.record_model("a@1", "/models/a", 320).await.unwrap());
    assert!(store.record_model("b@2", "/models/b", 1280).await.unwrap());
    assert!(!store.record_model("a@1", "/elsewhere/a", 320).await.unwrap(), "recorded before");
    let models = store.models().await.unwrap();
    let got: Vec<(&str, &str, usize)> =
        models.iter().map(|m| (m.model_id.as_str(), m.source.as_str(), m.dim)).collect();
    assert_eq!(got, vec![("b@2", "/models/b", 1280), ("a@1", "/models/a", 320)]);
    assert!(store.tables().await.unwrap().contains(&esmdb_store::MODELS.to_owned()));
}
