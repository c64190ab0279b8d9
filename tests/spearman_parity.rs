//! `spearman(x, y)` against scipy's `spearmanr` on random groups full of ties and NULLs, including
//! groups too small or too flat to define ρ.
use std::collections::BTreeMap;

use anyhow::Result;
use esmdb_sql::datafusion::arrow::array::{Array, AsArray};
use esmdb_sql::datafusion::arrow::compute::cast;
use esmdb_sql::datafusion::arrow::datatypes::{DataType, Float64Type};
use esmdb_sql::{EngineConfig, Session};
use esmdb_tests::run_python;
use rand::{Rng, SeedableRng};

/// Rows of a group: (x, y), either possibly NULL.
type Pairs = Vec<(Option<f64>, Option<f64>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spearman_matches_scipy_with_ties_and_nulls() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    // Group g has 3·g rows with values from a small range (many ties) and ~15% NULLs; the last groups
    // are degenerate: one pair, and a constant y.
    let mut groups: BTreeMap<String, Pairs> = BTreeMap::new();
    for g in 1..=12 {
        let rows = (0..3 * g)
            .map(|_| {
                let v =
                    |rng: &mut rand::rngs::StdRng| (!rng.random_bool(0.15)).then(|| f64::from(rng.random_range(0..6)));
                (v(&mut rng), v(&mut rng))
            })
            .collect();
        groups.insert(format!("g{g:02}"), rows);
    }
    groups.insert("single".into(), vec![(Some(1.0), Some(2.0)), (None, Some(3.0))]);
    groups.insert("flat".into(), vec![(Some(1.0), Some(4.0)), (Some(2.0), Some(4.0)), (Some(3.0), Some(4.0))]);

    let sql_value = |v: Option<f64>| v.map_or("NULL".to_owned(), |v| format!("{v:.1}"));
    let values: Vec<String> = groups
        .iter()
        .flat_map(|(g, rows)| rows.iter().map(move |(x, y)| format!("('{g}', {}, {})", sql_value(*x), sql_value(*y))))
        .collect();
    let store = dir.path().join("store").display().to_string();
    let session = Session::open(EngineConfig { store, ..EngineConfig::default() }).await?;
    let create = format!("CREATE TABLE pairs (g VARCHAR, x DOUBLE, y DOUBLE) AS VALUES {}", values.join(", "));
    session.sql(&create).await?.collect().await?;
    let batches = session.sql("SELECT g, spearman(x, y) FROM pairs GROUP BY g ORDER BY g").await?.collect().await?;
    let mut ours: BTreeMap<String, Option<f64>> = BTreeMap::new();
    for b in &batches {
        let names = cast(b.column(0), &DataType::Utf8)?;
        let names: Vec<String> = names.as_string::<i32>().iter().map(|s| s.unwrap_or_default().to_owned()).collect();
        let rho = b.column(1).as_primitive::<Float64Type>();
        for (i, name) in names.into_iter().enumerate() {
            ours.insert(name, rho.is_valid(i).then(|| rho.value(i)));
        }
    }

    let input = dir.path().join("pairs.json");
    let output = dir.path().join("rho.json");
    let json_groups: BTreeMap<&String, Vec<[Option<f64>; 2]>> =
        groups.iter().map(|(g, rows)| (g, rows.iter().map(|(x, y)| [*x, *y]).collect())).collect();
    std::fs::write(&input, serde_json::to_string(&serde_json::json!({ "groups": json_groups }))?)?;
    run_python("spearman_ref.py", &[input.as_os_str(), output.as_os_str()])?;
    let scipy: BTreeMap<String, Option<f64>> = serde_json::from_str(&std::fs::read_to_string(&output)?)?;

    assert_eq!(ours.len(), scipy.len(), "one row per group: ours {ours:?}, scipy {scipy:?}");
    for (g, want) in &scipy {
        let got = ours.get(g).copied().flatten();
        match (got, want) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-12, "{g}: ours {a}, scipy {b}"),
            (None, None) => {}
            _ => panic!("{g}: ours {got:?}, scipy {want:?}"),
        }
    }
    assert_eq!(scipy["single"], None);
    assert_eq!(scipy["flat"], None);
    assert!(scipy.values().filter(|r| r.is_some()).count() >= 10, "most groups define rho: {scipy:?}");
    Ok(())
}
