//! `esmdb scheduler` and `esmdb executor`: the two processes of a cluster (see esmdb-cluster).
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use esmdb_cluster::Address;
use esmdb_cluster::executor::ExecutorOptions;
use esmdb_cluster::scheduler::SchedulerOptions;
use esmdb_sql::datafusion::common::config::ExtensionOptions;
use esmdb_sql::progress::{EmbedEvent, ProgressSink, set_progress_sink};

use crate::args::{ExecutorArgs, SchedulerArgs};

pub fn scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    let bind = Address::parse("--bind", &args.bind)?.resolve("--bind")?;
    let flight_sql = match &args.flight_sql {
        Some(a) => {
            let settings = esmdb_sql::EngineConfig { store: args.store.store.clone(), ..Default::default() };
            Some((Address::parse("--flight-sql", a)?.resolve("--flight-sql")?, settings))
        }
        None => None,
    };
    if let Some((addr, settings)) = &flight_sql {
        eprintln!("esmdb scheduler: Flight SQL on {addr}, store {}", settings.store);
    }
    let executor_timeout = Duration::from_secs(args.executor_timeout.max(1));
    let options = SchedulerOptions { bind, executor_timeout, flight_sql };
    eprintln!("esmdb scheduler: listening on {bind}");
    super::store_admin::runtime()?.block_on(esmdb_cluster::scheduler::serve(options))?;
    Ok(ExitCode::SUCCESS)
}

pub fn executor(args: ExecutorArgs) -> anyhow::Result<ExitCode> {
    let scheduler = Address::parse("--scheduler", &args.scheduler)?;
    let bind = Address::parse("--bind", &args.bind)?.resolve("--bind")?;
    // Checked and normalized as `SET esmdb.device` is.
    let device = match &args.device {
        Some(d) => {
            let mut checked = esmdb_sql::EngineConfig::default();
            checked.set("device", d).map_err(|e| anyhow::anyhow!("--device: {e}"))?;
            Some(checked.device)
        }
        None => None,
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = args.threads.unwrap_or(cores);
    if threads == 0 || threads > esmdb_sql::engine::MAX_THREADS {
        anyhow::bail!("--threads {threads}: expected 1 to {}", esmdb_sql::engine::MAX_THREADS);
    }
    esmdb_sql::engine::pin_process(esmdb_sql::engine::ProcessPins { device, threads: Some(threads) });
    set_progress_sink(Some(Arc::new(EmbedLog)));
    // Removed when the executor stops (SIGTERM or Ctrl-C end `serve`).
    let temp;
    let work_dir = match args.work_dir {
        Some(dir) => dir,
        None => {
            temp = tempfile::Builder::new().prefix("esmdb-executor-").tempdir().context("creating a work directory")?;
            temp.path().to_path_buf()
        }
    };
    eprintln!("esmdb executor: scheduler {scheduler}, {threads} threads, work directory {}", work_dir.display());
    let options = ExecutorOptions { scheduler, bind, grpc_port: args.grpc_port, tasks: threads, work_dir };
    super::store_admin::runtime()?.block_on(esmdb_cluster::executor::serve(options))?;
    Ok(ExitCode::SUCCESS)
}

/// One stderr line per finished embedding call (a batch of a task): what this executor embedded
/// and found cached.
struct EmbedLog;

impl ProgressSink for EmbedLog {
    fn embedding(&self, e: &EmbedEvent) {
        if e.embedded == e.misses {
            eprintln!(
                "esmdb executor: {}: {} sequences ({} residues), {} embedded, {} from the cache",
                e.model, e.unique, e.residues, e.embedded, e.hits
            );
        }
    }
}
