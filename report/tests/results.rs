//! Results CSVs and summaries: our files round-trip in the paper's layout, the paper's own file
//! reads into comparable names, and summaries match numbers computed by hand (Python `statistics`).

use std::path::PathBuf;

use esmdb_report::{
    Error, FoldRow, RESULTS_COLUMNS, read_results_csv, summarize, summary_table, write_results_csv, write_summary_csv,
};

fn fixture() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/fixtures/paper_lassocv_head.csv")
}

fn row(model: &str, fold: i64, r2_test: f64, dataset: &str) -> FoldRow {
    FoldRow {
        model: model.into(),
        fold,
        r2_train: 0.1 + 0.2,
        mae_train: 0.25,
        rmse_train: 1.0 / 3.0,
        r2_test,
        mae_test: 1e-300,
        rmse_test: 123456.789,
        rho_train: -6.661338147750939e-16,
        rho_test: 0.5,
        n_nonzero: 187,
        compression: "mean".into(),
        dataset: dataset.into(),
    }
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn results_round_trip_with_the_papers_header() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("results.csv");
    let mut rows = vec![row("esm2_t6_8M_UR50D", 1, -3.35, "YAP1"), row("esm2_t6_8M_UR50D", 2, 0.42, "a, \"quoted\"")];
    rows[1].rho_train = f64::NAN;
    write_results_csv(&rows, &path)?;

    let text = std::fs::read_to_string(&path)?;
    assert_eq!(
        text.lines().next(),
        Some(
            "Model,Fold,R2_score_train,MAE_score_train,RMSE_score_train,R2_score_test,MAE_score_test,\
             RMSE_score_test,rho_score_train,rho_score_test,nun_zero_coefs,Compression_method,Dataset,\
             ModelSize,Model_Name"
        )
    );
    assert_eq!(RESULTS_COLUMNS.join(","), text.lines().next().unwrap_or_default());
    let names: Vec<_> = std::fs::read_dir(dir.path())?.flatten().map(|e| e.file_name()).collect();
    assert_eq!(names, ["results.csv"], "no temporary file left behind");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o644);
    }

    let back = read_results_csv(&path)?;
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], rows[0], "floats are written round-trip exact");
    assert!(back[1].rho_train.is_nan());
    assert_eq!(back[1].dataset, "a, \"quoted\"");

    // No rows: just the header.
    write_results_csv(&[], dir.path().join("empty.csv"))?;
    assert!(read_results_csv(dir.path().join("empty.csv"))?.is_empty());

    // Overwriting replaces the whole file.
    write_results_csv(&rows[..1], &path)?;
    assert_eq!(read_results_csv(&path)?.len(), 1);
    Ok(())
}

#[test]
fn model_and_size_are_written_as_the_paper_writes_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("results.csv");
    let models = ["esm2_t6_8M_UR50D", "esmc_300m", "esm1v_t33_650M_UR90S_1", "ESMC-600M", "my_model"];
    let rows: Vec<FoldRow> = models.iter().map(|m| row(m, 1, 0.5, "YAP1")).collect();
    write_results_csv(&rows, &path)?;
    let text = std::fs::read_to_string(&path)?;
    let cells: Vec<(String, String, String)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[0].to_string(), f[13].to_string(), f[14].to_string())
        })
        .collect();
    let expected = [
        ("esm2", "8M", "esm2_t6_8M_UR50D"),
        ("esmc", "300M", "esmc_300m"),
        ("esm1v", "650M", "esm1v_t33_650M_UR90S_1"),
        ("esmc", "600M", "ESMC-600M"),
        ("my_model", "", "my_model"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(cells, expected);
    // Read back, each row has its exact model again.
    let back: Vec<String> = read_results_csv(&path)?.into_iter().map(|r| r.model).collect();
    assert_eq!(back, models);

    // A file written before `Model_Name` existed (13 columns, Model = our name) still reads.
    let old = dir.path().join("old.csv");
    let header = RESULTS_COLUMNS[..13].join(",");
    std::fs::write(&old, format!("{header}\nesmc_300m,1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,3,mean,d\n"))?;
    assert_eq!(read_results_csv(&old)?[0].model, "esmc_300m");
    Ok(())
}

#[test]
fn the_papers_csv_reads_into_our_model_names() -> TestResult {
    let rows = read_results_csv(fixture())?;
    assert_eq!(rows.len(), 20);
    let first = &rows[0];
    assert_eq!((first.model.as_str(), first.fold, first.n_nonzero), ("esm1v", 1, 106));
    assert_eq!(first.dataset, "YAP1_HUMAN_Fields2012_singles");
    assert_eq!(first.compression, "mean");
    assert_eq!(first.r2_train, 0.8131713840152687);
    let models: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    let expected = [
        "amplify_120M",
        "esm1v",
        "esm2_t33_650M_UR50D",
        "esm2_t36_3B_UR50D",
        "esm2_t48_15B_UR50D",
        "esm2_t6_8M_UR50D",
        "esmc_300M",
    ];
    assert_eq!(models.into_iter().collect::<Vec<_>>(), expected);
    // The paper's file has two empty rho fields (TIM_THEMA, 3B, fold 1).
    let tim = rows.iter().find(|r| r.dataset == "TIM_THEMA").ok_or("no TIM_THEMA row")?;
    assert!(tim.rho_train.is_nan() && tim.rho_test.is_nan());
    assert_eq!(tim.r2_train, -6.661338147750939e-16);
    Ok(())
}

#[test]
fn summaries_match_hand_computed_mean_and_sample_sd() -> TestResult {
    let summaries = summarize(&read_results_csv(fixture())?);
    let order: Vec<(&str, &str, usize)> =
        summaries.iter().map(|s| (&s.dataset[..4], s.model.as_str(), s.folds)).collect();
    assert_eq!(
        order,
        [
            ("TIM_", "esm2_t36_3B_UR50D", 1),
            ("YAP1", "esm2_t6_8M_UR50D", 5),
            ("YAP1", "amplify_120M", 1),
            ("YAP1", "esmc_300M", 1),
            ("YAP1", "esm1v", 2),
            ("YAP1", "esm2_t33_650M_UR50D", 5),
            ("YAP1", "esm2_t48_15B_UR50D", 5),
        ]
    );
    // statistics.mean / statistics.stdev of the fixture's R2_score_test and rho_score_test columns.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-14;
    let s8 = &summaries[1];
    assert!(close(s8.r2_test_mean, 0.35484824121320335), "{}", s8.r2_test_mean);
    assert!(close(s8.r2_test_sd, 0.11982399220991927), "{}", s8.r2_test_sd);
    assert!(close(s8.rho_test_mean, 0.6334004272456907), "{}", s8.rho_test_mean);
    let s650 = &summaries[5];
    assert!(close(s650.r2_test_mean, 0.41263801481831397) && close(s650.r2_test_sd, 0.06802113093670951));
    let s15b = &summaries[6];
    assert!(close(s15b.r2_test_mean, 0.48374795729712233) && close(s15b.r2_test_sd, 0.07506541297658577));
    // One fold: no sd (pandas gives NaN with ddof=1); all-NaN rho: NaN mean.
    let esm1v = &summaries[4];
    assert!(close(esm1v.r2_test_mean, 0.5619953020291713) && close(esm1v.r2_test_sd, 0.15472426904601477));
    assert!(close(esm1v.rho_test_mean, 0.7631587066518575));
    assert!(summaries[0].r2_test_sd.is_nan() && summaries[0].rho_test_mean.is_nan());
    assert!(summarize(&[]).is_empty());
    Ok(())
}

#[test]
fn summary_table_and_csv() -> TestResult {
    let summaries = summarize(&read_results_csv(fixture())?);
    let table = summary_table(&summaries);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2 + summaries.len());
    assert!(lines[0].starts_with("dataset") && lines[0].ends_with("R² test (mean ± sd)"), "{}", lines[0]);
    assert!(lines[3].contains("YAP1_HUMAN_Fields2012_singles") && lines[3].contains("0.355 ± 0.120"), "{table}");
    assert!(lines[2].ends_with(" 0.000 ± n/a"), "one fold has no sd, -0.00003 is not -0.000: {}", lines[2]);
    let bar = |l: &str| l.chars().position(|c| c == '|');
    assert!(lines.iter().filter(|l| !l.starts_with('-')).all(|l| bar(l) == bar(lines[0])), "aligned:\n{table}");
    assert_eq!(summary_table(&[]).lines().count(), 2);

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("summary.csv");
    write_summary_csv(&summaries, &path)?;
    let text = std::fs::read_to_string(&path)?;
    assert_eq!(text.lines().next(), Some("dataset,model,compression,folds,r2_test_mean,r2_test_sd,rho_test_mean"));
    assert_eq!(text.lines().count(), 1 + summaries.len());
    Ok(())
}

#[test]
fn errors_name_the_file_and_line() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let header = RESULTS_COLUMNS.join(",");
    let good = "m,1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,3,mean,d,,m";
    let bad = "m,2,0.1,0.1,0.1,zero,0.1,0.1,0.1,0.1,3,mean,d,,m";
    let path = dir.join("bad.csv");
    std::fs::write(&path, format!("{header}\n{good}\n{bad}\n"))?;
    let error = read_results_csv(&path).map(|_| ()).unwrap_err();
    assert!(matches!(error, Error::Value { line: 3, column: "R2_score_test", .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("bad.csv:3:") && message.contains("R2_score_test") && message.contains("\"zero\""),
        "{message}"
    );

    std::fs::write(&path, format!("{header}\n{good}\nm,3,0.1\n"))?;
    let message = read_results_csv(&path).map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("bad.csv:3:"), "{message}");

    std::fs::write(&path, "Model,Fold\nm,1\n")?;
    let message = read_results_csv(&path).map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("bad.csv:1: missing column \"R2_score_train\""), "{message}");

    let missing = dir.join("nope/results.csv");
    let message = read_results_csv(&missing).map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("nope/results.csv"), "{message}");
    let message = write_results_csv(&[], &missing).unwrap_err().to_string();
    assert!(message.contains("nope/results.csv"), "{message}");
    Ok(())
}
