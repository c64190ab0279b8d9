//! Crash safety with real processes: `esmdb ingest` and `esmdb embed --dataset` are SIGKILLed at random
//! moments; the store must always open at a committed version with no partial rows, and a re-run must
//! complete with exactly the expected rows. The seed is printed so a failure can be replayed
//! (`ESMDB_CRASH_SEED`).
#![allow(clippy::unwrap_used)]
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arrow_array::StringArray;
use esmdb_store::{OutputKey, Pooling, Store, VARIANTS};

/// xorshift64*: enough randomness for kill times without a dependency.
struct Rng(u64);

impl Rng {
    fn from_env() -> Self {
        let seed = std::env::var("ESMDB_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("crash test seed: ESMDB_CRASH_SEED={seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn esmdb() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_esmdb"));
    c.env_remove("ESMDB_STORE").stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run_ok(args: &[&str]) -> String {
    let out = esmdb().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "esmdb {args:?}: {err}");
    err
}

/// Runs to completion and returns the wall time, or kills it with SIGKILL after `after`.
fn run_killed(args: &[&str], after: Duration) -> Duration {
    let started = Instant::now();
    let mut child = esmdb().args(args).stderr(Stdio::null()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() || started.elapsed() >= after {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL on Unix
    child.wait().unwrap();
    started.elapsed()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(f)
}

fn variant_count(store: &str, dataset: &str) -> usize {
    block_on(async {
        let store = Store::open(store).await.unwrap();
        match store.scan(VARIANTS, Some(&format!("dataset = '{dataset}'")), Some(&["id"]), None).await.unwrap() {
            Some(b) => b.num_rows(),
            None => 0,
        }
    })
}

fn big_fasta(path: &Path, n: usize) {
    let letters = b"ACDEFGHIKLMNPQRSTVWY";
    let text: String = (0..n)
        .map(|i| {
            let seq: String = (0..200).map(|j| letters[(i * 13 + j * 7 + j / 11) % 20] as char).collect();
            format!(">v{i}\n{seq}\n")
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn killed_ingest_leaves_all_or_nothing() {
    let mut rng = Rng::from_env();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fasta");
    big_fasta(&input, 20_000);
    let input = input.display().to_string();
    // One uninterrupted run to learn how long an ingest takes.
    let reference = dir.path().join("reference").display().to_string();
    let full = run_killed(&["ingest", "--store", &reference, "--dataset", "d", &input], Duration::from_secs(120));
    assert_eq!(variant_count(&reference, "d"), 20_000);

    for round in 0..8 {
        let store = dir.path().join(format!("s{round}")).display().to_string();
        let args = ["ingest", "--store", &store, "--dataset", "d", &input];
        let at = Duration::from_millis(rng.below(full.as_millis() as u64 * 6 / 5 + 1));
        run_killed(&args, at);
        if Path::new(&store).exists() {
            let n = variant_count(&store, "d");
            assert!(n == 0 || n == 20_000, "round {round}: killed at {at:?}, store holds {n} rows");
        }
        let err = run_ok(&args);
        assert!(err.contains("20000 variants in total"), "round {round}: {err}");
        assert_eq!(variant_count(&store, "d"), 20_000);
        let info = block_on(async { Store::open(&store).await.unwrap().dataset_info("d").await.unwrap() });
        assert_eq!(info.map(|i| i.rows), Some(20_000), "round {round}: datasets row repaired by the re-run");
    }
}

#[test]
fn killed_embed_resumes_and_never_duplicates() {
    let mut rng = Rng::from_env();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model").display().to_string();
    run_ok(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", &model]);
    let input = dir.path().join("in.fasta");
    let letters = b"ACDEFGHIKLMNPQRSTVWY";
    let text: String = (0..96)
        .map(|i| format!(">s{i}\n{}\n", (0..30 + i).map(|j| letters[(i * 5 + j * 3) % 20] as char).collect::<String>()))
        .collect();
    std::fs::write(&input, text).unwrap();
    let store = dir.path().join("store").display().to_string();
    run_ok(&["ingest", "--store", &store, "--dataset", "d", &input.display().to_string()]);
    let args = ["embed", "--store", &store, "--dataset", "d", "--model", &model, "--commit-every", "4"];
    let full = run_killed(&args, Duration::from_secs(300));
    // Start over with an empty cache, now killing at random moments.
    std::fs::remove_dir_all(Path::new(&store).join("embeddings_d320.lance")).unwrap();

    let key = OutputKey { layer: 6, pooling: Pooling::Mean };
    let mut previous = 0;
    for round in 0..8 {
        let at = Duration::from_millis(rng.below(full.as_millis() as u64 + 1));
        run_killed(&args, at);
        let (n, distinct) = block_on(async {
            let store = Store::open(&store).await.unwrap();
            let batch = store.scan("embeddings_d320", None, Some(&["seq_hash"]), None).await.unwrap();
            let hashes: Vec<String> = batch
                .map(|b| {
                    let col =
                        b.column_by_name("seq_hash").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
                    col.iter().flatten().map(str::to_owned).collect()
                })
                .unwrap_or_default();
            let distinct: HashSet<&String> = hashes.iter().collect();
            assert_eq!(store.cached_hashes("unrelated@0", 320, key).await.unwrap().len(), 0);
            (hashes.len(), distinct.len())
        });
        assert_eq!(n, distinct, "round {round}: no sequence is cached twice");
        assert!(n % 4 == 0 || n == 96, "round {round}: only whole batches are committed ({n} rows)");
        assert!(n >= previous, "round {round}: finished batches are kept");
        previous = n;
    }
    let err = run_ok(&args);
    assert!(err.contains(&format!("embedded {}, cache hits {previous}", 96 - previous)), "{err}");
    let err = run_ok(&args);
    assert!(err.contains("embedded 0, cache hits 96"), "{err}");
}
