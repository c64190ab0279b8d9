//! Hostile input to esmdb's SQL functions. No function panics, whatever it is given: random
//! per-token matrices and feature vectors (zero rows, zero-width and ragged vectors, NULL rows,
//! NULL tokens, NULL items, NaN and ±inf, Float32/Float64, List/LargeList/FixedSizeList), random
//! constants (0, negative, i64::MAX, huge products, NULL, floats, strings, a column where a
//! constant is required) and option strings. Each statement must end in a result or an error.
//!
//! Statements run through a plain `SessionContext` with esmdb's functions over an in-memory table,
//! so planning (result typing) and execution are both exercised. A panic hook records every panic,
//! including one that DataFusion would turn into an error on another thread. `esm2_embed` needs a
//! model and is covered by `slt/errors.slt` instead. `HOSTILE_DEBUG=1` prints every statement and
//! its outcome (to see what the strategies reach).
//!
//! Also: errors keep their cause (a typed error reaches the caller inside DataFusion's error and
//! prints once), and deeply nested statements do not overflow the stack.
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, Float64Array, Float64Builder, Int64Array, ListBuilder, RecordBatch, StringArray};
use arrow::compute::CastOptions;
use arrow::datatypes::{DataType, Field};
use esmdb_sql::EngineConfig;
use esmdb_sql::datafusion::arrow;
use esmdb_sql::datafusion::datasource::MemTable;
use esmdb_sql::datafusion::error::DataFusionError;
use esmdb_sql::datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Panics seen by the hook since the last [`take_panics`].
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut p) = PANICS.lock() {
            p.push(info.to_string());
        }
        default(info);
    }));
}

fn take_panics() -> Vec<String> {
    PANICS.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default()
}

/// A feature value: ordinary, or (in hostile input) sometimes extreme or NULL.
fn value(hostile: bool) -> BoxedStrategy<Option<f64>> {
    let ordinary = (-10.0f64..10.0).prop_map(Some);
    if !hostile {
        return ordinary.boxed();
    }
    prop_oneof![
        30 => ordinary,
        1 => prop::sample::select(vec![0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -3.5e38, 1e-310])
            .prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

type Vector = Option<Vec<Option<f64>>>;

/// A vector of `width` values; in hostile input sometimes of another width, or NULL.
fn vector(width: usize, hostile: bool) -> BoxedStrategy<Vector> {
    let exact = prop::collection::vec(value(hostile), width).prop_map(Some);
    if !hostile {
        return exact.boxed();
    }
    prop_oneof![
        30 => exact,
        1 => prop::collection::vec(value(hostile), 0..5).prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// How a column of vectors is typed.
#[derive(Debug, Clone, Copy)]
struct Layout {
    f32: bool,
    large: bool,
    fixed: bool,
}

fn layout() -> impl Strategy<Value = Layout> {
    (any::<bool>(), prop::bool::weighted(0.2), prop::bool::weighted(0.3)).prop_map(|(f32, large, fixed)| Layout {
        f32,
        large,
        fixed,
    })
}

fn item(t: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", t, true))
}

/// The vector type of `layout` at `width`.
fn vector_type(layout: Layout, width: usize) -> DataType {
    let f = item(if layout.f32 { DataType::Float32 } else { DataType::Float64 });
    match (layout.fixed, layout.large) {
        (true, _) => DataType::FixedSizeList(f, i32::try_from(width).unwrap_or(0)),
        (false, true) => DataType::LargeList(f),
        (false, false) => DataType::List(f),
    }
}

/// `array` cast to `to`, or unchanged where Arrow cannot (a ragged list as FixedSizeList: the
/// unsafe cast refuses it, where the safe one would turn the ragged rows into NULLs; a cast to
/// width 0 loses the row count).
fn cast_or_keep(array: ArrayRef, to: &DataType) -> ArrayRef {
    let options = CastOptions { safe: false, ..CastOptions::default() };
    match arrow::compute::cast_with_options(&array, to, &options) {
        Ok(cast) if cast.len() == array.len() => cast,
        _ => array,
    }
}

fn push_vector(b: &mut ListBuilder<Float64Builder>, v: &Vector) {
    match v {
        Some(items) => {
            for x in items {
                b.values().append_option(*x);
            }
            b.append(true);
        }
        None => b.append(false),
    }
}

fn vectors_array(rows: &[Vector], layout: Layout, width: usize) -> ArrayRef {
    let mut b = ListBuilder::new(Float64Builder::new());
    for r in rows {
        push_vector(&mut b, r);
    }
    cast_or_keep(Arc::new(b.finish()), &vector_type(layout, width))
}

type Matrix = Option<Vec<Vector>>;

fn matrices_array(rows: &[Matrix], layout: Layout, width: usize, large_outer: bool) -> ArrayRef {
    let mut b = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
    for m in rows {
        match m {
            Some(tokens) => {
                for t in tokens {
                    push_vector(b.values(), t);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    let inner = item(vector_type(layout, width));
    let to = if large_outer { DataType::LargeList(inner) } else { DataType::List(inner) };
    cast_or_keep(Arc::new(b.finish()), &to)
}

/// A constant argument as written in SQL: an integer literal (often hostile), NULL, a float, a
/// string, or the column `k` (not a constant).
fn constant() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0i64..6).prop_map(|v| v.to_string()),
        6 => prop::sample::select(vec![
            i64::MIN, -1, 0, 1 << 11, 1 << 13, 1 << 31, 1 << 40, i64::MAX
        ]).prop_map(|v| v.to_string()),
        1 => Just("-9223372036854775808".to_owned()),
        1 => Just("18446744073709551615".to_owned()),
        1 => Just("NULL".to_owned()),
        1 => Just("2.5".to_owned()),
        1 => Just("'2'".to_owned()),
        1 => Just("k".to_owned()),
    ]
}

/// The per-token matrix table `t(m, k)`.
#[derive(Debug, Clone)]
struct Matrices {
    rows: Vec<Matrix>,
    layout: Layout,
    width: usize,
    large_outer: bool,
}

fn matrices() -> impl Strategy<Value = Matrices> {
    (0usize..5, layout(), prop::bool::weighted(0.2), any::<bool>()).prop_flat_map(
        |(width, layout, large_outer, hostile)| {
            let matrix = prop_oneof![
                8 => prop::collection::vec(vector(width, hostile), 0..7).prop_map(Some),
                1 => Just(None),
            ];
            prop::collection::vec(matrix, 0..5).prop_map(move |rows| Matrices { rows, layout, width, large_outer })
        },
    )
}

/// Runs `sql` over `t` and fails the case on a panic (raised here or recorded by the hook) or on
/// an internal error (a bug, not an answer to the input).
fn check(
    ctx: &SessionContext,
    rt: &tokio::runtime::Runtime,
    batch: RecordBatch,
    sql: &str,
) -> Result<(), TestCaseError> {
    take_panics();
    let _ = ctx.deregister_table("t");
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])
        .map_err(|e| TestCaseError::fail(format!("test table: {e}")))?;
    ctx.register_table("t", Arc::new(table)).map_err(|e| TestCaseError::fail(format!("register: {e}")))?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { ctx.sql(sql).await?.collect().await })
    }));
    let panics = take_panics();
    match outcome {
        Err(_) => Err(TestCaseError::fail(format!("`{sql}` panicked: {panics:?}"))),
        Ok(_) if !panics.is_empty() => Err(TestCaseError::fail(format!("`{sql}` panicked inside: {panics:?}"))),
        Ok(Err(e)) if is_internal(&e) => Err(TestCaseError::fail(format!("`{sql}` failed internally: {e}"))),
        Ok(r) if std::env::var_os("HOSTILE_DEBUG").is_some() => {
            let outcome = match r {
                Ok(b) => format!("{} rows", b.iter().map(RecordBatch::num_rows).sum::<usize>()),
                Err(e) => e.to_string(),
            };
            eprintln!("HOSTILE {sql} => {outcome}");
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

fn is_internal(e: &DataFusionError) -> bool {
    let text = e.to_string();
    matches!(e.find_root(), DataFusionError::Internal(_)) || text.contains("panicked")
}

fn matrix_batch(t: &Matrices, k: i64) -> RecordBatch {
    let m = matrices_array(&t.rows, t.layout, t.width, t.large_outer);
    let k: ArrayRef = Arc::new(Int64Array::from(vec![k; t.rows.len()]));
    RecordBatch::try_from_iter([("m", m), ("k", k)]).unwrap_or_else(|e| panic!("test batch: {e}"))
}

/// The rows of a lasso table `t(x, y, g, i, mutant, c, b, s)`.
#[derive(Debug, Clone)]
struct Regression {
    x: Vec<Vector>,
    y: Vec<Option<f64>>,
    groups: Vec<i64>,
    mutants: Vec<Option<String>>,
    coef: Vec<Vector>,
    intercept: Vec<Option<f64>>,
    layout: Layout,
    width: usize,
}

fn regression() -> impl Strategy<Value = Regression> {
    let rows = prop_oneof![1 => 0usize..6, 3 => 6usize..30];
    (0usize..5, rows, layout(), any::<bool>()).prop_flat_map(|(width, n, layout, hostile)| {
        let mutant = prop_oneof![
            6 => (1i64..8).prop_map(|p| Some(format!("A{p}C"))),
            1 => prop::sample::select(vec!["", "A", "A0C", "A-5C", "é1B", "A+3C", "AxC", "A99999999999999999999C", "M12G:K15R"])
                .prop_map(|s| Some(s.to_owned())),
            1 => Just(None),
        ];
        (
            prop::collection::vec(vector(width, hostile), n),
            prop::collection::vec(value(hostile), n),
            prop::collection::vec(0i64..2, n),
            prop::collection::vec(mutant, n),
            prop::collection::vec(vector(width, hostile), n),
            prop::collection::vec(value(hostile), n),
        )
            .prop_map(move |(x, y, groups, mutants, coef, intercept)| Regression {
                x,
                y,
                groups,
                mutants,
                coef,
                intercept,
                layout,
                width,
            })
    })
}

fn regression_batch(r: &Regression) -> RecordBatch {
    let n = r.x.len();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("x", vectors_array(&r.x, r.layout, r.width)),
        ("y", Arc::new(Float64Array::from(r.y.clone()))),
        ("g", Arc::new(Int64Array::from(r.groups.clone()))),
        ("i", Arc::new(Int64Array::from_iter_values(0..n as i64))),
        ("mutant", Arc::new(r.mutants.iter().map(Option::as_deref).collect::<StringArray>())),
        ("c", vectors_array(&r.coef, Layout { f32: false, large: false, fixed: false }, r.width)),
        ("b", Arc::new(Float64Array::from(r.intercept.clone()))),
        ("s", Arc::new(StringArray::from(vec!["a"; n]))),
    ];
    RecordBatch::try_from_iter(columns).unwrap_or_else(|e| panic!("test batch: {e}"))
}

/// Option strings that fit quickly on the small tables here.
const GOOD_OPTIONS: &[&str] = &[
    "",
    "folds=2, cv=2, n_alphas=5",
    "folds=3, cv=2",
    "scheme=modulo, folds=2, cv=2, n_alphas=5",
    "scheme=contiguous, folds=2, cv=2",
    "model=ols, folds=2, cv=2",
    "model=ridge, folds=2, ridge_alpha=0",
    "scale=inside, folds=2, cv=2, n_alphas=3",
    "scale=none, folds=2, cv=2, eps=1e-300, n_alphas=3",
    "preset=readme, n_alphas=4, folds=2, cv=2",
    "threads=18446744073709551615, folds=2, cv=2, n_alphas=3",
    "tol=1e300, max_iter=1, folds=2, cv=2",
];

/// Option strings that must be refused (or, for huge sizes, refused before anything is sized by
/// them).
const BAD_OPTIONS: &[&str] = &[
    "scheme=contiguous, folds=2, span=18446744073709551615",
    "n_alphas=18446744073709551615",
    "n_alphas=0",
    "max_iter=18446744073709551615, tol=0",
    "folds=18446744073709551615, scheme=modulo",
    "folds=1000000, scheme=contiguous",
    "cv=18446744073709551615",
    "folds=0",
    "folds",
    "tol=-1",
    "eps=0",
    "seed=-1",
    "scheme=spiral",
    "bogus=1",
    "folds=2, folds=3",
    ",,;;",
];

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// One property per function family; all run here, one after another, so the panic hook's record
/// belongs to the case being run.
#[test]
fn no_sql_function_panics() {
    install_panic_hook();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    esmdb_sql::udf::register(&ctx, &EngineConfig::default()).expect("register");
    let mut failures = Vec::new();

    let compress =
        (matrices(), prop::sample::select(vec!["compress_mean", "compress_max", "compress_bos"]), any::<bool>());
    let r = runner(256).run(&compress, |(t, f, null)| {
        let arg = if null { "NULL" } else { "m" };
        check(&ctx, &rt, matrix_batch(&t, 1), &format!("SELECT {f}({arg}) FROM t"))
    });
    failures.extend(r.err().map(|e| format!("compress_mean/max/bos: {e}")));

    let idct = (matrices(), constant(), constant(), 0i64..4, any::<bool>());
    let r = runner(256).run(&idct, |(t, n, m, k, null)| {
        let arg = if null { "NULL" } else { "m" };
        check(&ctx, &rt, matrix_batch(&t, k), &format!("SELECT compress_idct({arg}, {n}, {m}) FROM t"))
    });
    failures.extend(r.err().map(|e| format!("compress_idct: {e}")));

    let pca = (matrices(), constant(), 0i64..4, any::<bool>());
    let r = runner(256).run(&pca, |(t, k, kv, null)| {
        let arg = if null { "NULL" } else { "m" };
        check(&ctx, &rt, matrix_batch(&t, kv), &format!("SELECT compress_pca({arg}, {k}) FROM t"))
    });
    failures.extend(r.err().map(|e| format!("compress_pca: {e}")));

    let letters: Vec<char> = "ACDEFGHIKLMNPQRSTVWYacd-XZ*é1 ".chars().collect();
    let text = prop_oneof![
        8 => prop::collection::vec(prop::sample::select(letters), 0..12).prop_map(|c| Some(c.into_iter().collect::<String>())),
        1 => Just(None),
    ];
    let onehot = (prop::collection::vec(text, 0..6), prop::sample::select(vec!["Utf8", "LargeUtf8", "Utf8View"]));
    let r = runner(256).run(&onehot, |(rows, t)| {
        let s: ArrayRef = Arc::new(rows.iter().map(Option::as_deref).collect::<StringArray>());
        let batch = RecordBatch::try_from_iter([("s", s)]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&ctx, &rt, batch, &format!("SELECT onehot(arrow_cast(s, '{t}')) FROM t"))
    });
    failures.extend(r.err().map(|e| format!("onehot: {e}")));

    let predict = (
        regression(),
        prop::sample::select(vec![
            "lasso_predict(named_struct('coef', c, 'intercept', b), x)",
            "lasso_predict(named_struct('coef', c, 'intercept', s), x)",
            "lasso_predict(named_struct('coef', s, 'intercept', b), x)",
            "lasso_predict(named_struct('coef', x, 'intercept', y), c)",
            "lasso_predict(NULL, x)",
            "lasso_predict(named_struct('coef', c, 'intercept', b), NULL)",
        ]),
    );
    let r =
        runner(256).run(&predict, |(r, call)| check(&ctx, &rt, regression_batch(&r), &format!("SELECT {call} FROM t")));
    failures.extend(r.err().map(|e| format!("lasso_predict: {e}")));

    let lasso = (
        regression(),
        prop_oneof![3 => prop::sample::select(GOOD_OPTIONS), 1 => prop::sample::select(BAD_OPTIONS)],
        prop_oneof![
            3 => prop::sample::select(vec![
                "lasso_cv(x, y, '{o}' ORDER BY i)",
                "lasso_cv_eval(x, y, '{o}', mutant ORDER BY i)",
                "lasso_cv_eval(x, y, '{o}')",
            ]),
            1 => prop::sample::select(vec![
                "lasso_cv_eval(x, i, '{o}', mutant) FILTER (WHERE g = 0)",
                "lasso_cv(x, y, mutant)",
                "lasso_cv_eval(x, y, s, s)",
            ]),
        ],
        any::<bool>(),
    );
    let r = runner(256).run(&lasso, |(r, options, call, grouped)| {
        let call = call.replace("{o}", options);
        let sql = if grouped { format!("SELECT g, {call} FROM t GROUP BY g") } else { format!("SELECT {call} FROM t") };
        check(&ctx, &rt, regression_batch(&r), &sql)
    });
    failures.extend(r.err().map(|e| format!("lasso_cv/lasso_cv_eval: {e}")));

    let features = (
        regression(),
        prop::sample::select(vec![
            "SELECT spearman(y, i) FROM t",
            "SELECT g, spearman(y, b) FROM t GROUP BY g",
            "SELECT spearman(y, NULL) FROM t",
            "SELECT spearman(x, y) FROM t",
            "SELECT spearman(s, y) FROM t",
            "SELECT concat_features(x, y) FROM t",
            "SELECT concat_features(x, y, i, b) FROM t",
            "SELECT concat_features(c, s) FROM t",
            "SELECT concat_features(y, x) FROM t",
            "SELECT concat_features(NULL, y) FROM t",
            "SELECT unnest(lasso_cv_eval(concat_features(x, y), y ORDER BY i)) FROM t",
            // esm_score: hostile sequences and mutants are refused (naming the row) before any model
            // is loaded; the default model is not on this machine, so a valid row fails naming it.
            "SELECT esm_score(s, mutant) FROM t",
            "SELECT esm_score(mutant, s, 'wt-marginals') FROM t",
            "SELECT esm_score(s, s, 'masked-marginals', 'no/such/model') FROM t",
            "SELECT esm_score('MKT', s) FROM t",
            "SELECT esm_score('MKT', mutant, s) FROM t",
            "SELECT esm_score(x, y) FROM t",
            "SELECT esm_score(s, mutant, 'wt-marginals', 'esm2_t6_8M_UR50D', i) FROM t",
        ]),
    );
    let r = runner(256).run(&features, |(r, sql)| check(&ctx, &rt, regression_batch(&r), sql));
    failures.extend(r.err().map(|e| format!("spearman/concat_features/esm_score: {e}")));

    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The test's own machinery: arrays of each layout come out as typed, so the properties above do
/// exercise LargeList, FixedSizeList and Float32 input.
#[test]
fn layouts_build_the_types_asked_for() {
    let rows: Vec<Matrix> = vec![Some(vec![Some(vec![Some(1.0), None]), Some(vec![Some(2.0), Some(3.0)])]), None];
    let fixed = matrices_array(&rows, Layout { f32: true, large: false, fixed: true }, 2, true);
    assert_eq!(fixed.data_type().to_string(), "LargeList(FixedSizeList(2 x Float32))");
    assert_eq!(fixed.null_count(), 1);
    let ragged: Vec<Vector> = vec![Some(vec![Some(1.0)]), Some(vec![])];
    let kept = vectors_array(&ragged, Layout { f32: false, large: false, fixed: true }, 1);
    assert_eq!(kept.data_type(), &DataType::List(item(DataType::Float64)));
}

/// `e` and its sources, outermost first.
fn causes<'a>(e: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |c| c.source()).collect()
}

/// The CLI's rendering of an error chain (`esmdb: error: …`): each cause, unless the text so far
/// already ends with it.
fn printed(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[test]
fn errors_keep_their_cause_and_print_once() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let ctx = SessionContext::new();
    esmdb_sql::udf::register(&ctx, &EngineConfig::default()).expect("register");
    let run = |sql: &str| rt.block_on(async { ctx.sql(sql).await?.collect().await }).expect_err("an error");
    let sql = "SELECT lasso_cv_eval(make_array(1.0, 2.0), 1.0, 'bogus=1') FROM (VALUES (1), (2)) AS t(a)";
    let e = run(sql);
    // The typed error is in the chain: DataFusion's External error, the SQL layer's, the solver's.
    let chain = causes(&e);
    let sql_error = chain.iter().find_map(|c| c.downcast_ref::<esmdb_sql::Error>());
    assert!(
        matches!(sql_error, Some(esmdb_sql::Error::Regress { function: "lasso_cv_eval", .. })),
        "{sql_error:?} in {e:?}"
    );
    let regress = chain.iter().find_map(|c| c.downcast_ref::<esmdb_regress::Error>());
    assert!(matches!(regress, Some(esmdb_regress::Error::UnknownOption { key, .. }) if key == "bogus"), "{regress:?}");
    let text = printed(&e);
    assert_eq!(text.matches("unknown option `bogus`").count(), 1, "{text}");
    assert!(text.contains("lasso_cv_eval: unknown option `bogus`; known options:"), "{text}");

    // A wrong argument is a typed error too, found by the function's name.
    let e = run("SELECT compress_idct(make_array(make_array(1.0)), 0, 2)");
    let call = causes(&e).into_iter().find_map(|c| c.downcast_ref::<esmdb_sql::Error>());
    assert!(matches!(call, Some(esmdb_sql::Error::Call { function: "compress_idct", .. })), "{e:?}");
    assert_eq!(printed(&e).matches("n must be a constant integer").count(), 1, "{e}");
}

/// Statements nested deep (a generated `a = 0 OR a = 1 OR …`, a long sum): up to the limit they
/// are planned and run on a test thread's 2 MiB stack; beyond it, even 100,000 levels deep, they
/// are refused with a message. DataFusion recurses per level, and a chain of about 1,200 `+`
/// overflowed the stack, which aborts the process.
#[test]
fn deeply_nested_statements_end_in_a_result_or_an_error() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store").display().to_string();
    let session = rt.block_on(esmdb_sql::Session::open(EngineConfig { store, ..EngineConfig::default() }));
    let session = session.expect("session");
    let or = |n: usize| (0..n).map(|i| format!("a = {i}")).collect::<Vec<_>>().join(" OR ");
    let sum = |n: usize| vec!["a"; n].join(" + ");
    let n = esmdb_sql::MAX_EXPRESSION_DEPTH - 10;
    for sql in [
        format!("SELECT count(*) FROM (VALUES (1), (7)) AS t(a) WHERE {}", or(n)),
        format!("SELECT {} FROM (VALUES (1)) AS t(a)", sum(n)),
    ] {
        let rows = rt.block_on(async { session.sql(&sql).await?.collect().await });
        assert!(rows.is_ok_and(|b| b.iter().map(RecordBatch::num_rows).sum::<usize>() == 1), "{}…", &sql[..60]);
    }
    for sql in [
        format!("SELECT {} FROM (VALUES (1)) AS t(a)", sum(100_000)),
        format!("SELECT 1; EXPLAIN SELECT count(*) FROM (VALUES (1)) AS t(a) WHERE {}", or(600)),
        format!("COPY (SELECT {} FROM (VALUES (1)) AS t(a)) TO '{}/x.csv'", sum(600), dir.path().display()),
    ] {
        let e = rt.block_on(async { session.run_script(&sql).await }).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("expressions nest more than 500 levels deep"), "{}…: {e}", &sql[..40]);
    }
}
