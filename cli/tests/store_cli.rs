//! `esmdb ingest`, `esmdb embed --dataset`, `esmdb versions` and `esmdb compact` as a user runs them.
#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn esmdb(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esmdb"));
    command.args(args).env_remove("ESMDB_STORE").env_remove("ESMDB_MODEL").output().unwrap()
}

fn ok(args: &[&str]) -> (String, String) {
    let out = esmdb(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "esmdb {args:?} failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn fails(args: &[&str]) -> String {
    let out = esmdb(args);
    assert!(!out.status.success(), "esmdb {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture() -> (String, String) {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../tests/fixtures/dms");
    (
        dir.join("YAP1_HUMAN_Fields2012_singles_metadata.csv").display().to_string(),
        dir.join("YAP1_HUMAN_Fields2012_singles_muts.fasta").display().to_string(),
    )
}

/// A small FASTA of short sequences, so that embedding with a random 8M model takes well under a second.
pub fn small_fasta(dir: &Path, name: &str, ids: std::ops::Range<usize>) -> PathBuf {
    let letters = b"ACDEFGHIKLMNPQRSTVWY";
    let text: String = ids
        .map(|i| {
            let seq: String = (0..20 + i % 17).map(|j| letters[(i * 7 + j * 3) % 20] as char).collect();
            format!(">s{i}\n{seq}\n")
        })
        .collect();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn init_model(dir: &Path) -> String {
    let model = dir.join("model");
    ok(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", model.to_str().unwrap()]);
    model.display().to_string()
}

#[test]
fn ingest_is_idempotent_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let (csv, fasta) = fixture();
    let (_, err) = ok(&["ingest", "--store", &store, "--dataset", "YAP1", &csv, &fasta]);
    assert!(err.contains("362 rows read, 362 added, 0 replaced, 0 unchanged; 362 variants in total"), "{err}");
    let (_, err) = ok(&["ingest", "--store", &store, "--dataset", "YAP1", &csv, &fasta]);
    assert!(err.contains("0 added, 0 replaced, 362 unchanged; 362 variants in total (nothing to write)"), "{err}");

    let (out, _) = ok(&["versions", "--store", &store, "variants"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].starts_with("variants\t1\t") && lines[1].ends_with("\t362\t*"), "{out}");
    let (_, err) = ok(&["compact", "--store", &store, "--retain-versions", "1"]);
    assert!(err.contains("variants: fragments 1 → 1"), "{err}");
}

#[test]
fn ingest_generic_columns_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let csv = dir.path().join("g.csv");
    std::fs::write(&csv, "name,seq,fitness,batch\nv1,MKT,0.5,a\nv2,MKW,nan,b\n").unwrap();
    let csv = csv.display().to_string();
    let args = ["ingest", "--store", &store, "--dataset", "g", "--id-col", "name", "--sequence-col", "seq"];
    let err = fails(&[&args[..], &["--target-col", "fitness", &csv]].concat());
    assert!(err.contains(&format!("{csv}:3: `v2`: column `fitness` must be a finite number, got `nan`")), "{err}");
    let (_, err) = ok(&[&args[..], &[&csv]].concat());
    assert!(err.contains("2 added"), "{err}");

    let file_store = dir.path().join("g.csv").display().to_string();
    let err = fails(&["ingest", "--store", &file_store, "--dataset", "g", &csv]);
    assert!(err.contains(&format!("store `{file_store}`: is not a directory")), "{err}");
    let err = fails(&["embed", "--store", &store, "--dataset", "nope", "--model", "unused"]);
    assert!(err.contains("unknown dataset `nope` (the store has: g)"), "{err}");
    let err = fails(&["embed", "--model", "unused"]);
    assert!(err.contains("give --fasta FILE (write Parquet) or --dataset NAME"), "{err}");
    let err = fails(&["embed", "--model", "unused", "--fasta", &csv, "--dataset", "g"]);
    assert!(err.contains("not both"), "{err}");
    let err = fails(&["versions", "--store", &dir.path().join("absent").display().to_string()]);
    assert!(err.contains("does not exist (`esmdb ingest` creates it)"), "{err}");
}

#[test]
fn embed_dataset_computes_only_misses() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let model = init_model(dir.path());
    let a = small_fasta(dir.path(), "a.fasta", 0..24).display().to_string();
    let b = small_fasta(dir.path(), "b.fasta", 12..40).display().to_string();
    ok(&["ingest", "--store", &store, "--dataset", "A", &a]);
    ok(&["ingest", "--store", &store, "--dataset", "B", &b]);
    let embed = |name: &str| {
        let args = ["embed", "--store", &store, "--dataset", name, "--model", &model, "--layer", "6", "--layer", "3"];
        ok(&[&args[..], &["--pool", "mean,bos", "--commit-every", "8"]].concat()).1
    };
    let err = embed("A");
    assert!(
        err.contains("24 variants, 24 distinct sequences; embedded 24, cache hits 0 (3 batches, 96 vectors written)"),
        "{err}"
    );
    let err = embed("B");
    assert!(err.contains("28 variants, 28 distinct sequences; embedded 16, cache hits 12"), "{err}");
    let err = embed("B");
    assert!(err.contains("embedded 0, cache hits 28 (0 batches"), "{err}");
    let (out, _) = ok(&["versions", "--store", &store, "embeddings_d320"]);
    assert!(out.lines().last().unwrap().contains(&format!("\t{}\t*", 40 * 4)), "{out}");

    // A session without --model goes on with the model that filled the store (a random stand-in
    // here): its first embedding query finds the cached vectors.
    let setting = "SELECT value FROM information_schema.df_settings WHERE name = 'esmdb.model'";
    let (out, _) = ok(&["sql", "--store", &store, "--format", "csv", setting]);
    let canonical = std::fs::canonicalize(&model).unwrap();
    assert_eq!(std::fs::canonicalize(out.lines().nth(1).unwrap()).unwrap(), canonical, "{out}");
    let query = "SELECT count(compress_mean(embed(sequence))) AS n FROM variants WHERE dataset = 'A'";
    let (out, _) = ok(&["sql", "--store", &store, "--format", "csv", query]);
    assert_eq!(out.lines().nth(1), Some("24"), "{out}");
    let (out, _) = ok(&["sql", "--store", &store, "--format", "csv", "SELECT model_id, dim FROM models"]);
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("model@") && l.ends_with(",320")), "{out}");
    // An explicit --model still wins.
    let empty = dir.path().join("empty-model");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.display().to_string();
    let err = fails(&["sql", "--store", &store, "--model", &empty, query]);
    assert!(err.contains(&format!("unknown model `{empty}`: ")), "{err}");
    assert!(!err.contains("External error"), "one sentence, without DataFusion's wrapper: {err}");
}

/// `esmdb import`: Parquet vectors under a model's identity, then found by a query as cache hits.
#[test]
fn import_puts_vectors_under_the_models_identity() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let model = init_model(dir.path());
    let csv = dir.path().join("v.csv");
    std::fs::write(
        &csv,
        "id,sequence
v1,MKTAYIAKQR
v2,MKTAYIAKQW
",
    )
    .unwrap();
    ok(&["ingest", "--store", &store, "--dataset", "v", csv.to_str().unwrap()]);
    // Vectors for both sequences, 320 wide, all 0.25.
    let mut vectors = arrow_array::builder::FixedSizeListBuilder::new(arrow_array::builder::Float32Builder::new(), 320);
    for _ in 0..2 {
        vectors.values().append_slice(&[0.25; 320]);
        vectors.append(true);
    }
    let batch = arrow_array::RecordBatch::try_from_iter(vec![
        (
            "sequence",
            Arc::new(arrow_array::StringArray::from(vec!["MKTAYIAKQR", "MKTAYIAKQW"])) as arrow_array::ArrayRef,
        ),
        ("vector", Arc::new(vectors.finish()) as arrow_array::ArrayRef),
    ])
    .unwrap();
    let file = dir.path().join("vectors.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&file).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let file = file.display().to_string();
    let (_, err) = ok(&["import", "--store", &store, "--model", &model, &file]);
    assert!(
        err.contains("imported 2 vectors as model@") && err.contains("layer 6 mean: 2 added, 0 already cached"),
        "{err}"
    );
    // The query finds them: every value is the imported 0.25 (a forward pass would give others).
    let query = format!("SELECT compress_mean(embed(sequence, '{model}')) AS v FROM variants");
    let (out, _) = ok(&["sql", "--store", &store, "--format", "csv", &query]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{out}");
    for row in rows {
        let values: Vec<&str> = row.trim_matches(|c| c == '"' || c == '[' || c == ']').split(", ").collect();
        assert_eq!(values.len(), 320, "{row}");
        assert!(values.iter().all(|v| *v == "0.25"), "{row}");
    }
    // A layer the model does not have is refused before anything is read.
    let err = fails(&["import", "--store", &store, "--model", &model, "--layer", "99", &file]);
    assert!(err.contains("--layer 99 is out of range for a 6-layer model"), "{err}");
}
