//! `Store::import_vectors`: vectors from Parquet (by sequence, or by id through a dataset) land in the
//! cache under the model's identity and are found by lookups; every bad file is refused with its
//! path and row, and writes nothing.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Float64Builder, ListBuilder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use esmdb_store::{ImportParams, ImportTarget, IngestParams, OutputKey, Pooling, Store, embeddings_table, seq_hash};

const DIM: usize = 4;

fn target() -> ImportTarget {
    ImportTarget { model_id: "elsewhere@1".into(), dim: DIM, key: OutputKey { layer: 6, pooling: Pooling::Mean } }
}

fn vector(i: usize) -> Vec<f32> {
    (0..DIM).map(|d| (i * 10 + d) as f32 * 0.5).collect()
}

/// A Parquet file with a `key_col` text column and a FixedSizeList<Float32> `vector` column.
fn write(dir: &Path, name: &str, key_col: &str, keys: &[&str], vectors: &[Vec<f32>]) -> PathBuf {
    let mut builder = FixedSizeListBuilder::new(Float32Builder::new(), DIM as i32);
    for v in vectors {
        // Wider or narrower rows are written as a List instead (see `write_list`).
        builder.values().append_slice(v);
        builder.append(true);
    }
    let columns: Vec<(&str, ArrayRef)> =
        vec![(key_col, Arc::new(StringArray::from(keys.to_vec()))), ("vector", Arc::new(builder.finish()))];
    write_batch(dir, name, RecordBatch::try_from_iter(columns).unwrap())
}

/// The same with a List<Float64> vector column, whose rows may have any length.
fn write_list(dir: &Path, name: &str, keys: &[&str], vectors: &[Vec<f64>]) -> PathBuf {
    let mut builder = ListBuilder::new(Float64Builder::new());
    for v in vectors {
        builder.values().append_slice(v);
        builder.append(true);
    }
    let columns: Vec<(&str, ArrayRef)> =
        vec![("sequence", Arc::new(StringArray::from(keys.to_vec()))), ("vector", Arc::new(builder.finish()))];
    write_batch(dir, name, RecordBatch::try_from_iter(columns).unwrap())
}

fn write_batch(dir: &Path, name: &str, batch: RecordBatch) -> PathBuf {
    let path = dir.join(name);
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path
}

async fn import(
    store: &Store,
    files: &[PathBuf],
    params: &ImportParams,
) -> esmdb_store::Result<esmdb_store::ImportReport> {
    store.import_vectors(files, &target(), params, &mut |_, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_by_sequence_and_by_id_are_cached_under_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    let seqs = ["MKTAYIAK", "MKTAYIAR", "mktayiaw"];
    let file = write(dir.path(), "a.parquet", "sequence", &seqs, &[vector(0), vector(1), vector(2)]);
    let params = ImportParams { batch_rows: 2, ..ImportParams::default() };
    let r = import(&store, std::slice::from_ref(&file), &params).await.unwrap();
    assert_eq!((r.rows, r.written, r.already_cached, r.commits), (3, 3, 0, 2));
    let hashes: Vec<String> = ["MKTAYIAK", "MKTAYIAR", "MKTAYIAW"].iter().map(|s| seq_hash(s)).collect();
    let hashes: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let found = store.lookup("elsewhere@1", DIM, target().key, &hashes).await.unwrap();
    assert_eq!(found[hashes[2]], vector(2), "sequences are normalized as ingest does");
    // Again: every key is cached already and left as it was.
    let r = import(&store, &[file], &params).await.unwrap();
    assert_eq!((r.written, r.already_cached), (0, 3));

    // By id, through a dataset's variants; Float64 lists are accepted.
    let csv = common::write(dir.path(), "d.csv", "id,sequence\nv1,MKTAYIAQ\nv2,MKTAYIAE\n");
    store.ingest("d", &[csv], &IngestParams::default()).await.unwrap();
    let by_id = write(dir.path(), "ids.parquet", "id", &["v2", "v1"], &[vector(7), vector(8)]);
    let params = ImportParams { dataset: Some("d".into()), ..ImportParams::default() };
    assert_eq!(import(&store, &[by_id], &params).await.unwrap().written, 2);
    let h = seq_hash("MKTAYIAE");
    assert_eq!(store.lookup("elsewhere@1", DIM, target().key, &[h.as_str()]).await.unwrap()[&h], vector(7));
    let wide = write_list(dir.path(), "f64.parquet", &["MKTAYIAG"], &[vec![1.0, 2.0, 3.0, 4.0]]);
    assert_eq!(import(&store, &[wide], &ImportParams::default()).await.unwrap().written, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_with_their_row_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    let d = dir.path();
    let good = write(d, "good.parquet", "sequence", &["MKA", "MKC"], &[vector(0), vector(1)]);
    let cases: Vec<(Vec<PathBuf>, ImportParams, &str)> = vec![
        (
            vec![good.clone(), write_list(d, "narrow.parquet", &["MKD", "MKE"], &[vec![1.0; 4], vec![1.0; 3]])],
            ImportParams::default(),
            "narrow.parquet:2: the vector has 3 values, but `elsewhere@1` is 4 wide",
        ),
        (
            vec![write_list(d, "nan.parquet", &["MKD"], &[vec![1.0, f64::NAN, 0.0, 0.0]])],
            ImportParams::default(),
            "nan.parquet:1: value 2 of the vector is NaN",
        ),
        (
            vec![write_list(d, "inf.parquet", &["MKD"], &[vec![1.0, 0.0, 0.0, f64::INFINITY]])],
            ImportParams::default(),
            "inf.parquet:1: value 4 of the vector is inf",
        ),
        (
            vec![good.clone(), write(d, "again.parquet", "sequence", &["MKF", "mkc"], &[vector(2), vector(3)])],
            ImportParams::default(),
            "again.parquet:2: the sequence of this row was given before",
        ),
        (vec![write(d, "gap.parquet", "sequence", &["MK-A"], &[vector(0)])], ImportParams::default(), "gap.parquet:1:"),
        (
            vec![write(d, "ids.parquet", "id", &["v1"], &[vector(0)])],
            ImportParams::default(),
            "name the dataset they belong to",
        ),
        (
            vec![write(d, "other.parquet", "name", &["x"], &[vector(0)])],
            ImportParams::default(),
            "other.parquet: missing required column `sequence (or id)`",
        ),
    ];
    for (files, params, want) in cases {
        let err = import(&store, &files, &params).await.unwrap_err().to_string();
        assert!(err.contains(want), "{err}\nshould say: {want}");
        assert!(store.open_table(&embeddings_table(DIM)).await.unwrap().is_none(), "{want}: something was written");
    }
    // An id the dataset does not have.
    let csv = common::write(d, "d.csv", "id,sequence\nv1,MKTAYIAQ\n");
    store.ingest("d", &[csv], &IngestParams::default()).await.unwrap();
    let ids = write(d, "unknown.parquet", "id", &["v1", "v9"], &[vector(0), vector(1)]);
    let params = ImportParams { dataset: Some("d".into()), ..ImportParams::default() };
    let err = import(&store, &[ids], &params).await.unwrap_err().to_string();
    assert!(err.contains("unknown.parquet:2: id `v9` is not a variant of dataset `d`"), "{err}");
    assert!(store.open_table(&embeddings_table(DIM)).await.unwrap().is_none());
}
