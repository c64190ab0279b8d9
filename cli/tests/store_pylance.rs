//! Interop: Python's `pylance` reads the same variants and vectors from an esmdb store as esmdb does.
//! Mandatory like the parity tests: it needs the reference Python (`$ESMDB_PYTHON`, set up by
//! `scripts/setup`, which installs `pylance`).
#![allow(clippy::unwrap_used)]
use std::path::PathBuf;
use std::process::Command;

use arrow_array::{Float64Array, Int64Array, StringArray};
use esmdb_store::{BoxError, EmbedParams, Embedder, IngestParams, OutputKey, Pooling, Store};

struct Fake;

impl Embedder for Fake {
    fn model_id(&self) -> &str {
        "fake@interop"
    }
    fn dim(&self) -> usize {
        16
    }
    fn num_layers(&self) -> i32 {
        6
    }
    fn resolve_layer(&self, layer: i32) -> Option<i32> {
        esmdb_model::resolve_layer(i64::from(layer), 6).map(|l| l as i32)
    }
    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> Result<Vec<Vec<f32>>, BoxError> {
        Ok(outputs
            .iter()
            .map(|k| {
                sequences
                    .iter()
                    .flat_map(|s| {
                        let h = s.bytes().fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
                        (0..16).map(move |d| (h.wrapping_add(d * 977 + k.layer as u32) % 10_007) as f32 / 1234.5)
                    })
                    .collect()
            })
            .collect())
    }
}

fn root() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .parent()
    .unwrap()
    .to_path_buf()
}

fn python() -> PathBuf {
    let p = std::env::var_os("ESMDB_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(p.exists(), "reference Python {} not found: run scripts/setup (or set ESMDB_PYTHON)", p.display());
    p
}

#[test]
fn pylance_reads_the_same_rows_and_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let fixture = root().join("tests/fixtures/dms");
    let files = [
        fixture.join("YAP1_HUMAN_Fields2012_singles_metadata.csv"),
        fixture.join("YAP1_HUMAN_Fields2012_singles_muts.fasta"),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (store, batch) = rt.block_on(async {
        let store = Store::open_or_create(store_path.to_str().unwrap()).await.unwrap();
        store.ingest("YAP1", &files, &IngestParams::default()).await.unwrap();
        let params = EmbedParams { outputs: vec![(-1, Pooling::Mean), (2, Pooling::Bos)], batch_sequences: 100 };
        store.embed_dataset("YAP1", &Fake, &params, &mut |_| {}).await.unwrap();
        let batch = store.variants("YAP1", None).await.unwrap();
        (store, batch)
    });

    let out = dir.path().join("py.json");
    let status = Command::new(python())
        .arg(root().join("tests/python/lance_interop.py"))
        .args([store_path.to_str().unwrap(), "YAP1", "fake@interop", "16", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "lance_interop.py: {}", String::from_utf8_lossy(&status.stderr));
    let py: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();

    let rows = py["variants"].as_array().unwrap();
    assert_eq!(rows.len(), 362);
    let ids = batch.column_by_name("id").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let seqs = batch.column_by_name("sequence").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let targets = batch.column_by_name("target").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    let input_rows = batch.column_by_name("input_row").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let ours: std::collections::HashMap<&str, (&str, f64, i64)> =
        (0..batch.num_rows()).map(|i| (ids.value(i), (seqs.value(i), targets.value(i), input_rows.value(i)))).collect();
    for row in rows {
        let (seq, target, input_row) = ours[row["id"].as_str().unwrap()];
        assert_eq!(row["sequence"].as_str().unwrap(), seq);
        assert_eq!(row["target"].as_str().unwrap().parse::<f64>().unwrap(), target);
        assert_eq!(row["input_row"].as_i64().unwrap(), input_row);
    }

    let vectors = py["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2 * 362);
    for v in vectors.iter().take(40) {
        let key = OutputKey {
            layer: v["layer"].as_i64().unwrap() as i32,
            pooling: v["pooling"].as_str().unwrap().parse().unwrap(),
        };
        let hash = v["seq_hash"].as_str().unwrap().to_owned();
        let ours = rt.block_on(store.lookup("fake@interop", 16, key, &[hash.as_str()])).unwrap();
        let theirs: Vec<f32> = v["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().parse::<f64>().unwrap() as f32)
            .collect();
        assert_eq!(ours[&hash], theirs);
    }
}
