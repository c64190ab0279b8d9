//! Helpers shared by the CLI's integration tests (each test file uses some of them).
#![allow(dead_code)]
pub mod moto;
use std::path::{Path, PathBuf};

/// The DMS fixtures shipped with the project (`tests/fixtures/dms`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dms")
}

/// A paper-layout dataset of the first `n` IF1 variants (72 residues each: fast to embed).
pub fn small_dataset(dir: &Path, name: &str, n: usize) {
    dataset_head(dir, "IF1_ECOLI", name, n);
}

/// A paper-layout dataset `name` in `dir` of the first `n` variants of the fixture `source`
/// (`IF1_ECOLI`, `YAP1_HUMAN_Fields2012_singles`).
pub fn dataset_head(dir: &Path, source: &str, name: &str, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let csv = std::fs::read_to_string(fixtures().join(format!("{source}_metadata.csv"))).unwrap();
    let lines: Vec<&str> = csv.lines().take(n + 1).collect();
    std::fs::write(dir.join(format!("{name}_metadata.csv")), lines.join("\n") + "\n").unwrap();
    let fasta = std::fs::read_to_string(fixtures().join(format!("{source}_muts.fasta"))).unwrap();
    let records: Vec<&str> = fasta.split('>').filter(|r| !r.trim().is_empty()).take(n).collect();
    let text: String = records.iter().map(|r| format!(">{r}")).collect();
    std::fs::write(dir.join(format!("{name}_muts.fasta")), text).unwrap();
}
