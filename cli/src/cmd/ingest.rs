//! `esmdb ingest --dataset NAME FILE...`: validated variants into the store, one commit.
use std::process::ExitCode;

use esmdb_store::{ColumnMap, IngestParams, ReadParams, Store};

use crate::args::IngestArgs;

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let format = args.format.as_deref().map(str::parse).transpose()?;
    let named = args.id_col.is_some() || args.sequence_col.is_some() || args.target_col.is_some();
    let columns = named.then(|| {
        let d = ColumnMap::default();
        ColumnMap {
            id: args.id_col.clone().unwrap_or(d.id),
            sequence: args.sequence_col.clone().unwrap_or(d.sequence),
            target: args.target_col.clone(),
            mutant: d.mutant,
        }
    });
    let params = IngestParams { read: ReadParams { format, columns }, replace: args.replace };
    super::store_admin::runtime()?.block_on(async {
        let store = Store::open_or_create(&args.store.store).await?;
        let started = std::time::Instant::now();
        let r = store.ingest(&args.dataset, &args.files, &params).await?;
        let secs = started.elapsed().as_secs_f64();
        let version = r.version.map_or_else(|| "nothing to write".to_owned(), |v| format!("variants version {v}"));
        eprintln!(
            "esmdb: ingested `{}`: {} rows read, {} added, {} replaced, {} unchanged; {} variants in total ({version}) in {:.2}s ({:.0} rows/s)",
            r.dataset,
            r.input_rows,
            r.added,
            r.replaced,
            r.unchanged,
            r.total_rows,
            secs,
            r.input_rows as f64 / secs.max(1e-9),
        );
        Ok(ExitCode::SUCCESS)
    })
}
