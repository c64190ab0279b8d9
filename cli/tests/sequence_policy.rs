//! One sequence policy on every path a sequence enters by: `esmdb embed --fasta`, `esmdb ingest` (FASTA and CSV)
//! and SQL's `esm2_embed` accept the same sequences and refuse the same ones, in the same words (esmdb-seq's),
//! each naming where the sequence was: file and line and id, or the row in SQL.
#![allow(clippy::unwrap_used)]
use std::path::Path;
use std::process::{Command, Output};

use arrow_array::cast::AsArray;

fn esmdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmdb"))
        .args(args)
        .env_remove("ESMDB_STORE")
        .env_remove("ESMDB_MODEL")
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = esmdb(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "esmdb {args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The error line of a run that must fail, without the `esmdb: error: ` prefix.
fn error_line(args: &[&str]) -> String {
    let out = esmdb(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "esmdb {args:?} should fail");
    let line = stderr.lines().find_map(|l| l.strip_prefix("esmdb: error: "));
    line.unwrap_or_else(|| panic!("esmdb {args:?}: no error line in {stderr}")).to_owned()
}

/// (id, sequence, why it is refused), in the words every path must use.
const REFUSED: [(&str, &str, &str); 8] = [
    ("gap", "MK-TA", "`-` at position 3 is an alignment gap: esmdb embeds unaligned sequences (remove the gaps)"),
    ("dot", "mk.ta", "`.` at position 3 is an alignment gap: esmdb embeds unaligned sequences (remove the gaps)"),
    (
        "stop",
        "MKT*",
        "`*` at position 4 is a stop codon: a nonsense variant has no full-length protein to embed \
         (leave such variants out)",
    ),
    ("digit", "M7KT", "`7` at position 2 is a digit: sequence lines must hold residue letters only"),
    ("mask", "MK<mask>TA", "`<mask>` at position 3 is a model token, not a residue: inputs hold residue letters only"),
    (
        "letter",
        "MK TJ",
        "`J` at position 4 is not a residue letter (the ESM alphabet: ACDEFGHIKLMNPQRSTVWY and X, B, Z, U, O)",
    ),
    ("empty", "", ""),
    ("blank", " \t ", ""),
];

/// Accepted as the same protein, `MKTAY`: case folded, whitespace removed.
const ACCEPTED: [(&str, &str); 3] = [("upper", "MKTAY"), ("lower", "mktay"), ("spaced", "MK TA\tY")];

/// `sequence `id`: reason`, or `sequence `id` is empty`.
fn refusal(id: &str, reason: &str) -> String {
    if reason.is_empty() { format!("sequence `{id}` is empty") } else { format!("sequence `{id}`: {reason}") }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn csv(records: &[(&str, &str)]) -> String {
    let rows: String = records.iter().map(|(id, seq)| format!("{id},K2A,1.0,{seq}\n")).collect();
    format!("ID,mutant,target,sequence\n{rows}")
}

fn fasta(records: &[(&str, &str)]) -> String {
    records.iter().map(|(id, seq)| format!(">{id} a variant\n{seq}\n")).collect()
}

#[test]
fn embed_ingest_and_sql_accept_and_refuse_alike_in_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("esm2_t6_8M_UR50D").display().to_string();
    ok(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", &model]);
    let store = d.join("store").display().to_string();

    // Accepted: the same normalized protein on every path.
    let accepted_fasta = write(d, "ok.fasta", &fasta(&ACCEPTED));
    let out = d.join("ok.parquet");
    ok(&["embed", "--model", &model, "--fasta", &accepted_fasta, "--out", out.to_str().unwrap(), "--threads", "2"]);
    let file = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    for batch in reader {
        let sequences = batch.unwrap().column_by_name("sequence").unwrap().as_string::<i32>().clone();
        assert!(sequences.iter().all(|s| s == Some("MKTAY")), "embed --fasta: {sequences:?}");
    }
    ok(&["ingest", "--store", &store, "--dataset", "fasta_ok", &accepted_fasta]);
    ok(&["ingest", "--store", &store, "--dataset", "csv_ok", &write(d, "ok.csv", &csv(&ACCEPTED))]);
    let q = "SELECT sequence, count(*) AS n FROM variants GROUP BY sequence";
    assert_eq!(ok(&["sql", "--store", &store, "--model", &model, "--format", "csv", q]), "sequence,n\nMKTAY,6\n");
    for (_, seq) in ACCEPTED {
        let q = format!("SELECT array_length(esm2_embed('{seq}')) AS n");
        assert_eq!(ok(&["sql", "--store", &store, "--model", &model, "--format", "csv", &q]), "n\n5\n", "{seq:?}");
    }

    // Refused: the same reason from each path, after where the sequence was.
    for (id, seq, reason) in REFUSED {
        let expected = refusal(id, reason);
        // A good record first, so the refused one is not on line 1.
        let records = [("fine", "MKTAY"), (id, seq)];
        let fasta_file = write(d, &format!("{id}.fasta"), &fasta(&records));
        let fasta_at = format!("{fasta_file}:3: {expected}");
        let out = d.join(format!("{id}.parquet"));
        let embedded =
            error_line(&["embed", "--model", &model, "--fasta", &fasta_file, "--out", out.to_str().unwrap()]);
        assert_eq!(embedded, fasta_at, "embed --fasta");
        assert!(!out.exists(), "{id}: embed --fasta wrote output");

        let ingest = ["ingest", "--store", &store, "--dataset", id];
        assert_eq!(error_line(&[&ingest[..], &[&fasta_file]].concat()), fasta_at, "ingest FASTA");
        let csv_file = write(d, &format!("{id}.csv"), &csv(&records));
        assert_eq!(
            error_line(&[&ingest[..], &[&csv_file]].concat()),
            format!("{csv_file}:3: {expected}"),
            "ingest CSV"
        );

        let q = format!("SELECT array_length(esm2_embed(s)) FROM (VALUES ('MKTAY'), ('{seq}')) AS t(s)");
        let sql = error_line(&["sql", "--store", &store, "--model", &model, &q]);
        let in_sql = format!("esm2_embed: {}", refusal("row 2", reason));
        assert!(sql.ends_with(&in_sql), "SQL: {sql}\nexpected it to end with: {in_sql}");
    }
    let q = "SELECT count(DISTINCT dataset) AS n FROM variants";
    assert_eq!(
        ok(&["sql", "--store", &store, "--model", &model, "--format", "csv", q]),
        "n\n2\n",
        "nothing refused was stored"
    );
}
