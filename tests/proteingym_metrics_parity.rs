//! `ndcg`, `top_recall`, `auc`, `mcc` (and `spearman`) against ProteinGym's own scoring code
//! (`performance_DMS_benchmarks.py` of the `proteingym` 1.3 wheel, `tests/python/proteingym_ref.py`) on groups with
//! tied targets, tied scores, constant columns, tiny groups and NULLs, to 1e-9.
use std::collections::BTreeMap;

use anyhow::{Result, bail};
use esmdb_sql::datafusion::arrow::array::{Array, AsArray};
use esmdb_sql::datafusion::arrow::datatypes::Float64Type;
use esmdb_sql::{EngineConfig, Session};
use esmdb_tests::run_python;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A group's rows: (score, target, label); a NULL score or target is `None`.
type Rows = Vec<(Option<f64>, Option<f64>, i32)>;

/// The metrics as SQL computes them, per group, in the reference's key names.
const METRICS: [(&str, &str); 6] = [
    ("ndcg", "ndcg(score, target)"),
    ("top_recall", "top_recall(score, target)"),
    ("top_recall_25", "top_recall(score, target, 25)"),
    ("auc", "auc(score, label)"),
    ("mcc", "mcc(score, label)"),
    ("spearman", "spearman(score, target)"),
];

fn groups() -> BTreeMap<String, Rows> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(29);
    let mut groups = BTreeMap::new();
    let label = |t: f64, cutoff: f64| i32::from(t >= cutoff);
    // Distinct scores; targets on a coarse grid (ties), labelled at a cutoff, as DMS_score_bin is.
    for (g, n) in [("distinct_50", 50), ("distinct_137", 137), ("distinct_1000", 1000)] {
        let rows = (0..n)
            .map(|i| {
                let t = f64::from(rng.random_range(-20..20)) / 4.0;
                (Some(rng.random::<f64>() * 10.0 + f64::from(i) * 1e-6), Some(t), label(t, 0.5))
            })
            .collect();
        groups.insert(g.to_owned(), rows);
    }
    // Tied scores over unequal targets (every order of them enumerable by the reference).
    let mut tied: Rows = (0..40)
        .map(|_| {
            let t = rng.random::<f64>() * 3.0 - 1.0;
            (Some(rng.random::<f64>()), Some(t), label(t, 0.0))
        })
        .collect();
    // Runs of 3, 2 and 3 equal scores above all others: the ties straddle the top decile's cut-off (k = 4).
    for (rows, score) in [(0..3, 5.0), (5..7, 4.0), (9..12, 3.0)] {
        for r in rows {
            tied[r].0 = Some(score);
        }
    }
    tied.shuffle(&mut rng);
    groups.insert("tied_scores".into(), tied);
    // Tied scores of equal gain: duplicated variants (order cannot matter, so ProteinGym's value is defined).
    let base: Rows = (0..30)
        .map(|_| {
            let t = rng.random::<f64>();
            (Some(rng.random::<f64>()), Some(t), label(t, 0.5))
        })
        .collect();
    let mut dup = base.clone();
    dup.extend(base.iter().take(10).cloned());
    groups.insert("duplicates".into(), dup);
    // Constant columns.
    groups.insert("constant_target".into(), (0..25).map(|i| (Some(f64::from(i)), Some(1.5), 1)).collect());
    groups.insert(
        "constant_score".into(),
        (0..25).map(|i| (Some(0.25), Some(f64::from(i % 7)), label(f64::from(i % 7), 3.0))).collect(),
    );
    // Fewer than ten variants (k = 0), and NULLs that the aggregates leave out.
    groups
        .insert("tiny".into(), vec![(Some(0.3), Some(1.0), 1), (Some(0.1), Some(-1.0), 0), (Some(0.2), Some(0.0), 0)]);
    let mut nulls: Rows = (0..30)
        .map(|_| {
            let t = rng.random::<f64>();
            (Some(rng.random::<f64>()), Some(t), label(t, 0.3))
        })
        .collect();
    nulls.push((None, Some(0.9), 1));
    nulls.push((Some(0.9), None, 0));
    groups.insert("nulls".into(), nulls);
    groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_proteingym() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let groups = groups();
    let sql_value = |v: Option<f64>| v.map_or("NULL".to_owned(), |v| format!("{v:e}"));
    let values: Vec<String> = groups
        .iter()
        .flat_map(|(g, rows)| {
            rows.iter().map(move |(s, t, l)| format!("('{g}', {}, {}, {l})", sql_value(*s), sql_value(*t)))
        })
        .collect();
    let store = dir.path().join("store").display().to_string();
    let session = Session::open(EngineConfig { store, ..EngineConfig::default() }).await?;
    let create = format!(
        "CREATE TABLE rows (g VARCHAR, score DOUBLE, target DOUBLE, label INT) AS VALUES {}",
        values.join(", ")
    );
    session.sql(&create).await?.collect().await?;
    let select: Vec<&str> = METRICS.iter().map(|(_, e)| *e).collect();
    let query = format!("SELECT g, {} FROM rows GROUP BY g ORDER BY g", select.join(", "));
    let mut ours: BTreeMap<String, BTreeMap<String, Option<f64>>> = BTreeMap::new();
    for b in session.sql(&query).await?.collect().await? {
        let names = b.column(0).as_string_view();
        for row in 0..b.num_rows() {
            let mut metrics = BTreeMap::new();
            for (c, (key, _)) in METRICS.iter().enumerate() {
                let col = b.column(c + 1).as_primitive::<Float64Type>();
                metrics.insert((*key).to_owned(), col.is_valid(row).then(|| col.value(row)));
            }
            ours.insert(names.value(row).to_owned(), metrics);
        }
    }

    // The reference gets the same rows, NULLs included, and leaves out what each aggregate leaves out.
    let input = dir.path().join("rows.json");
    let output = dir.path().join("metrics.json");
    let json_groups: BTreeMap<&String, &Rows> = groups.iter().collect();
    std::fs::write(&input, serde_json::to_string(&serde_json::json!({ "groups": json_groups }))?)?;
    run_python("proteingym_ref.py", &[input.as_os_str(), output.as_os_str()])?;
    let reference: BTreeMap<String, BTreeMap<String, Option<f64>>> =
        serde_json::from_str(&std::fs::read_to_string(&output)?)?;

    assert_eq!(ours.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>());
    let mut failures = Vec::new();
    for (g, want) in &reference {
        for (key, _) in METRICS {
            // Tied scores of unequal gain: ProteinGym's NDCG follows numpy's unstable argsort; esmdb's is the
            // mean over the tied rows' orders, which the reference enumerates (`ndcg_ties`; in closed form for
            // the constant score's 25! orders).
            let ties = matches!(g.as_str(), "tied_scores" | "constant_score");
            let reference_key = if key == "ndcg" && ties { "ndcg_ties" } else { key };
            let (got, expected) = (ours[g][key], want[reference_key]);
            let equal = match (got, expected) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9,
                (None, None) => true,
                _ => false,
            };
            if !equal {
                failures.push(format!("{g} {key}: esmdb {got:?}, ProteinGym {expected:?}"));
            }
        }
    }
    if !failures.is_empty() {
        bail!("{} metric values differ:\n{}", failures.len(), failures.join("\n"));
    }
    // The cases the groups are there for.
    assert_eq!(reference["constant_target"]["ndcg"], None, "a constant target's NDCG is NaN in ProteinGym");
    assert_eq!(reference["constant_target"]["auc"], None, "one class: no AUC");
    assert_eq!(reference["tiny"]["ndcg"], Some(0.0), "k = 0");
    let tied = &reference["tied_scores"];
    assert!(tied["ndcg_ties"].is_some(), "the tied orders were enumerated");
    assert!(ours.values().filter(|m| m["auc"].is_some()).count() >= 7, "most groups define AUC: {ours:?}");
    Ok(())
}
