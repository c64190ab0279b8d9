//! Shared set-up of the SQL tests: a seeded random-weight ESM2-8M on disk and a store holding the
//! YAP1 fixture (362 variants) shipped with the project.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use esmdb_sql::{EngineConfig, Session};
use esmdb_store::{IngestParams, Store};

/// The random-weight model directory, written once per test process.
pub fn model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = esmdb_model::Config::for_architecture("esm2_t6_8M_UR50D").expect("architecture");
        esmdb_model::init::write_random_model(&config, 7, &dir.path().join("esm2_t6_8M_UR50D")).expect("model");
        dir
    })
    .path()
}

/// Path of the random model.
pub fn model_path() -> String {
    model_dir().join("esm2_t6_8M_UR50D").display().to_string()
}

/// The YAP1 fixture files.
pub fn yap1_files() -> Vec<PathBuf> {
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../tests/fixtures/dms");
    vec![root.join("YAP1_HUMAN_Fields2012_singles_metadata.csv"), root.join("YAP1_HUMAN_Fields2012_singles_muts.fasta")]
}

/// The IF1 fixture files (72 residues, 1,439 variants): a short wild type for zero-shot tests.
pub fn if1_files() -> Vec<PathBuf> {
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../tests/fixtures/dms");
    vec![root.join("IF1_ECOLI_metadata.csv"), root.join("IF1_ECOLI_muts.fasta")]
}

/// A new store under `dir` with the YAP1 fixture ingested as `yap1`, and a session over it whose
/// default model is the random one.
pub async fn session_with_yap1(dir: &Path) -> Session {
    let store_path = dir.join("store");
    let store = Store::open_or_create(store_path.to_str().expect("utf-8 path")).await.expect("store");
    store.ingest("yap1", &yap1_files(), &IngestParams::default()).await.expect("ingest");
    session(&store_path).await
}

/// A session over the store at `store_path`, default model the random one, 2 libtorch threads.
pub async fn session(store_path: &Path) -> Session {
    let options = EngineConfig {
        model: model_path(),
        store: store_path.display().to_string(),
        threads: 2,
        commit_every: 64,
        ..EngineConfig::default()
    };
    Session::open(options).await.expect("session")
}
