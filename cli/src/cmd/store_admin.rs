//! `esmdb versions` and `esmdb compact`: looking at and tidying the store's Lance tables.
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use esmdb_store::{CompactParams, Store};

use crate::args::{CompactArgs, StoreArgs, VersionsArgs};

/// A runtime for the store's async API; the CLI itself is synchronous.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Opens an existing store.
pub async fn open(args: &StoreArgs) -> anyhow::Result<Store> {
    Ok(Store::open(&args.store).await?)
}

/// `esmdb versions [TABLE]`: one line per version (table, version, time, rows, latest).
pub fn versions(args: VersionsArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open(&args.store).await?;
        let tables = match &args.table {
            Some(t) => vec![t.clone()],
            None => store.tables().await?,
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "table\tversion\tcommitted_at_utc\trows\tlatest")?;
        for table in tables {
            let versions = store.versions(&table).await?;
            if versions.is_empty() {
                anyhow::bail!("table `{table}` does not exist in {}", store.uri());
            }
            for v in versions {
                let rows = v.rows.map_or_else(|| "?".into(), |r| r.to_string());
                let latest = if v.latest { "*" } else { "" };
                writeln!(out, "{}\t{}\t{}\t{rows}\t{latest}", v.table, v.version, format_micros(v.timestamp_micros))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `esmdb compact`: compacts every table and keeps the last `--retain-versions` versions.
pub fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open(&args.store).await?;
        let params = CompactParams { retain_versions: args.retain_versions, ..Default::default() };
        for r in store.compact(&params).await? {
            eprintln!(
                "esmdb: {}: fragments {} → {}, removed {} old versions ({} bytes)",
                r.table, r.fragments_before, r.fragments_after, r.versions_removed, r.bytes_removed
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC) from µs since the epoch, as Lance records commit times.
fn format_micros(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("{us} µs after 1970-01-01 (out of range)"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_micros() {
        assert_eq!(super::format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(super::format_micros(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
    }
}
