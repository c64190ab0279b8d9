//! Helpers shared by the store's integration tests: the shipped YAP1 fixture, scratch files, and a
//! counting mock [`Embedder`].
#![allow(dead_code, clippy::unwrap_used)]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use esmdb_store::{BoxError, Embedder, OutputKey, Pooling};

/// The shipped YAP1 dataset in the paper's layout.
pub fn yap1() -> (PathBuf, PathBuf) {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../tests/fixtures/dms");
    (dir.join("YAP1_HUMAN_Fields2012_singles_metadata.csv"), dir.join("YAP1_HUMAN_Fields2012_singles_muts.fasta"))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A deterministic fake model that counts calls and embedded sequences, and can fail after a number
/// of calls (to simulate an interrupted run).
pub struct CountingEmbedder {
    pub id: String,
    pub dim: usize,
    pub calls: AtomicUsize,
    pub sequences: AtomicUsize,
    pub fail_after_calls: Option<usize>,
}

impl CountingEmbedder {
    pub fn new(id: &str, dim: usize) -> Self {
        CountingEmbedder {
            id: id.into(),
            dim,
            calls: AtomicUsize::new(0),
            sequences: AtomicUsize::new(0),
            fail_after_calls: None,
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn sequences(&self) -> usize {
        self.sequences.load(Ordering::SeqCst)
    }

    /// The vector this fake model gives `seq` for `key`.
    pub fn vector(&self, seq: &str, key: OutputKey) -> Vec<f32> {
        let base = seq.bytes().map(f32::from).sum::<f32>() / seq.len() as f32;
        let p = if key.pooling == Pooling::Mean { 0.0 } else { 1000.0 };
        (0..self.dim).map(|d| base + d as f32 + key.layer as f32 * 100.0 + p).collect()
    }
}

impl Embedder for CountingEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn num_layers(&self) -> i32 {
        6
    }
    /// A fixed 6-layer mock: layers 0..=6, or -7..=-1 from the end.
    fn resolve_layer(&self, layer: i32) -> Option<i32> {
        match layer {
            0..=6 => Some(layer),
            -7..=-1 => Some(7 + layer),
            _ => None,
        }
    }
    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> Result<Vec<Vec<f32>>, BoxError> {
        let calls = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_after_calls.is_some_and(|n| calls >= n) {
            return Err("simulated crash".into());
        }
        self.sequences.fetch_add(sequences.len(), Ordering::SeqCst);
        Ok(outputs.iter().map(|k| sequences.iter().flat_map(|s| self.vector(s, *k)).collect()).collect())
    }
}
