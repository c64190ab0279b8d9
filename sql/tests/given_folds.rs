//! `lasso_cv_eval(…, 'scheme=given', fold)`: the outer folds read from a column, as ProteinGym ships them. On a
//! real assay's fold columns (A0A1I9GEU1_NEIME_Kennouche_2019: 922 variants, regress/tests/fixtures), the given
//! `fold_modulo_5` and `fold_contiguous_5` give exactly the folds of esmdb's own `modulo` and `contiguous` schemes.
use esmdb_sql::datafusion::arrow::util::pretty::pretty_format_batches;
use esmdb_sql::{EngineConfig, Session};

/// Every fold's metrics of `lasso_cv_eval` with `options` and `fourth` over the assay, as text.
async fn folds(session: &Session, options: &str, fourth: &str) -> String {
    // Features and target computed from the mutant (the fixture has no sequences): the wild-type and mutant
    // residues' codes and the position, and a target that depends on them.
    let sql = format!(
        "WITH v AS (SELECT mutant, fold_modulo_5, fold_contiguous_5,
                CAST(substr(mutant, 2, length(mutant) - 2) AS DOUBLE) AS pos,
                CAST(ascii(substr(mutant, 1, 1)) AS DOUBLE) AS wt, CAST(ascii(right(mutant, 1)) AS DOUBLE) AS mt
              FROM assay)
         SELECT unnest(lasso_cv_eval(make_array(wt, mt, pos, wt * mt), (mt * 3 + pos) % 11 + wt / 10,
                                     '{options}', {fourth} ORDER BY mutant)) AS f FROM v"
    );
    let batches = session.sql(&sql).await.expect("plans").collect().await.expect("runs");
    pretty_format_batches(&batches).expect("formats").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_fold_columns_equal_the_position_schemes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store").display().to_string();
    let session = Session::open(EngineConfig { store, ..EngineConfig::default() }).await.expect("session");
    let csv =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../regress/tests/fixtures/A0A1I9GEU1_NEIME_Kennouche_2019_folds.csv");
    session
        .sql(&format!(
            "CREATE EXTERNAL TABLE assay STORED AS CSV LOCATION '{csv}' OPTIONS ('format.has_header' 'true')"
        ))
        .await
        .expect("table")
        .collect()
        .await
        .expect("created");
    for (column, scheme) in [("fold_modulo_5", "modulo"), ("fold_contiguous_5", "contiguous")] {
        let given = folds(&session, "scheme=given, preset=readme", column).await;
        let computed = folds(&session, &format!("scheme={scheme}, preset=readme"), "mutant").await;
        assert_eq!(given, computed, "{column} vs scheme={scheme}");
        assert_eq!(given.matches("{fold: ").count(), 5, "five folds:\n{given}");
    }
    // A mutant where a fold label belongs, and a single label, are errors that say so.
    let err = session
        .sql("SELECT lasso_cv_eval(make_array(1.0, 2.0), 1.0, 'scheme=given', mutant) FROM assay")
        .await
        .expect("plans")
        .collect()
        .await
        .expect_err("a mutant is not a fold label");
    assert!(err.to_string().contains("scheme=given needs an integer fold label"), "{err}");
    let err = session
        .sql("SELECT lasso_cv_eval(make_array(CAST(length(mutant) AS DOUBLE), 2.0), CAST(length(mutant) AS DOUBLE), 'scheme=given', 3) FROM assay")
        .await
        .expect("plans")
        .collect()
        .await
        .expect_err("one fold");
    assert!(err.to_string().contains("cross-validation needs at least 2"), "{err}");
}
