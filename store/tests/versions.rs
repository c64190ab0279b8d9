//! Versions, reading an older one, automatic and manual compaction, and a reader that never sees a
//! half-applied append.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::write;
use esmdb_store::{CompactParams, IngestParams, Store, StoreParams, VARIANTS};

fn fasta(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!(">v{i}\nMK{}\n", "A".repeat(i % 50 + 1))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_appends_are_compacted_and_old_versions_readable() {
    let dir = tempfile::tempdir().unwrap();
    let params = StoreParams {
        compact_above_fragments: Some(8),
        compact: CompactParams { retain_versions: 5, ..Default::default() },
        ..StoreParams::default()
    };
    let store = Store::open_or_create(dir.path().join("s").to_str().unwrap()).await.unwrap().with_params(params);
    for i in 0..6 {
        let f = write(dir.path(), &format!("{i}.fasta"), &fasta(i * 3, 3));
        store.ingest("d", &[f], &IngestParams::default()).await.unwrap();
    }
    let versions = store.versions(VARIANTS).await.unwrap();
    assert_eq!(versions.len(), 6);
    assert_eq!(versions.iter().map(|v| v.rows).collect::<Vec<_>>(), (1..=6).map(|i| Some(i * 3)).collect::<Vec<_>>());
    assert!(versions.last().unwrap().latest);
    // Reading an older version.
    assert_eq!(store.variants("d", Some(2)).await.unwrap().num_rows(), 6);

    for i in 6..12 {
        let f = write(dir.path(), &format!("{i}.fasta"), &fasta(i * 3, 3));
        store.ingest("d", &[f], &IngestParams::default()).await.unwrap();
    }
    let ds = store.open_table(VARIANTS).await.unwrap().unwrap();
    assert!(ds.count_fragments() <= 8, "automatic compaction kept fragments bounded: {}", ds.count_fragments());
    assert!(store.versions(VARIANTS).await.unwrap().len() <= 8, "old versions were cleaned up");
    assert_eq!(store.variants("d", None).await.unwrap().num_rows(), 36);

    let reports = store.compact(&CompactParams { retain_versions: 1, ..Default::default() }).await.unwrap();
    let v = reports.iter().find(|r| r.table == VARIANTS).unwrap();
    assert_eq!(v.fragments_after, 1);
    assert_eq!(store.versions(VARIANTS).await.unwrap().len(), 1);
    assert_eq!(store.variants("d", None).await.unwrap().num_rows(), 36);
    assert_eq!(store.dataset_info("d").await.unwrap().unwrap().rows, 36);
}

/// A reader scanning while appends commit sees whole commits only: every count is a multiple of the
/// append size and never goes down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_never_sees_a_partial_append() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s");
    let store = Store::open_or_create(root.to_str().unwrap()).await.unwrap();
    let first = write(dir.path(), "0.fasta", &fasta(0, 25));
    store.ingest("d", &[first], &IngestParams::default()).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut counts = vec![];
            while !done.load(Ordering::SeqCst) {
                let n = store.variants("d", None).await.unwrap().num_rows();
                counts.push(n);
            }
            counts
        })
    };
    for i in 1..10 {
        let f = write(dir.path(), &format!("{i}.fasta"), &fasta(i * 25, 25));
        store.ingest("d", &[f], &IngestParams::default()).await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let counts = reader.await.unwrap();
    assert!(!counts.is_empty());
    assert!(counts.iter().all(|n| n % 25 == 0), "{counts:?}");
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
}
