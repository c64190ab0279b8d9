//! The shippable scan of a store table (`StoreTable` / `StoreScanExec`, what a cluster runs): a
//! fragment cut into many parts, read with and without filters, gives exactly the rows the local
//! Lance provider gives — each row once, none lost to a part's range.
use crate::common;

use datafusion::arrow::util::pretty::pretty_format_batches;
use esmdb_sql::{EngineConfig, Session};

async fn rows(session: &Session, sql: &str) -> String {
    let batches = session.sql(sql).await.expect(sql).collect().await.expect(sql);
    pretty_format_batches(&batches).expect("format").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_scans_of_many_parts_read_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let local = common::session_with_yap1(dir.path()).await;
    // commit_every = 16: the 362 variants (one fragment) are read in parts of one commit, 23 parts.
    let config = EngineConfig { commit_every: 16, ..local.config() };
    let shipped = Session::open_distributed(config, Ok).await.unwrap();
    let plan = rows(&shipped, "EXPLAIN SELECT id FROM variants WHERE input_row % 3 = 0").await;
    assert!(plan.contains("StoreScanExec") && plan.contains("23 parts"), "{plan}");
    for sql in [
        "SELECT count(*) AS n FROM variants",
        "SELECT count(*) AS n FROM variants WHERE input_row % 3 = 0",
        "SELECT id, target FROM variants WHERE input_row % 7 = 1 AND target > 0 ORDER BY id",
        "SELECT min(input_row) AS lo, max(input_row) AS hi, count(*) AS n FROM variants WHERE input_row >= 300",
        "SELECT id FROM variants WHERE id IN ('YAP1_D170C', 'YAP1_D170G', 'nope') ORDER BY id",
    ] {
        assert_eq!(rows(&shipped, sql).await, rows(&local, sql).await, "{sql}");
    }
    assert!(rows(&shipped, "SELECT count(*) AS n FROM variants WHERE input_row % 3 = 0").await.contains("121"));
}
