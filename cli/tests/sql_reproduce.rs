//! `esmdb sql` and `esmdb reproduce` as a user runs them, on small data and a seeded random model.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{fixtures, small_dataset};

fn esmdb(args: &[&str]) -> Output {
    esmdb_with(args, &[])
}

fn esmdb_with(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmdb"));
    cmd.args(args).env_remove("ESMDB_STORE").env_remove("ESMDB_MODEL").env_remove("ESMDB_MODELS");
    cmd.envs(env.iter().copied()).env("HF_HUB_OFFLINE", "1").output().unwrap()
}

fn ok(args: &[&str]) -> (String, String) {
    let out = esmdb(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "esmdb {args:?} failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn fails(args: &[&str]) -> String {
    let out = esmdb(args);
    assert!(!out.status.success(), "esmdb {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Distinct sequences among the first `n` IF1 variants.
fn distinct_sequences(n: usize) -> usize {
    let csv = std::fs::read_to_string(fixtures().join("IF1_ECOLI_metadata.csv")).unwrap();
    let seqs: std::collections::HashSet<&str> =
        csv.lines().skip(1).take(n).map(|l| l.rsplit(',').next().unwrap()).collect();
    seqs.len()
}

/// Per-fold test R² of `lasso_cv_eval(features, target)` over `dataset`, through `esmdb sql`.
fn sql_test_r2(store: &str, features: &str, dataset: &str) -> Vec<f64> {
    let q = format!(
        "SELECT r['fold'] AS fold, r['r2_test'] AS r2 FROM (SELECT unnest(lasso_cv_eval({features}, target \
         ORDER BY input_row)) AS r FROM variants WHERE dataset = '{dataset}') ORDER BY fold"
    );
    let (csv, _) = ok(&["sql", "--store", store, "--format", "csv", &q]);
    csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect()
}

fn init_model(dir: &Path) -> String {
    let model = dir.join("esm2_t6_8M_UR50D");
    ok(&["model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", model.to_str().unwrap()]);
    model.display().to_string()
}

#[test]
fn sql_runs_statements_and_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let yap1 = fixtures().join("YAP1_HUMAN_Fields2012_singles_metadata.csv");
    ok(&["ingest", "--store", &store, "--dataset", "YAP1", yap1.to_str().unwrap()]);

    let q = "SELECT dataset, count(*) AS n FROM variants GROUP BY dataset";
    let (csv, _) = ok(&["sql", "--store", &store, "--format", "csv", q]);
    assert_eq!(csv, "dataset,n\nYAP1,362\n");
    let (json, _) = ok(&["sql", "--store", &store, "--format", "json", q]);
    assert_eq!(json.trim(), r#"{"dataset":"YAP1","n":362}"#);
    let (table, _) = ok(&["sql", "--store", &store, q]);
    assert!(table.contains("| dataset | n   |") && table.contains("| YAP1    | 362 |"), "{table}");

    // Several statements in one session: the SET applies to the last one, whose result is printed.
    let (out, _) = ok(&[
        "sql",
        "--store",
        &store,
        "--format",
        "csv",
        "SET esmdb.batch_tokens = 1234; SELECT value FROM information_schema.df_settings WHERE name = 'esmdb.batch_tokens'",
    ]);
    assert_eq!(out, "value\n1234\n");

    // Parquet goes to a file, atomically.
    let out_file = dir.path().join("r.parquet");
    ok(&["sql", "--store", &store, "--format", "parquet", "--out", out_file.to_str().unwrap(), q]);
    let (count, _) =
        ok(&["sql", "--store", &store, "--format", "csv", &format!("SELECT n FROM '{}'", out_file.display())]);
    assert_eq!(count, "n\n362\n");

    assert!(fails(&["sql", "--store", &store, "--format", "parquet", q]).contains("--format parquet needs --out"));
    assert!(fails(&["sql", "--store", &store, "--format", "xml", q]).contains("unknown format `xml`"));
    let err = fails(&["sql", "--store", &store, "SELECT nope FROM variants"]);
    assert!(err.contains("nope"), "{err}");
    let missing = dir.path().join("no/such/dir/out.csv");
    let err = fails(&["sql", "--store", &store, "--format", "csv", "--out", missing.to_str().unwrap(), q]);
    assert!(err.contains("no/such/dir"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn reproduce_writes_the_papers_results_and_resumes_without_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 60);
    let model = init_model(dir.path());
    let store = dir.path().join("store").display().to_string();
    let out = dir.path().join("results");
    let args = [
        "reproduce",
        "--store",
        &store,
        "--datasets",
        data.to_str().unwrap(),
        "--models",
        &model,
        "--compress",
        "mean,bos",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ];
    let (summary, _) = ok(&args);
    assert!(summary.contains("IF1_small"), "{summary}");
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = results.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Model,Fold,R2_score_train,MAE_score_train,RMSE_score_train,R2_score_test,MAE_score_test,\
         RMSE_score_test,rho_score_train,rho_score_test,nun_zero_coefs,Compression_method,Dataset,ModelSize,Model_Name"
    );
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 10, "5 folds × 2 compressions");
    for c in ["mean", "bos"] {
        let folds: Vec<&str> = rows.iter().filter(|r| r[11] == c).map(|r| r[1].as_str()).collect();
        assert_eq!(folds, ["1", "2", "3", "4", "5"]);
    }
    for f in ["summary.csv", "r2_by_model_size.svg", "r2_by_model_size.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["embedded"], distinct_sequences(60));
    assert_eq!(run["fits_run"], 2);

    // The numbers are the SQL path's.
    let sql_r2 = sql_test_r2(&store, &format!("compress_mean(esm2_embed(sequence, '{model}'))"), "IF1_small");
    let ours: Vec<f64> = rows.iter().filter(|r| r[11] == "mean").map(|r| r[5].parse().unwrap()).collect();
    assert_eq!(sql_r2, ours);

    // A second run: no embedding, no fitting, the same results.
    ok(&args);
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["embedded"], 0);
    assert_eq!(run["fits_run"], 0);
    assert_eq!(run["fits_reused"], 2);
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).unwrap(), results);

    // A new dataset: only its sequences are embedded, only its fits run.
    small_dataset(&data, "IF1_more", 70);
    ok(&args);
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["embedded"],
        distinct_sequences(70) - distinct_sequences(60),
        "IF1_more shares its first 60 variants with IF1_small: only the new sequences are embedded"
    );
    assert_eq!(run["fits_run"], 2);
    assert_eq!(run["fits_reused"], 2);

    let err = fails(&[
        "reproduce",
        "--store",
        &store,
        "--datasets",
        "nope",
        "--models",
        &model,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("dataset `nope`"), "{err}");
    let err = fails(&[
        "reproduce",
        "--datasets",
        "x",
        "--models",
        &model,
        "--compress",
        "pca",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("unknown compression `pca`"), "{err}");
}

#[test]
fn reproduce_zero_shot_adds_the_score_the_augmented_model_and_a_figure() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 60);
    let model = init_model(dir.path());
    let store = dir.path().join("store").display().to_string();
    let out = dir.path().join("results");
    let args = [
        "reproduce",
        "--store",
        &store,
        "--datasets",
        data.to_str().unwrap(),
        "--models",
        &model,
        "--compress",
        "mean",
        "--zero-shot",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ];
    ok(&args);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<Vec<String>> = results.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    let folds = |tag: &str| -> Vec<String> { rows.iter().filter(|r| r[11] == tag).map(|r| r[1].clone()).collect() };
    assert_eq!(folds("mean"), ["1", "2", "3", "4", "5"]);
    assert_eq!(folds("mean+zero-shot(masked-marginals)"), ["1", "2", "3", "4", "5"]);
    assert_eq!(folds("zero-shot(masked-marginals)"), ["0"], "one row: nothing is trained");
    let zs = rows.iter().find(|r| r[11] == "zero-shot(masked-marginals)").unwrap();
    assert_eq!(zs[5], "NaN", "no R² for a score that is not fitted");

    // The zero-shot ρ is the SQL query's.
    let q = format!(
        "SELECT spearman(esm_score(sequence, mutant, 'masked-marginals', '{model}'), target) AS rho \
         FROM variants WHERE dataset = 'IF1_small' AND target IS NOT NULL"
    );
    let (csv, _) = ok(&["sql", "--store", &store, "--format", "csv", &q]);
    let rho: f64 = csv.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(zs[9].parse::<f64>().unwrap(), rho);
    // The augmented fits are lasso_cv_eval over the embedding with the score appended.
    let features = format!(
        "concat_features(compress_mean(esm2_embed(sequence, '{model}')), \
         esm_score(sequence, mutant, 'masked-marginals', '{model}'))"
    );
    let augmented: Vec<f64> =
        rows.iter().filter(|r| r[11] == "mean+zero-shot(masked-marginals)").map(|r| r[5].parse().unwrap()).collect();
    assert_eq!(sql_test_r2(&store, &features, "IF1_small"), augmented);
    for f in ["zero_shot_vs_supervised.svg", "zero_shot_vs_supervised.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    // A second run reuses both fits.
    ok(&args);
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!((run["fits_run"].as_u64(), run["fits_reused"].as_u64()), (Some(0), Some(2)));
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).unwrap(), results);

    let mut bad = args.to_vec();
    bad.insert(bad.len() - 4, "pseudo-ppl");
    let err = fails(&bad);
    assert!(err.contains("unknown scoring method `pseudo-ppl`"), "{err}");
}

#[test]
fn reproduce_runs_swats_pca_and_idct_compressions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 60);
    let model = init_model(dir.path());
    let store = dir.path().join("store").display().to_string();
    let out = dir.path().join("results");
    let data = data.to_str().unwrap();
    let out_dir = out.to_str().unwrap();
    ok(&[
        "reproduce",
        "--store",
        &store,
        "--datasets",
        data,
        "--models",
        &model,
        "--compress",
        "pca1,idct1",
        "--out",
        out_dir,
    ]);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<Vec<String>> = results.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    // SWAT's names, whatever the case typed.
    for c in ["pca1", "iDCT1"] {
        let folds: Vec<&str> = rows.iter().filter(|r| r[11] == c).map(|r| r[1].as_str()).collect();
        assert_eq!(folds, ["1", "2", "3", "4", "5"], "{c}");
    }
    // The numbers are the SQL path's.
    for (c, expr) in [("pca1", "compress_pca(EMBED, 1)"), ("iDCT1", "compress_idct(EMBED, 5, 44)")] {
        let expr = expr.replace("EMBED", &format!("esm2_embed(sequence, '{model}')"));
        let sql_r2 = sql_test_r2(&store, &expr, "IF1_small");
        let ours: Vec<f64> = rows.iter().filter(|r| r[11] == c).map(|r| r[5].parse().unwrap()).collect();
        assert_eq!(sql_r2, ours, "{c}");
    }
    let err = fails(&["reproduce", "--datasets", data, "--models", &model, "--compress", "pca2", "--out", out_dir]);
    assert!(err.contains("unknown compression `pca2`") && err.contains("pca1-2"), "{err}");
}

#[test]
fn reproduce_runs_every_family_by_name_in_the_papers_spelling() {
    // Models found by bare name in $ESMDB_MODELS, as a user with the real checkpoints there would
    // run the study. Random stand-ins with few blocks (`--layers`), so the test takes seconds.
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    for (arch, layers) in [("esmc_300m", "2"), ("esm1v_t33_650M_UR90S_1", "1"), ("esm2_t6_8M_UR50D", "2")] {
        let out = models.join(arch);
        ok(&["model", "init", "--arch", arch, "--layers", layers, "--seed", "3", "--out", out.to_str().unwrap()]);
    }
    let err = fails(&["model", "init", "--arch", "esmc_300m", "--layers", "31", "--out", "unused"]);
    assert!(err.contains("--layers for esmc_300m") && err.contains("1 to 30"), "{err}");
    assert!(!Path::new("unused").exists());

    let data = dir.path().join("dms");
    small_dataset(&data, "IF1_small", 40);
    // The paper's layout for three of our rows (values made up): ours pair with them by family and size.
    let paper = dir.path().join("paper.csv");
    let mut published = String::from(
        ",Model,Fold,R2_score_train,MAE_score_train,RMSE_score_train,R2_score_test,MAE_score_test,\
         RMSE_score_test,rho_score_train,rho_score_test,nun_zero_coefs,Compression_method,Dataset,ModelSize\n",
    );
    for (i, (family, size)) in [("esmc", "300M"), ("esm1v", "650M"), ("esm2", "8M")].iter().enumerate() {
        for fold in 1..=5 {
            published += &format!("{i},{family},{fold},0.5,0.1,0.1,0.3,0.1,0.1,0.5,0.4,10,mean,IF1_small,{size}\n");
        }
    }
    std::fs::write(&paper, published).unwrap();

    let store = dir.path().join("store").display().to_string();
    let out = dir.path().join("results");
    let names = "esmc_300m,esm1v_t33_650M_UR90S_1,esm2_t6_8M_UR50D";
    let args = [
        "reproduce",
        "--store",
        &store,
        "--datasets",
        data.to_str().unwrap(),
        "--models",
        names,
        "--compress",
        "mean",
        "--paper",
        paper.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ];
    let run = esmdb_with(&args, &[("ESMDB_MODELS", &models)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<Vec<&str>> = results.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let mut spelled: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[13], r[14])).collect();
    spelled.dedup();
    assert_eq!(
        spelled,
        [
            ("esmc", "300M", "esmc_300m"),
            ("esm1v", "650M", "esm1v_t33_650M_UR90S_1"),
            ("esm2", "8M", "esm2_t6_8M_UR50D"),
        ],
        "Model and ModelSize as the paper writes them, our name in Model_Name, in --models order"
    );
    assert_eq!(rows.len(), 3 * 5);
    // Each family's rows are its own model's numbers: the SQL path over the same checkpoint.
    for (name, first) in [("esmc_300m", 0), ("esm1v_t33_650M_UR90S_1", 5)] {
        let path = models.join(name).display().to_string();
        let sql_r2 = sql_test_r2(&store, &format!("compress_mean(embed(sequence, '{path}'))"), "IF1_small");
        let ours: Vec<f64> = rows[first..first + 5].iter().map(|r| r[5].parse().unwrap()).collect();
        assert_eq!(sql_r2, ours, "{name}");
    }
    // The figures: one series per family, and the published comparison within each family.
    let size = std::fs::read_to_string(out.join("r2_by_model_size.svg")).unwrap();
    for family in [">\nESM2\n<", ">\nESM C\n<", ">\nESM-1v\n<"] {
        assert!(size.contains(family), "{family} missing from r2_by_model_size.svg:\n{size}");
    }
    let vs = std::fs::read_to_string(out.join("ours_vs_published.svg")).unwrap();
    for text in ["3 pairs", "ESM C: 1 pairs", "ESM-1v: 1 pairs", "ESM2: 1 pairs"] {
        assert!(vs.contains(text), "{text} missing from ours_vs_published.svg");
    }
}
