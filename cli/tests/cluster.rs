//! esmdb on a cluster, as a user runs it: `esmdb scheduler`, two `esmdb executor`s and
//! `esmdb sql --cluster`, all started here on 127.0.0.1 (nothing else is contacted). Queries return
//! what they return in one process, and the embedding work runs on the executors.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::dataset_head;
use common::moto::Moto;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn esmdb() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_esmdb"));
    c.env_remove("ESMDB_STORE").env_remove("ESMDB_MODEL").env_remove("ESMDB_CLUSTER").env("HF_HUB_OFFLINE", "1");
    c
}

/// A scheduler and executors on loopback ports, each logging to a file; stopped when dropped.
struct Cluster {
    scheduler: Child,
    executors: Vec<(Child, PathBuf)>,
    port: u16,
}

impl Cluster {
    fn start(dir: &Path, executors: usize, threads: usize, scheduler_args: &[&str]) -> Cluster {
        Cluster::start_in(dir, executors, threads, scheduler_args, &[])
    }

    /// With the variables `env` set for every process (a store on S3).
    fn start_in(
        dir: &Path,
        executors: usize,
        threads: usize,
        scheduler_args: &[&str],
        env: &[(&str, String)],
    ) -> Cluster {
        let port = free_port();
        let log = std::fs::File::create(dir.join("scheduler.log")).unwrap();
        let scheduler = esmdb()
            .envs(env.iter().cloned())
            .args(["scheduler", "--bind", &format!("127.0.0.1:{port}")])
            .args(scheduler_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the scheduler did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut cluster = Cluster { scheduler, executors: Vec::new(), port };
        for i in 0..executors {
            let log_path = dir.join(format!("executor{i}.log"));
            let log = std::fs::File::create(&log_path).unwrap();
            let child = esmdb()
                .envs(env.iter().cloned())
                .args(["executor", "--scheduler", &cluster.address(), "--threads", &threads.to_string()])
                // Ballista's line once the executor is registered with the scheduler.
                .env("ESMDB_LOG", "warn,ballista_executor::executor_server=info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            cluster.executors.push((child, log_path));
        }
        for (_, log) in &cluster.executors {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !std::fs::read_to_string(log).unwrap().contains("Executor registration succeed") {
                assert!(Instant::now() < deadline, "executor did not start within 30 s: {}", read(log));
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn executor_logs(&self) -> Vec<String> {
        self.executors.iter().map(|(_, log)| read(log)).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (child, _) in &mut self.executors {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn run(args: &[&str]) -> Output {
    esmdb().args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    ok_in(args, &[])
}

/// `esmdb ARGS` with `env` set; its standard output.
fn ok_in(args: &[&str], env: &[(&str, String)]) -> String {
    let out = esmdb().envs(env.iter().cloned()).args(args).output().unwrap();
    assert!(out.status.success(), "esmdb {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A seeded random ESM2-8M in `dir`; its path.
fn random_model(dir: &Path) -> String {
    let model = dir.join("esm2_t6_8M_UR50D");
    ok(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", model.to_str().unwrap()]);
    model.display().to_string()
}

/// Every dataset's per-fold test R² under the paper's protocol, mean-pooled `model` embeddings.
fn fits_sql(model: &str) -> String {
    format!(
        "SELECT dataset, r['fold'] AS fold, r['r2_test'] AS r2 FROM (SELECT dataset, unnest(lasso_cv_eval(\
         compress_mean(esm2_embed(sequence, '{model}')), target ORDER BY input_row)) AS r FROM variants \
         GROUP BY dataset) ORDER BY dataset, fold"
    )
}

/// A store holding three small datasets (three ingests: three Lance fragments to split the scan by).
fn store_with_datasets(dir: &Path, name: &str) -> String {
    let store = dir.join(name).display().to_string();
    ingest_datasets(dir, &store, &[]);
    store
}

/// The three datasets of [`store_with_datasets`] ingested into `store`.
fn ingest_datasets(dir: &Path, store: &str, env: &[(&str, String)]) {
    let data = dir.join("dms");
    if !data.exists() {
        dataset_head(&data, "IF1_ECOLI", "IF1_a", 40);
        dataset_head(&data, "YAP1_HUMAN_Fields2012_singles", "YAP1_a", 30);
        dataset_head(&data.join("b"), "IF1_ECOLI", "IF1_b", 25);
    }
    for (dataset, sub) in [("IF1_a", ""), ("YAP1_a", ""), ("IF1_b", "b")] {
        let d = data.join(sub);
        let csv = d.join(format!("{dataset}_metadata.csv")).display().to_string();
        let fasta = d.join(format!("{dataset}_muts.fasta")).display().to_string();
        ok_in(&["ingest", "--store", store, "--dataset", dataset, &csv, &fasta], env);
    }
}

#[test]
fn the_cluster_runs_over_a_store_on_s3() {
    let moto = Moto::start();
    moto.create_bucket("esmdb-test");
    let env = moto.aws_env();
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path());
    let store = "s3://esmdb-test/cluster";
    ingest_datasets(dir.path(), store, &env);
    let cluster = Cluster::start_in(dir.path(), 2, 1, &[], &env);
    let fits = fits_sql(&model);
    // The executors embed into the cache on S3; one process then reads their vectors and agrees.
    let on_cluster = ok_in(&["sql", "--store", store, "--cluster", &cluster.address(), "--format", "csv", &fits], &env);
    let in_process = ok_in(&["sql", "--store", store, "--format", "csv", &fits], &env);
    assert_eq!(on_cluster, in_process);
    assert_eq!(on_cluster.lines().count(), 1 + 3 * 5, "{on_cluster}");
    let keys = moto.keys("esmdb-test", "cluster/embeddings_d320.lance/_versions/");
    assert!(!keys.is_empty(), "the cache is on S3");
    assert!(cluster.executor_logs().iter().all(|l| l.contains(" embedded, ")), "{:#?}", cluster.executor_logs());
}

#[test]
fn queries_on_the_cluster_return_what_they_return_in_one_process_and_embed_on_the_executors() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path());
    let local = store_with_datasets(dir.path(), "local");
    let remote = store_with_datasets(dir.path(), "remote");
    let cluster = Cluster::start(dir.path(), 2, 1, &[]);
    let address = cluster.address();

    let counts = "SELECT dataset, count(*) AS n, round(avg(target), 6) AS mean FROM variants \
                  GROUP BY dataset ORDER BY dataset";
    let fits = fits_sql(&model);
    // The default model comes from the session's settings: they travel with the plan.
    let bare = format!(
        "SET esmdb.model = '{model}'; SELECT dataset, count(*) AS n, round(sum(v[1]), 4) AS s FROM (SELECT dataset, \
         compress_mean(esm2_embed(sequence)) AS v FROM variants) GROUP BY dataset ORDER BY dataset"
    );
    // The executors embed (the remote store's cache is empty) and fit; the same statement in one
    // process over the same store (now reading the executors' vectors) gives the same bytes.
    for sql in [counts, fits.as_str(), bare.as_str()] {
        let on_cluster = ok(&["sql", "--store", &remote, "--cluster", &address, "--format", "csv", sql]);
        let in_process = ok(&["sql", "--store", &remote, "--format", "csv", sql]);
        assert_eq!(on_cluster, in_process, "{sql}");
        assert!(on_cluster.lines().count() > 3, "{on_cluster}");
    }
    // And a store whose vectors were computed in one process agrees (batches differ in which
    // sequences they pad together, so equal to float rounding).
    let on_cluster = ok(&["sql", "--store", &remote, "--cluster", &address, "--format", "csv", &fits]);
    let in_process = ok(&["sql", "--store", &local, "--format", "csv", &fits]);
    assert_close(&on_cluster, &in_process, 1e-4);

    // Both executors embedded (the scan is split by the three ingests' fragments), into the one
    // store's cache without duplicates.
    let logs = cluster.executor_logs();
    let embedded: Vec<usize> = logs
        .iter()
        .map(|log| {
            log.lines()
                .filter_map(|l| l.split(", ").find_map(|p| p.strip_suffix(" embedded")))
                .filter_map(|n| n.parse::<usize>().ok())
                .sum()
        })
        .collect();
    assert!(embedded.iter().all(|&n| n > 0), "each executor embeds a share: {embedded:?}\n{logs:#?}");
    let cache = ok(&[
        "sql",
        "--store",
        &remote,
        "--format",
        "csv",
        "SELECT count(*) AS rows, count(DISTINCT seq_hash) AS distinct_sequences FROM embeddings",
    ]);
    let distinct = ok(&["sql", "--store", &remote, "--format", "csv", "SELECT count(DISTINCT sequence) FROM variants"]);
    let n: usize = distinct.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(cache.lines().nth(1), Some(format!("{n},{n}").as_str()), "{cache}");
    // IF1_b's 25 sequences are IF1_a's first 25: executors working on both at once may each embed
    // them (the cache keeps one row per key, checked above), so at least every sequence once.
    let total: usize = embedded.iter().sum();
    assert!((n..=n + 25).contains(&total), "{total} embedded for {n} sequences: {logs:#?}");

    // `reproduce --cluster`: the study's fits run on the cluster and write what they write here.
    let datasets = "IF1_a,YAP1_a,IF1_b";
    let study = |out: &Path, cluster: Option<&str>| {
        let out = out.to_str().unwrap();
        let mut args = vec!["reproduce", "--store", &remote, "--datasets", datasets, "--models", &model, "--out", out];
        args.extend(cluster.map(|c| ["--cluster", c]).into_iter().flatten());
        ok(&args);
        std::fs::read_to_string(Path::new(out).join("results.csv")).unwrap()
    };
    let on_cluster = study(&dir.path().join("out-cluster"), Some(&address));
    let in_process = study(&dir.path().join("out-local"), None);
    assert_eq!(on_cluster, in_process);
    assert_eq!(on_cluster.lines().count(), 1 + 3 * 5, "3 datasets × 5 folds: {on_cluster}");
}

/// The project venv's Python (`$ESMDB_PYTHON`, else `<checkout>/.venv`), which `scripts/setup` gives
/// ADBC's Flight SQL driver.
fn python() -> PathBuf {
    std::env::var_os("ESMDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"))
}

#[test]
fn a_flight_sql_client_runs_esmdb_sql_on_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path());
    let store = store_with_datasets(dir.path(), "store");
    let flight_port = free_port();
    let flight = format!("127.0.0.1:{flight_port}");
    let cluster = Cluster::start(dir.path(), 2, 1, &["--flight-sql", &flight, "--store", &store]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", flight_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "no Flight SQL endpoint within 30 s: {}",
            read(&dir.path().join("scheduler.log"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let statements = [
        "SELECT dataset, count(*) AS n FROM variants GROUP BY dataset ORDER BY dataset".to_owned(),
        format!(
            "SELECT id, compress_mean(esm2_embed(sequence, '{model}')) AS v FROM variants WHERE dataset = 'IF1_a' \
             ORDER BY id LIMIT 5"
        ),
    ];
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/flight_sql_client.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(format!("grpc://{flight}"))
        .args(&statements)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run scripts/setup", python().display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", read(&dir.path().join("scheduler.log")));
    let answers: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), 2);
    // What `esmdb sql` in one process answers over the same store (whose cache the executors filled).
    for (sql, answer) in statements.iter().zip(&answers) {
        let local = ok(&["sql", "--store", &store, "--format", "json", sql]);
        let rows: Vec<serde_json::Value> = local.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(same_json(answer, &serde_json::Value::Array(rows.clone())), "{sql}:\n{answer}\n---\n{rows:?}");
    }
    assert_eq!(answers[0].as_array().map(Vec::len), Some(3));
    assert!(cluster.executor_logs().iter().any(|l| l.contains("embedded")), "{:#?}", cluster.executor_logs());
}

/// Equal JSON values, numbers compared as the float32 they were (Python prints a float32 vector's
/// values as float64, esmdb as float32).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x as f32 == y as f32,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(u, v)| same_json(u, v)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, u)| y.get(k).is_some_and(|v| same_json(u, v)))
        }
        _ => a == b,
    }
}

/// CSV texts with the same cells, numbers equal within `tol`.
fn assert_close(a: &str, b: &str, tol: f64) {
    let (a_lines, b_lines): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a_lines.len(), b_lines.len(), "{a}\n---\n{b}");
    for (x, y) in a.lines().flat_map(|l| l.split(',')).zip(b.lines().flat_map(|l| l.split(','))) {
        match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(u), Ok(v)) => assert!((u - v).abs() <= tol, "{x} vs {y}\n{a}\n---\n{b}"),
            _ => assert_eq!(x, y, "{a}\n---\n{b}"),
        }
    }
}

#[test]
fn a_query_survives_an_executor_killed_in_the_middle_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path());
    // Two datasets of 600 IF1 variants: each part of the scan embeds for a few seconds.
    let data = dir.path().join("dms");
    let store = dir.path().join("store").display().to_string();
    for name in ["IF1_x", "IF1_y"] {
        dataset_head(&data, "IF1_ECOLI", name, 600);
        let csv = data.join(format!("{name}_metadata.csv")).display().to_string();
        ok(&["ingest", "--store", &store, "--dataset", name, &csv]);
    }
    let mut cluster = Cluster::start(dir.path(), 2, 1, &["--executor-timeout", "10"]);
    let sql = format!(
        "SELECT dataset, count(*) AS n, round(sum(v[1]), 3) AS s FROM (SELECT dataset, \
         compress_mean(esm2_embed(sequence, '{model}')) AS v FROM variants) GROUP BY dataset ORDER BY dataset"
    );
    let mut query = esmdb()
        .args(["sql", "--store", &store, "--cluster", &cluster.address(), "--format", "csv", &sql])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Executor 0 is killed as soon as it runs a task. Its death is noticed 10 s later, usually after
    // the survivor has finished every other task and gone idle (Ballista then had nothing to hand
    // its reset task out again, and the query hung: see esmdb-cluster's scheduler.rs).
    let log = cluster.executors[0].1.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read(&log).contains("Execute task") {
        assert!(Instant::now() < deadline, "executor 0 got no task: {}", read(&log));
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.executors[0].0.kill().unwrap();
    cluster.executors[0].0.wait().unwrap();
    // A hung query fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(180);
    while query.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            query.kill().unwrap();
            panic!("the query hung after its executor died\n{}", read(&dir.path().join("scheduler.log")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = query.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the query failed with its executor: {stderr}\n{}",
        read(&dir.path().join("scheduler.log"))
    );
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    // The answer is the one-process answer over the cache the survivors filled, which holds each
    // sequence once, with no partial rows.
    assert_eq!(answer, ok(&["sql", "--store", &store, "--format", "csv", &sql]));
    assert!(answer.contains("IF1_x,600,") && answer.contains("IF1_y,600,"), "{answer}");
    let cache = ok(&[
        "sql",
        "--store",
        &store,
        "--format",
        "csv",
        "SELECT count(*) = count(DISTINCT seq_hash) AS unique_rows, count(*) AS rows FROM embeddings",
    ]);
    let distinct = ok(&["sql", "--store", &store, "--format", "csv", "SELECT count(DISTINCT sequence) FROM variants"]);
    let n = distinct.lines().nth(1).unwrap();
    assert_eq!(cache.lines().nth(1), Some(format!("true,{n}").as_str()), "{cache}");
    assert!(read(&cluster.executors[1].1).contains("embedded"), "the survivor embedded");
}

#[test]
fn an_unreachable_scheduler_is_a_clear_error_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let address = format!("127.0.0.1:{}", free_port());
    let start = Instant::now();
    let out = run(&["sql", "--store", &store, "--cluster", &address, "SELECT 1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("cannot reach the esmdb scheduler at {address}")), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    // ESMDB_CLUSTER is the same setting.
    let out = esmdb().args(["sql", "--store", &store, "SELECT 1"]).env("ESMDB_CLUSTER", &address).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the esmdb scheduler"));
    // An executor says the same of its scheduler, and a scheduler whose port is taken says so.
    let out = run(&["executor", "--scheduler", &address, "--threads", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&format!("cannot reach the esmdb scheduler at {address}")), "{err}");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_at = taken.local_addr().unwrap().to_string();
    let out = run(&["scheduler", "--bind", &taken_at]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&format!("scheduler cannot listen on {taken_at}")), "{err}");
    // A malformed address names the flag.
    let out = run(&["sql", "--store", &store, "--cluster", "nowhere", "SELECT 1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--cluster") && err.contains("HOST:PORT"), "{err}");
}
