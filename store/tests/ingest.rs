//! Ingest: the paper layout, idempotence, conflicts, the other formats, and every bad-input error
//! with "nothing written".
#![allow(clippy::unwrap_used)]
use crate::common;

use std::path::PathBuf;

use arrow_array::{Float64Array, Int64Array, StringArray};
use common::{write, yap1};
use esmdb_store::{ColumnMap, Error, IngestParams, ReadParams, Store, VARIANTS};

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap()
}

async fn variants_version(store: &Store) -> Option<u64> {
    store.open_table(VARIANTS).await.unwrap().map(|d| d.version_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_layout_ingests_once_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (csv, fasta) = yap1();
    let r = store.ingest("YAP1", &[csv.clone(), fasta.clone()], &IngestParams::default()).await.unwrap();
    assert_eq!((r.input_rows, r.added, r.unchanged, r.total_rows), (362, 362, 0, 362));
    let v1 = variants_version(&store).await;
    assert_eq!(r.version, v1);

    let batch = store.variants("YAP1", None).await.unwrap();
    assert_eq!(batch.num_rows(), 362);
    let rows = batch.column_by_name("input_row").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let mut sorted: Vec<i64> = rows.values().to_vec();
    sorted.sort();
    assert_eq!(sorted, (0..362).collect::<Vec<i64>>());
    let ids = batch.column_by_name("id").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let targets = batch.column_by_name("target").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    let first = (0..362).find(|&i| rows.value(i) == 0).unwrap();
    assert_eq!(ids.value(first), "YAP1_D170C");
    assert_eq!(targets.value(first), 1.08657274);
    // The cache key stores written before esmdb-seq were keyed by (`sha256sum` of the uppercased sequence): the
    // same, so their cached vectors are still hits.
    let hashes = batch.column_by_name("seq_hash").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(hashes.value(first), "a54ddc34b71684580f4a4ceed7bc5d3ac46b5e4d8cfaa0ff8e5341a2a3c963a0");

    // Same files again, or the FASTA alone: nothing added, no new version.
    for files in [vec![csv.clone(), fasta.clone()], vec![csv.clone()], vec![fasta.clone()]] {
        let r = store.ingest("YAP1", &files, &IngestParams::default()).await.unwrap();
        assert_eq!((r.added, r.unchanged, r.version), (0, 362, None));
        assert_eq!(variants_version(&store).await, v1);
    }
    let info = store.dataset_info("YAP1").await.unwrap().unwrap();
    assert_eq!(info.rows, 362);
    assert_eq!(info.sources.len(), 2);
    assert_eq!(Some(info.version), v1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_only_new_ids_and_conflicts_need_replace() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let a = write(dir.path(), "a.csv", "id,sequence,score\nv1,MKT,1.0\nv2,MKA,2.0\n");
    let params = IngestParams {
        read: ReadParams {
            columns: Some(ColumnMap { target: Some("score".into()), ..Default::default() }),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(store.ingest("d", &[a], &params).await.unwrap().added, 2);
    let b = write(dir.path(), "b.csv", "id,sequence,score\nv2,MKA,2.0\nv3,MKW,3.0\n");
    let r = store.ingest("d", &[b], &params).await.unwrap();
    assert_eq!((r.added, r.unchanged, r.total_rows), (1, 1, 3));

    let before = variants_version(&store).await;
    let c = write(dir.path(), "c.csv", "id,sequence,score\nv2,MKA,2.5\nv4,MKV,4.0\n");
    let err = store.ingest("d", std::slice::from_ref(&c), &params).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "dataset `d`: id `v2` is already stored with a different target (stored 2, new 2.5); pass --replace to overwrite"
    );
    assert_eq!(variants_version(&store).await, before, "a conflict writes nothing");

    let replace = IngestParams { replace: true, ..params.clone() };
    let r = store.ingest("d", &[c], &replace).await.unwrap();
    assert_eq!((r.added, r.replaced, r.total_rows), (1, 1, 4));
    let batch = store.variants("d", None).await.unwrap();
    assert_eq!(batch.num_rows(), 4);
    // The replaced version is still readable.
    let old = store.variants("d", before).await.unwrap();
    assert_eq!(old.num_rows(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proteingym_and_parquet_formats() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let pg =
        write(dir.path(), "pg.csv", "mutant,mutated_sequence,DMS_score,DMS_score_bin\nM1A,AKT,0.5,1\nK2A,MAT,-1.5,0\n");
    let r = store.ingest("pg", &[pg], &IngestParams::default()).await.unwrap();
    assert_eq!(r.added, 2);
    let batch = store.variants("pg", None).await.unwrap();
    let extra = batch.column_by_name("extra").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    assert!(extra.iter().flatten().any(|e| e == r#"{"DMS_score_bin":"1"}"#), "{extra:?}");

    // Parquet with named columns.
    let path = dir.path().join("x.parquet");
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("name", arrow_schema::DataType::Utf8, false),
        arrow_schema::Field::new("seq", arrow_schema::DataType::Utf8, false),
        arrow_schema::Field::new("y", arrow_schema::DataType::Float64, true),
    ]));
    let batch = arrow_array::RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(StringArray::from(vec!["p1", "p2"])),
            std::sync::Arc::new(StringArray::from(vec!["mkt", "MKW"])),
            std::sync::Arc::new(Float64Array::from(vec![Some(0.1), None])),
        ],
    )
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let params = IngestParams {
        read: ReadParams {
            columns: Some(ColumnMap {
                id: "name".into(),
                sequence: "seq".into(),
                target: Some("y".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = store.ingest("pq", &[path], &params).await.unwrap();
    assert_eq!(r.added, 2);
    let batch = store.variants("pq", None).await.unwrap();
    let seqs = batch.column_by_name("sequence").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    assert!(seqs.iter().flatten().any(|s| s == "MKT"), "sequences are normalized to upper case");
    let t = batch.column_by_name("target").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(t.iter().flatten().collect::<Vec<_>>(), vec![0.1]);
}

/// Each bad input gives its own clear error, and the store is left exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let seed = write(dir.path(), "seed.fasta", ">s1\nMKT\n");
    store.ingest("d", &[seed], &IngestParams::default()).await.unwrap();
    let before = variants_version(&store).await;
    let d = dir.path();
    let p = |name: &str| d.join(name).display().to_string();
    let paper = "ID,mutant,target,sequence\n";
    let cases: Vec<(Vec<PathBuf>, String)> = vec![
        (vec![write(d, "empty.csv", "")], format!("{}: file is empty", p("empty.csv"))),
        (vec![write(d, "empty.fasta", "")], format!("{}: no FASTA records (empty file)", p("empty.fasta"))),
        (
            vec![write(d, "nohdr.fasta", "MKT\n>a\nMK\n")],
            format!("{}:1: sequence data before the first `>` header (is this a FASTA file?)", p("nohdr.fasta")),
        ),
        (vec![write(d, "emptyseq.fasta", ">a\n>b\nMK\n")], format!("{}:1: sequence `a` is empty", p("emptyseq.fasta"))),
        (
            vec![write(d, "emptyseq.csv", &format!("{paper}a,M1A,1.0,\n"))],
            format!("{}:2: sequence `a` is empty", p("emptyseq.csv")),
        ),
        (
            vec![write(d, "dup.fasta", ">a\nMK\n>a\nMK\n")],
            format!("{}:3: duplicate id `a` (first seen on line 1)", p("dup.fasta")),
        ),
        (
            vec![write(d, "dup.csv", &format!("{paper}a,M1A,1.0,MK\na,M1A,1.0,MK\n"))],
            format!("{}:3: duplicate id `a` (first seen on line 2)", p("dup.csv")),
        ),
        (
            vec![
                write(d, "mm.csv", &format!("{paper}a,M1A,1.0,MK\nb,M1A,1.0,MA\n")),
                write(d, "mm.fasta", ">a\nMK\n>c\nMA\n"),
            ],
            format!("{}:3: `c` is in the FASTA but not in the table (checked against {})", p("mm.fasta"), p("mm.csv")),
        ),
        (
            vec![write(d, "ms.csv", &format!("{paper}a,M1A,1.0,MK\n")), write(d, "ms.fasta", ">a\nMW\n")],
            format!(
                "{}:1: `a` has a different sequence than line 2 of the table (checked against {})",
                p("ms.fasta"),
                p("ms.csv")
            ),
        ),
        (
            vec![write(d, "mf.csv", &format!("{paper}a,M1A,1.0,MK\nb,M1A,1.0,MA\n")), write(d, "mf.fasta", ">a\nMK\n")],
            format!("{}:3: `b` is in the table but not in the FASTA (checked against {})", p("mf.csv"), p("mf.fasta")),
        ),
        (
            vec![write(d, "nan.csv", &format!("{paper}a,M1A,NaN,MK\n"))],
            format!("{}:2: `a`: column `target` must be a finite number, got `NaN`", p("nan.csv")),
        ),
        (
            vec![write(d, "inf.csv", &format!("{paper}a,M1A,inf,MK\n"))],
            format!("{}:2: `a`: column `target` must be a finite number, got `inf`", p("inf.csv")),
        ),
        (
            vec![write(d, "txt.csv", &format!("{paper}a,M1A,1.0,MK\nb,M1A,high,MK\n"))],
            format!("{}:3: `b`: column `target` must be a finite number, got `high`", p("txt.csv")),
        ),
        (
            vec![write(d, "res.csv", &format!("{paper}a,M1A,1.0,MKJT\n"))],
            format!(
                "{}:2: sequence `a`: `J` at position 3 is not a residue letter \
                 (the ESM alphabet: ACDEFGHIKLMNPQRSTVWY and X, B, Z, U, O)",
                p("res.csv")
            ),
        ),
        (
            vec![write(d, "res.fasta", ">a\nMK\n>b\nMK*\n")],
            format!(
                "{}:3: sequence `b`: `*` at position 3 is a stop codon: \
                 a nonsense variant has no full-length protein to embed (leave such variants out)",
                p("res.fasta")
            ),
        ),
        (
            vec![write(d, "nocol.csv", "ID,mutant,sequence\na,M1A,MK\n")],
            format!("{}: missing required column `target` (found: ID, mutant, sequence)", p("nocol.csv")),
        ),
        (
            vec![write(d, "pgnocol.csv", "mutant,mutated_sequence\nM1A,MK\n")],
            format!("{}: missing required column `DMS_score` (found: mutant, mutated_sequence)", p("pgnocol.csv")),
        ),
    ];
    for (files, expected) in cases {
        let err = store.ingest("d", &files, &IngestParams::default()).await.unwrap_err().to_string();
        assert_eq!(err, expected);
        assert_eq!(variants_version(&store).await, before, "nothing written for {expected}");
    }
    // Missing column with named columns.
    let f = write(d, "gen.csv", "name,seq\na,MK\n");
    let params = IngestParams {
        read: ReadParams {
            columns: Some(ColumnMap { id: "name".into(), sequence: "sequence".into(), ..Default::default() }),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = store.ingest("d", &[f], &params).await.unwrap_err().to_string();
    assert!(err.ends_with("gen.csv: missing required column `sequence` (found: name, seq)"), "{err}");
    assert_eq!(variants_version(&store).await, before);
}

/// A refused sequence is one error class, whatever the format, carrying the policy's error (id and reason) as its
/// source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sequences_are_one_typed_error_with_the_policy_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let cases = [("gap.csv", "ID,mutant,target,sequence\ng,K2A,1.0,M-K\n", 2), ("gap.fasta", ">g\nM-K\n", 1)];
    for (name, text, expected_line) in cases {
        let file = write(dir.path(), name, text);
        let err = store.ingest("d", std::slice::from_ref(&file), &IngestParams::default()).await.unwrap_err();
        let Error::Sequence { path, line, source } = &err else { panic!("{name}: {err:?}") };
        assert_eq!((path, *line, source.id.as_str()), (&file, expected_line, "g"));
        assert!(source.to_string().starts_with("sequence `g`: `-` at position 2 is an alignment gap"), "{source}");
        let chained = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(chained, Some(source.to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_dataset_and_bad_store_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let err = store.variants("nope", None).await.unwrap_err().to_string();
    assert_eq!(err, "unknown dataset `nope` (the store has: none)");
    let seed = write(dir.path(), "seed.fasta", ">s1\nMKT\n");
    store.ingest("d1", &[seed], &IngestParams::default()).await.unwrap();
    let err = store.variants("nope", None).await.unwrap_err().to_string();
    assert_eq!(err, "unknown dataset `nope` (the store has: d1)");

    let file = write(dir.path(), "plain-file", "x");
    let err = Store::open_or_create(file.to_str().unwrap()).await.unwrap_err().to_string();
    assert_eq!(err, format!("store `{}`: is not a directory", file.display()));
    let missing = dir.path().join("missing");
    let err = Store::open(missing.to_str().unwrap()).await.unwrap_err().to_string();
    assert_eq!(err, format!("store `{}`: does not exist (`esmdb ingest` creates it)", missing.display()));
    let err = store.ingest("bad name", &[], &IngestParams::default()).await.unwrap_err().to_string();
    assert_eq!(err, "invalid dataset name `bad name`: use letters, digits, `_`, `-` and `.` only");
}

/// A CSV whose columns are the documented defaults (`id`, `sequence`, optionally `target`) needs no
/// column flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_columns_are_recognized_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let plain = write(dir.path(), "plain.csv", "id,sequence\na,MKT\nb,MKA\n");
    assert_eq!(store.ingest("plain", &[plain], &IngestParams::default()).await.unwrap().added, 2);
    let with_target = write(dir.path(), "t.csv", "sequence,id,target,note\nMKT,a,0.5,x\nMKA,b,-1,y\n");
    assert_eq!(store.ingest("t", &[with_target], &IngestParams::default()).await.unwrap().added, 2);
    let batch = store.variants("t", None).await.unwrap();
    let targets = batch.column_by_name("target").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    let mut got: Vec<f64> = targets.iter().flatten().collect();
    got.sort_by(f64::total_cmp);
    assert_eq!(got, vec![-1.0, 0.5]);
}
