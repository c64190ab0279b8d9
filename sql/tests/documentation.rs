//! The functions' documentation (`esmdb_sql::udf::doc`): one entry per registered function, each syntax
//! naming its function, and each example a statement that plans over a store.
use crate::common;

use std::collections::BTreeSet;

use esmdb_sql::udf::{self, doc};

#[tokio::test]
async fn every_function_is_documented_and_every_example_plans() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = common::session_with_yap1(dir.path()).await;
    let registered: BTreeSet<String> = udf::scalar_udfs(&session.config())
        .iter()
        .map(|f| f.name().to_owned())
        .chain(udf::aggregate_udfs().iter().map(|f| f.name().to_owned()))
        .collect();
    let documented: BTreeSet<String> = doc::all().map(|(name, _)| name.to_owned()).collect();
    assert_eq!(registered, documented, "registered functions vs documented ones");
    for (name, d) in doc::all() {
        assert!(d.syntax_example.starts_with(&format!("{name}(")), "{name}: syntax `{}`", d.syntax_example);
        let first = d.description.split(". ").next().unwrap_or_default();
        assert!(first.len() <= 200, "{name}: the first sentence is the one-line help; {} chars", first.len());
        let example = d.sql_example.as_deref().unwrap_or_else(|| panic!("{name} has no example"));
        assert!(example.contains(&format!("{name}(")), "{name}: its example does not call it: {example}");
        // The examples name the shipped datasets; planning needs the tables and types, not the rows.
        if let Err(e) = session.run_script(example).await {
            panic!("{name}: its example does not plan: {example}\n{e}");
        }
    }
}

#[test]
fn the_help_lists_every_function_and_one_in_full() {
    let help = doc::help();
    for (name, d) in doc::all() {
        assert!(help.contains(&d.syntax_example), "\\? lacks {name}");
    }
    let one = doc::help_for("LASSO_CV_EVAL").expect("case-insensitive lookup");
    assert!(one.contains("Arguments:") && one.contains("mutant:") && one.contains("Example:"), "{one}");
    assert!(doc::help_for("no_such_function").is_none());
}
