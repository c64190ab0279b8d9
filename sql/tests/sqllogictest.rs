//! Runs every `tests/slt/*.slt` file (DataFusion's sqllogictest format) against a fresh store with
//! the YAP1 fixture and a seeded random-weight ESM2-8M as the default model.
use crate::common;

use std::path::PathBuf;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use esmdb_sql::Session;
use esmdb_sql::datafusion::arrow;
use esmdb_sql::datafusion::common::internal_datafusion_err;
use esmdb_sql::datafusion::error::DataFusionError;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Db {
    session: Session,
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let Some(df) = self.session.run_script(sql).await? else { return Ok(DBOutput::StatementComplete(0)) };
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await?;
        if schema.fields().is_empty() || sql.trim_start().to_ascii_uppercase().starts_with("SET ") {
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for r in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(r).to_string()).collect());
            }
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                t if t.is_integer() => DefaultColumnType::Integer,
                t if t.is_floating() => DefaultColumnType::FloatingPoint,
                arrow::datatypes::DataType::Utf8 | arrow::datatypes::DataType::Utf8View => DefaultColumnType::Text,
                _ => DefaultColumnType::Any,
            })
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "esmdb"
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let files = slt_files();
    assert!(files.len() >= 4, "expected the .slt files, found {files:?}");
    let mut failures = Vec::new();
    for file in files {
        let dir = tempfile::tempdir().expect("temp dir");
        let session = common::session_with_yap1(dir.path()).await;
        let mut slot = Some(Db { session });
        let mut runner = sqllogictest::Runner::new(move || {
            let db = slot.take();
            async move { db.ok_or_else(|| internal_datafusion_err!("one connection per file")) }
        });
        runner.set_var("MODEL".into(), common::model_path());
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "sqllogictest failures:\n{}", failures.join("\n\n"));
}
