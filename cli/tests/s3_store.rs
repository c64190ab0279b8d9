//! A store on S3 (`--store s3://bucket/prefix`, configured by the usual `AWS_*` variables), as a user runs
//! it: every command works there and computes what it computes on a local store. The S3 server is moto's
//! (`moto[server]`, installed into the project venv by `scripts/setup`), started by the test on 127.0.0.1;
//! nothing else is contacted.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::moto::Moto;
use common::small_dataset;

fn esmdb(args: &[&str], moto: &Moto) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmdb"))
        .args(args)
        .env_remove("ESMDB_STORE")
        .env_remove("ESMDB_MODEL")
        .envs(moto.aws_env())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap()
}

fn ok(args: &[&str], moto: &Moto) -> (String, String) {
    let out = esmdb(args, moto);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "esmdb {args:?} failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The commands of a small study against `store`, returning what a user would compare.
fn study(store: &str, data: &Path, model: &str, out: &Path, moto: &Moto) -> (String, String, String, String) {
    let csv = data.join("IF1_small_metadata.csv").display().to_string();
    let fasta = data.join("IF1_small_muts.fasta").display().to_string();
    let (_, ingested) = ok(&["ingest", "--store", store, "--dataset", "IF1_small", &csv, &fasta], moto);
    assert!(ingested.contains("40 added"), "{ingested}");
    let (_, embedded) = ok(&["embed", "--store", store, "--dataset", "IF1_small", "--model", model], moto);
    let fits = format!(
        "SELECT r['fold'] AS fold, r['r2_test'] AS r2 FROM (SELECT unnest(lasso_cv_eval(\
         compress_mean(esm2_embed(sequence, '{model}')), target ORDER BY input_row)) AS r FROM variants) ORDER BY fold"
    );
    let (r2, _) = ok(&["sql", "--store", store, "--format", "csv", &fits], moto);
    let (tables, _) = ok(&["sql", "--store", store, "--format", "csv", "SHOW TABLES"], moto);
    let counts = "SELECT (SELECT count(*) FROM variants) AS variants, (SELECT count(*) FROM embeddings) AS vectors";
    let (count, _) = ok(&["sql", "--store", store, "--format", "csv", counts], moto);
    ok(&["versions", "--store", store], moto);
    ok(&["compact", "--store", store], moto);
    let args = ["reproduce", "--store", store, "--datasets", data.to_str().unwrap(), "--models", model];
    let out_dir = out.to_str().unwrap();
    ok(&[&args[..], &["--compress", "mean", "--out", out_dir, "--threads", "2"]].concat(), moto);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let tables: Vec<&str> = tables.lines().filter(|l| l.contains("esmdb,public")).collect();
    (format!("{embedded}\n{}", tables.join("\n")), r2, count, results)
}

#[test]
fn a_store_on_s3_computes_what_a_local_store_computes() {
    let moto = Moto::start();
    moto.create_bucket("esmdb-test");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 40);
    let model = dir.path().join("esm2_t6_8M_UR50D");
    ok(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", model.to_str().unwrap()], &moto);
    let model = model.display().to_string();

    let s3 = "s3://esmdb-test/studies/if1";
    let (s3_log, s3_r2, s3_count, s3_results) = study(s3, &data, &model, &dir.path().join("out-s3"), &moto);
    let local = dir.path().join("store").display().to_string();
    let (_, local_r2, local_count, local_results) = study(&local, &data, &model, &dir.path().join("out-local"), &moto);

    assert!(s3_log.contains("embedded"), "{s3_log}");
    for table in ["variants", "datasets", "embeddings_d320", "embeddings"] {
        assert!(s3_log.contains(&format!("esmdb,public,{table},")), "SHOW TABLES on S3 lacks {table}:\n{s3_log}");
    }
    assert_eq!(s3_count.lines().nth(1), Some("40,38"), "40 variants, 38 distinct sequences: {s3_count}");
    assert_eq!(s3_r2, local_r2, "the same folds and fits");
    assert_eq!(s3_count, local_count);
    assert_eq!(s3_results, local_results, "reproduce's results.csv");
    // The tables are Lance datasets under the prefix.
    let keys = moto.keys("esmdb-test", "studies/if1/");
    for table in ["variants", "datasets", "embeddings_d320"] {
        let prefix = format!("studies/if1/{table}.lance/_versions/");
        assert!(keys.iter().any(|k| k.starts_with(&prefix)), "no {prefix}* among {keys:?}");
    }
}

#[test]
fn a_missing_bucket_is_an_error_naming_the_store_and_nothing_is_written() {
    let moto = Moto::start();
    moto.create_bucket("other");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 5);
    let csv = data.join("IF1_small_metadata.csv").display().to_string();
    let fasta = data.join("IF1_small_muts.fasta").display().to_string();
    let store = "s3://no-such-bucket/x";
    for args in [
        vec!["ingest", "--store", store, "--dataset", "IF1_small", &csv, &fasta],
        vec!["sql", "--store", store, "SELECT count(*) FROM variants"],
        vec!["versions", "--store", store],
    ] {
        let out = esmdb(&args, &moto);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains("store `s3://no-such-bucket/x`") && err.contains("does the bucket exist"), "{err}");
    }
    let (_, buckets) = moto.request("GET", "/");
    assert!(!buckets.contains("no-such-bucket"), "a bucket was created: {buckets}");
    assert!(moto.keys("other", "").is_empty());
}

#[test]
fn refused_credentials_are_an_error_naming_the_store_and_nothing_is_written() {
    // moto checks signatures after its first request: the bucket is made with that one, and esmdb's
    // key is one moto does not know.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "1")]);
    moto.create_bucket("esmdb-test");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 5);
    let csv = data.join("IF1_small_metadata.csv").display().to_string();
    let store = "s3://esmdb-test/x";
    for args in [
        vec!["ingest", "--store", store, "--dataset", "IF1_small", &csv],
        vec!["sql", "--store", store, "SELECT count(*) FROM variants"],
    ] {
        let out = esmdb(&args, &moto);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains("store `s3://esmdb-test/x`") && err.contains("credentials"), "{err}");
        assert!(err.contains("InvalidAccessKeyId"), "the server's reason is kept: {err}");
    }
    assert_eq!(moto.objects(), 0, "nothing written");
}
