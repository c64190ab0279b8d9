//! Concurrent writers: several processes filling one embedding cache with overlapping sequence sets
//! leave every key exactly once, with the vectors the model produced; a cache written by esmdb
//! versions that appended blindly (no declared key, duplicate keys) is repaired on its first write,
//! and `compact` removes duplicates too.
//!
//! The writers are real processes: this test binary re-runs itself (`std::env::current_exe()`) with
//! `ESMDB_TEST_CHILD_*` set, running only the ignored [`cache_writer_child`], which is one writer
//! (it is not a test of its own: run without those variables it fails, saying so). The children start together on a go-file and commit every 8 sequences, so their merges
//! interleave; the outcome checked is the same whatever the interleaving.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, RecordBatchIterator, StringArray};
use arrow_schema::{Field, Schema};
use common::CountingEmbedder;
use esmdb_store::lance::Dataset;
use esmdb_store::lance::dataset::{WriteMode, WriteParams};
use esmdb_store::seq_hash;
use esmdb_store::{
    BoxError, CompactParams, EMBEDDINGS_KEY, EmbedParams, Embedder, OutputKey, Pooling, Store, embeddings_table, schema,
};

const MODEL: &str = "fake@1";
const DIM: usize = 16;
/// Layer 6 mean and layer 3 bos: two cache rows per sequence.
const OUTPUTS: [(i32, Pooling); 2] = [(-1, Pooling::Mean), (3, Pooling::Bos)];
const KEYS: [OutputKey; 2] =
    [OutputKey { layer: 6, pooling: Pooling::Mean }, OutputKey { layer: 3, pooling: Pooling::Bos }];
/// Distinct sequences over all writers.
const UNIVERSE: usize = 150;
/// Each writer's slice of the universe: pairwise overlaps of 25–75 sequences.
const SETS: [(usize, usize); 3] = [(0, 100), (50, 150), (25, 125)];
/// How long a child may run before the parent kills it and fails.
const CHILD_DEADLINE: Duration = Duration::from_secs(180);

/// The `i`-th test sequence: distinct (the index is spelled in its first residues), 10–32 long.
fn sequence(i: usize) -> String {
    const AA: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";
    let mut s = String::from("M");
    s.extend([i / 400, (i / 20) % 20, i % 20].map(|d| AA[d] as char));
    s.extend((0..6 + (i * 7) % 23).map(|j| AA[(i * 31 + j * 17) % 20] as char));
    s
}

/// A writer: the counting mock, pausing in each call so that several processes overlap.
struct Paced(CountingEmbedder);

impl Embedder for Paced {
    fn model_id(&self) -> &str {
        self.0.model_id()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn num_layers(&self) -> i32 {
        self.0.num_layers()
    }
    fn resolve_layer(&self, layer: i32) -> Option<i32> {
        self.0.resolve_layer(layer)
    }
    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> Result<Vec<Vec<f32>>, BoxError> {
        std::thread::sleep(Duration::from_millis(5));
        self.0.embed(sequences, outputs)
    }
}

/// What a child was told to do.
struct ChildSpec {
    store: String,
    set: (usize, usize),
    go: PathBuf,
    report: PathBuf,
}

impl ChildSpec {
    fn from_env() -> Option<ChildSpec> {
        let var = |name: &str| std::env::var(format!("ESMDB_TEST_CHILD_{name}")).ok();
        let set = var("SET")?;
        let (start, end) = set.split_once("..")?;
        Some(ChildSpec {
            store: var("STORE")?,
            set: (start.parse().ok()?, end.parse().ok()?),
            go: var("GO")?.into(),
            report: var("REPORT")?.into(),
        })
    }
}

/// One writer process, started by [`run_writers`]: waits for the go-file, fills the cache with its slice
/// of the universe in batches of 8, and writes `written already` to its report file.
#[test]
#[ignore = "a writer process that run_writers starts, not a test of its own"]
fn cache_writer_child() {
    let spec = ChildSpec::from_env()
        .expect("cache_writer_child is a writer process that run_writers starts with ESMDB_TEST_CHILD_* set");
    let start = Instant::now();
    while !spec.go.exists() {
        assert!(start.elapsed() < CHILD_DEADLINE, "no go-file after {CHILD_DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = runtime.block_on(async {
        let store = Store::open_or_create(&spec.store).await.unwrap();
        let sequences: Vec<String> = (spec.set.0..spec.set.1).map(sequence).collect();
        let sequences: Vec<&str> = sequences.iter().map(String::as_str).collect();
        let model = Paced(CountingEmbedder::new(MODEL, DIM));
        let params = EmbedParams { outputs: OUTPUTS.to_vec(), batch_sequences: 8 };
        store.embed_sequences(&sequences, &model, &params, &mut |_| {}).await.unwrap()
    });
    std::fs::write(&spec.report, format!("{} {}", report.vectors_written, report.vectors_already_written)).unwrap();
}

/// Runs one child per entry of [`SETS`] against `store`, all released at once; returns each child's
/// (vectors written, vectors another writer had written first).
fn run_writers(store: &str, scratch: &Path) -> Vec<(usize, usize)> {
    let exe = std::env::current_exe().unwrap();
    let go = scratch.join("go");
    let mut children: Vec<(Child, PathBuf, PathBuf)> = Vec::new();
    for (i, (start, end)) in SETS.iter().enumerate() {
        let report = scratch.join(format!("report-{i}"));
        let log = scratch.join(format!("child-{i}.log"));
        let child = Command::new(&exe)
            .args(["concurrent::cache_writer_child", "--exact", "--ignored", "--test-threads=1", "--nocapture"])
            .env("ESMDB_TEST_CHILD_STORE", store)
            .env("ESMDB_TEST_CHILD_SET", format!("{start}..{end}"))
            .env("ESMDB_TEST_CHILD_GO", &go)
            .env("ESMDB_TEST_CHILD_REPORT", &report)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        children.push((child, report, log));
    }
    std::fs::write(&go, "").unwrap();
    let started = Instant::now();
    let mut reports = Vec::new();
    for (mut child, report, log) in children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > CHILD_DEADLINE {
                child.kill().unwrap();
                panic!("a writer ran past {CHILD_DEADLINE:?}: {}", std::fs::read_to_string(&log).unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "writer failed: {}", std::fs::read_to_string(&log).unwrap());
        let text = std::fs::read_to_string(&report).unwrap();
        let (written, already) = text.split_once(' ').unwrap();
        reports.push((written.parse().unwrap(), already.parse().unwrap()));
    }
    reports
}

/// Every row of the cache table: ((model, layer, pooling, seq_hash), vector), in scan order.
async fn cache_rows(store: &Store) -> Vec<((String, i32, String, String), Vec<f32>)> {
    let batch = store.scan(&embeddings_table(DIM), None, None, None).await.unwrap().unwrap();
    let text = |name: &str| batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let (models, poolings, hashes) = (text("model_id"), text("pooling"), text("seq_hash"));
    let layers = batch.column_by_name("layer").unwrap().as_any().downcast_ref::<Int32Array>().unwrap();
    let vectors = batch.column_by_name("vector").unwrap().as_any().downcast_ref::<FixedSizeListArray>().unwrap();
    (0..batch.num_rows())
        .map(|i| {
            let v = vectors.value(i);
            let v = v.as_any().downcast_ref::<Float32Array>().unwrap().values().to_vec();
            let key =
                (models.value(i).to_owned(), layers.value(i), poolings.value(i).to_owned(), hashes.value(i).to_owned());
            (key, v)
        })
        .collect()
}

/// The cache holds each key of the universe exactly once, with the mock's vector, and the table
/// declares the content key as its primary key.
async fn assert_each_key_once(store: &Store) {
    let model = CountingEmbedder::new(MODEL, DIM);
    let by_hash: HashMap<String, String> = (0..UNIVERSE).map(sequence).map(|s| (seq_hash(&s), s)).collect();
    let rows = cache_rows(store).await;
    let mut seen = HashSet::new();
    for ((model_id, layer, pooling, hash), vector) in &rows {
        assert!(seen.insert((model_id.clone(), *layer, pooling.clone(), hash.clone())), "key stored twice: {hash}");
        assert_eq!(model_id, MODEL);
        let key = OutputKey { layer: *layer, pooling: pooling.parse().unwrap() };
        assert!(KEYS.contains(&key), "unexpected output {key:?}");
        assert_eq!(vector, &model.vector(&by_hash[hash], key), "wrong vector for {hash}");
    }
    assert_eq!(rows.len(), UNIVERSE * KEYS.len(), "every key of the universe is cached");
    let ds = store.open_table(&embeddings_table(DIM)).await.unwrap().unwrap();
    let key: Vec<&str> = ds.schema().unenforced_primary_key().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(key, EMBEDDINGS_KEY);
}

#[test]
fn three_processes_with_overlapping_sets_store_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let reports = run_writers(root.to_str().unwrap(), dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let store = Store::open(root.to_str().unwrap()).await.unwrap();
        assert_each_key_once(&store).await;
    });
    let written: usize = reports.iter().map(|r| r.0).sum();
    assert_eq!(written, UNIVERSE * KEYS.len(), "the writers' inserts add up to the table: {reports:?}");
    eprintln!("vectors (written, already written by another process) per writer: {reports:?}");
}

/// Writes an `embeddings_d16` table the way esmdb did before it declared a key: no primary key, and
/// the sequences `0..n` stored twice (two writers that appended at the same time). The second copy
/// of each vector is `bad`, so a test can tell which copy survives.
async fn seed_unkeyed_cache(store: &Store, n: usize, bad: f32) {
    let model = CountingEmbedder::new(MODEL, DIM);
    for copy in 0..2 {
        let mut rows = Vec::new();
        let mut flat = Vec::new();
        let sequences: Vec<String> = (0..n).map(sequence).collect();
        let hashes: Vec<String> = sequences.iter().map(|s| seq_hash(s)).collect();
        for key in KEYS {
            for (s, h) in sequences.iter().zip(&hashes) {
                rows.push((key.layer, key.pooling.name(), h.as_str()));
                flat.extend(if copy == 0 { model.vector(s, key) } else { vec![bad; DIM] });
            }
        }
        let keyed = schema::embeddings_batch(DIM, MODEL, &rows, &flat).unwrap();
        let fields: Vec<Field> =
            keyed.schema().fields().iter().map(|f| f.as_ref().clone().with_metadata(HashMap::new())).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), keyed.columns().to_vec()).unwrap();
        let mode = if copy == 0 { WriteMode::Create } else { WriteMode::Append };
        let reader = RecordBatchIterator::new(vec![Ok(batch.clone())], batch.schema());
        let params = WriteParams { mode, ..Default::default() };
        Dataset::write(reader, store.table_uri(&embeddings_table(DIM)).as_str(), Some(params)).await.unwrap();
    }
    let ds = store.open_table(&embeddings_table(DIM)).await.unwrap().unwrap();
    assert!(ds.schema().unenforced_primary_key().is_empty());
    assert_eq!(ds.count_rows(None).await.unwrap(), 2 * n * KEYS.len());
}

#[test]
fn three_processes_upgrading_an_unkeyed_cache_store_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = runtime.block_on(async {
        let store = Store::open_or_create(root.to_str().unwrap()).await.unwrap();
        seed_unkeyed_cache(&store, 40, -1.0).await;
        store
    });
    // All three find the table without a key, declare it (one of them wins, the others see it
    // declared), and merge.
    let reports = run_writers(root.to_str().unwrap(), dir.path());
    runtime.block_on(assert_each_key_once(&store));
    let written: usize = reports.iter().map(|r| r.0).sum();
    assert_eq!(written, (UNIVERSE - 40) * KEYS.len(), "{reports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_write_to_an_unkeyed_cache_declares_the_key_and_removes_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    seed_unkeyed_cache(&store, 30, -1.0).await;
    let model = CountingEmbedder::new(MODEL, DIM);
    let sequences: Vec<String> = (0..UNIVERSE).map(sequence).collect();
    let sequences: Vec<&str> = sequences.iter().map(String::as_str).collect();
    let params = EmbedParams { outputs: OUTPUTS.to_vec(), batch_sequences: 64 };
    let r = store.embed_sequences(&sequences, &model, &params, &mut |_| {}).await.unwrap();
    assert_eq!((r.hits, r.embedded, r.vectors_written, r.vectors_already_written), (30, 120, 240, 0));
    // The seeded duplicates are gone, and the first copy of each (the one reads returned) is kept.
    assert_each_key_once(&store).await;
    // A second fill changes nothing.
    let r = store.embed_sequences(&sequences, &model, &params, &mut |_| {}).await.unwrap();
    assert_eq!((r.hits, r.embedded), (UNIVERSE, 0));
    assert_eq!(cache_rows(&store).await.len(), UNIVERSE * KEYS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_removes_duplicate_keys_keeping_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path().join("store").to_str().unwrap()).await.unwrap();
    seed_unkeyed_cache(&store, UNIVERSE, f32::NAN).await;
    let reports = store.compact(&CompactParams::default()).await.unwrap();
    let report = reports.iter().find(|r| r.table == embeddings_table(DIM)).unwrap();
    assert_eq!(report.duplicates_removed, (UNIVERSE * KEYS.len()) as u64);
    assert_eq!(report.fragments_after, 1);
    // Every NaN copy is gone; compaction alone does not declare the key.
    let rows = cache_rows(&store).await;
    assert_eq!(rows.len(), UNIVERSE * KEYS.len());
    assert!(rows.iter().all(|(_, v)| v.iter().all(|x| x.is_finite())));
    let again = store.compact(&CompactParams::default()).await.unwrap();
    assert_eq!(again.iter().map(|r| r.duplicates_removed).sum::<u64>(), 0);
}

/// The Lance behaviour `Store::create_table` relies on, pinned so a Lance upgrade that changes it
/// fails here: a create planned while the table was absent, committed after another writer created
/// it, overwrites that table under Lance's default commit, and fails under the strict one (no
/// retries), leaving the other writer's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_lost_the_race_overwrites_unless_strict() {
    use esmdb_store::lance::dataset::{CommitBuilder, InsertBuilder};
    let dir = tempfile::tempdir().unwrap();
    let batch = |n: usize| {
        let hashes: Vec<String> = (0..n).map(|i| seq_hash(&sequence(i))).collect();
        let rows: Vec<(i32, &str, &str)> = hashes.iter().map(|h| (6, "mean", h.as_str())).collect();
        schema::embeddings_batch(DIM, MODEL, &rows, &vec![0.5; n * DIM]).unwrap()
    };
    for strict in [false, true] {
        let uri = dir.path().join(format!("strict-{strict}.lance"));
        let uri = uri.to_str().unwrap();
        let params = WriteParams { mode: WriteMode::Create, ..Default::default() };
        let late = InsertBuilder::new(uri).with_params(&params).execute_uncommitted(vec![batch(3)]).await.unwrap();
        InsertBuilder::new(uri).with_params(&params).execute(vec![batch(5)]).await.unwrap();
        let commit = CommitBuilder::new(uri);
        let commit = if strict { commit.with_max_retries(0) } else { commit };
        let outcome = commit.execute(late).await;
        let rows = Dataset::open(uri).await.unwrap().count_rows(None).await.unwrap();
        if strict {
            assert!(outcome.is_err());
            assert_eq!(rows, 5, "the first writer's table is intact");
        } else {
            assert_eq!(outcome.unwrap().version_id(), 2);
            assert_eq!(rows, 3, "the late create replaced the first writer's table");
        }
    }
}
