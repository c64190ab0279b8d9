//! End-to-end tests of the `esmdb` binary: model init, embed to Parquet, and its input errors.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

fn esmdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmdb")).args(args).output().expect("running esmdb")
}

fn fixture() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../tests/fixtures/dms/YAP1_HUMAN_Fields2012_singles_muts.fasta")
}

fn init_model(dir: &Path) -> PathBuf {
    let out = dir.join("model");
    let o = esmdb(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

#[test]
fn init_then_embed_writes_the_documented_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let model = init_model(dir.path());
    assert!(model.join("config.json").is_file() && model.join("model.safetensors").is_file());

    let out = dir.path().join("yap1.parquet");
    let o = esmdb(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--fasta",
        fixture().to_str().unwrap(),
        "--layer",
        "3",
        "--layer",
        "-1",
        "--pool",
        "mean,per_tok,bos",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let batch = read_parquet(&out);
    let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "sequence", "mean_L3", "per_tok_L3", "bos_L3", "mean_L6", "per_tok_L6", "bos_L6"]);
    assert_eq!(batch.num_rows(), 362);
    let fsl =
        DataType::FixedSizeList(std::sync::Arc::new(arrow_schema::Field::new_list_field(DataType::Float32, true)), 320);
    assert_eq!(batch.column(2).data_type(), &fsl);
    assert!(matches!(batch.column(3).data_type(), DataType::List(f) if f.data_type() == &fsl));

    // Input order is kept, and the stored mean equals the mean of the stored per-token rows.
    let records = esmdb_seq::fasta::read(&fixture()).unwrap();
    let ids = batch.column(0).as_string::<i32>();
    assert!(records.iter().enumerate().all(|(i, r)| ids.value(i) == r.id));
    let mean = batch.column(5).as_fixed_size_list().value(0);
    let mean = mean.as_primitive::<Float32Type>().values();
    let per_tok = batch.column(6).as_list::<i32>().value(0);
    let per_tok = per_tok.as_fixed_size_list();
    assert_eq!(per_tok.len(), records[0].sequence.len());
    for d in [0usize, 17, 319] {
        let avg: f32 = (0..per_tok.len()).map(|t| per_tok.value(t).as_primitive::<Float32Type>().value(d)).sum::<f32>()
            / per_tok.len() as f32;
        assert!((avg - mean[d]).abs() < 1e-4, "dim {d}: {avg} vs {}", mean[d]);
    }
}

#[test]
fn embed_writes_the_lm_heads_logits() {
    let dir = tempfile::tempdir().unwrap();
    let model = init_model(dir.path());
    let out = dir.path().join("logits.parquet");
    let fasta = fixture();
    let args = ["embed", "--model", model.to_str().unwrap(), "--fasta", fasta.to_str().unwrap()];
    let o = esmdb(&[&args[..], &["--pool", "mean,logits", "--out", out.to_str().unwrap(), "--threads", "2"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let batch = read_parquet(&out);
    let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "sequence", "mean_L6", "logits"]);
    let records = esmdb_seq::fasta::read(&fixture()).unwrap();
    let logits = batch.column(3).as_list::<i32>().value(0);
    let logits = logits.as_fixed_size_list();
    assert_eq!((logits.len(), logits.value_length()), (records[0].sequence.len(), 33), "a row per residue, 33 wide");
    let first = logits.value(0);
    assert!(first.as_primitive::<Float32Type>().values().iter().all(|v| v.is_finite()));

    // A checkpoint without the head (an `EsmModel` export) is refused with that reason, nothing written.
    let headless = dir.path().join("headless");
    std::fs::create_dir_all(&headless).unwrap();
    std::fs::copy(model.join("config.json"), headless.join("config.json")).unwrap();
    let tensors: Vec<(String, tch::Tensor)> = tch::Tensor::read_safetensors(model.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("lm_head."))
        .collect();
    tch::Tensor::write_safetensors(&tensors, headless.join("model.safetensors")).unwrap();
    let out2 = dir.path().join("none.parquet");
    let args = ["embed", "--model", headless.to_str().unwrap(), "--fasta", fasta.to_str().unwrap()];
    let o = esmdb(&[&args[..], &["--pool", "logits", "--out", out2.to_str().unwrap()]].concat());
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("masked-LM head"), "{err}");
    assert!(!out2.exists());
}

#[test]
fn bad_fasta_inputs_fail_cleanly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = init_model(dir.path());
    let cases = [
        ("empty.fasta", "", "empty.fasta: no FASTA records (empty file)"),
        ("noheader.fasta", "MKT\n", "noheader.fasta:1: sequence data before the first `>` header"),
        ("dup.fasta", ">a\nMK\n>a\nMT\n", "dup.fasta:3: duplicate id `a` (first seen on line 1)"),
        ("emptyseq.fasta", ">a\n>b\nMK\n", "emptyseq.fasta:1: sequence `a` is empty"),
        (
            "residue.fasta",
            ">a\nMK\n>b\nMKJ\n",
            "residue.fasta:3: sequence `b`: `J` at position 3 is not a residue letter",
        ),
    ];
    for (name, text, expected) in cases {
        let fasta = dir.path().join(name);
        std::fs::write(&fasta, text).unwrap();
        let out = dir.path().join(format!("{name}.parquet"));
        let o = esmdb(&[
            "embed",
            "--model",
            model.to_str().unwrap(),
            "--fasta",
            fasta.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name} should fail");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: nothing may be written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".esmdb-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn unknown_model_and_device_errors() {
    let o = esmdb(&["embed", "--model", "esm2_t6_8M_UR50D_missing", "--fasta", fixture().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("model `esm2_t6_8M_UR50D_missing` not found; searched:"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let model = init_model(dir.path());
    let o = esmdb(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--fasta",
        fixture().to_str().unwrap(),
        "--device",
        "cuda:7",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("device: `cuda:7` requested but"), "{stderr}");
}

/// A bare model name missing locally is downloaded from the hub endpoint into the Hugging Face cache,
/// then found there offline. The "hub" is a loopback HTTP server serving a random model's files.
#[test]
fn bare_name_downloads_from_the_hub_into_the_hf_cache() {
    use sha2::Digest;
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let model = init_model(dir.path());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = model.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            while reader.read_line(&mut String::new()).map(|n| n > 2).unwrap_or(false) {}
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let file = path.rsplit('/').next().unwrap_or("");
            // config.json is asked for at `main`, the other files at the commit `main` resolved to.
            let body = if path.starts_with("/facebook/esm2_t6_8M_UR50D/resolve/main/config.json")
                || path.starts_with("/facebook/esm2_t6_8M_UR50D/resolve/abc123/")
            {
                std::fs::read(served.join(file)).ok()
            } else {
                None
            };
            let head = match &body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nx-repo-commit: abc123\r\nETag: \"{}\"\r\n\
                     Connection: close\r\n\r\n",
                    b.len(),
                    hex::encode(sha2::Sha256::digest(b))
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            };
            stream.write_all(head.as_bytes()).unwrap();
            if line.starts_with("GET ") {
                stream.write_all(&body.unwrap_or_default()).unwrap();
            }
        }
    });
    let cache = dir.path().join("hf");
    let info = |endpoint: &str| {
        Command::new(env!("CARGO_BIN_EXE_esmdb"))
            .args(["model", "info", "esm2_t6_8M_UR50D"])
            .env("HF_ENDPOINT", endpoint)
            .env("HF_HUB_CACHE", &cache)
            .env("HOME", dir.path())
            .env_remove("ESMDB_MODELS")
            .env_remove("TORCH_HOME")
            .env_remove("HF_HUB_OFFLINE")
            .output()
            .unwrap()
    };
    let o = info(&format!("http://{addr}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let snapshot = cache.join("models--facebook--esm2_t6_8M_UR50D/snapshots/abc123");
    assert!(snapshot.join("model.safetensors").is_file());
    assert_eq!(
        std::fs::read(snapshot.join("model.safetensors")).unwrap(),
        std::fs::read(model.join("model.safetensors")).unwrap()
    );
    // Second time: found in the cache, no server needed.
    let o = info("http://127.0.0.1:9");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"id\": \"esm2_t6_8M_UR50D@"));
}
