//! A store on S3 (`--store s3://bucket/prefix`, configured by the usual `AWS_*` variables), as a user runs
//! it: every command works there and computes what it computes on a local store. The S3 server is moto's
//! (`moto[server]`, installed into the project venv by `scripts/setup`), started by the test on 127.0.0.1;
//! nothing else is contacted.
#![allow(clippy::unwrap_used)]
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::small_dataset;

/// A moto S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// With moto's settings `env` (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`, after which it checks credentials).
    fn start_with(env: &[(&str, &str)]) -> Moto {
        let server = moto_server();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}): run scripts/setup", server.display()));
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// How many objects moto holds, from its own API (which needs no credentials).
    fn objects(&self) -> usize {
        let (status, text) = self.request("GET", "/moto-api/data.json");
        assert_eq!(status, 200, "{text}");
        let body = &text[text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0)..];
        let data: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        data["s3"]["FakeKey"].as_array().map(Vec::len).unwrap_or_else(|| panic!("no s3.FakeKey in {body}"))
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One unsigned request (moto does not check signatures); the response's status and body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n", self.port);
        s.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, text)
    }

    fn create_bucket(&self, bucket: &str) {
        let (status, text) = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating bucket {bucket}: {text}");
    }

    /// Keys under `prefix` in `bucket`.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (_, text) = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        text.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(str::to_owned).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` of the project venv: beside `$ESMDB_PYTHON`, else in `<checkout>/.venv`. Required: without
/// it the test fails saying how to install it.
fn moto_server() -> PathBuf {
    let python = std::env::var_os("ESMDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let server = python.with_file_name("moto_server");
    assert!(server.is_file(), "{} not found: run scripts/setup (it installs moto[server])", server.display());
    server
}

fn esmdb(args: &[&str], moto: &Moto) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmdb"))
        .args(args)
        .env_remove("ESMDB_STORE")
        .env_remove("ESMDB_MODEL")
        .env("AWS_ENDPOINT", moto.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
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
