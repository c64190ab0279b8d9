//! An executor: asks the scheduler for tasks, runs them with esmdb's functions (models load once
//! per process, the embedding cache is written here) and serves its shuffle output to the others.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

use crate::address::Address;
use crate::client::check_reachable;
use crate::codec::{EsmdbLogicalCodec, EsmdbPhysicalCodec};
use crate::error::{Error, Result};
use crate::functions::{config_producer, function_registry};

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler to poll.
    pub scheduler: Address,
    /// Where the other executors and the client fetch this one's results (port 0: any free port).
    pub bind: SocketAddr,
    /// Port on the same host where the scheduler pushes tasks (0: the next one after `bind`'s, or
    /// any free one when that is 0 too).
    pub grpc_port: u16,
    /// Tasks run at once.
    pub tasks: usize,
    /// Shuffle files.
    pub work_dir: PathBuf,
}

/// Runs an executor until the process is stopped (SIGTERM, Ctrl-C).
pub async fn serve(options: ExecutorOptions) -> Result<()> {
    check_reachable("--scheduler", &options.scheduler).await?;
    // Ballista advertises the ports it is given: a port 0 is resolved to a free one first.
    let bind = free(options.bind)?;
    let grpc = match (options.grpc_port, options.bind.port()) {
        (0, 0) => free(SocketAddr::new(bind.ip(), 0))?,
        (0, p) => free(SocketAddr::new(bind.ip(), p.saturating_add(1)))?,
        (p, _) => free(SocketAddr::new(bind.ip(), p))?,
    };
    std::fs::create_dir_all(&options.work_dir)
        .map_err(|source| Error::WorkDir { path: options.work_dir.clone(), source })?;
    let config = ExecutorProcessConfig {
        bind_host: bind.ip().to_string(),
        external_host: Some(bind.ip().to_string()),
        port: bind.port(),
        grpc_port: grpc.port(),
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        concurrent_tasks: options.tasks.max(1),
        // Pushed tasks, and a heartbeat every few seconds even while every task slot is busy (an
        // executor that polls for work goes silent then, and a long embedding would get it declared
        // dead).
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir: Some(options.work_dir.to_string_lossy().into_owned()),
        executor_heartbeat_interval_seconds: 2,
        // Shuffle files of finished jobs go after an hour.
        job_data_ttl_seconds: 3600,
        job_data_clean_up_interval_seconds: 600,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(function_registry()?)),
        override_config_producer: Some(config_producer()),
        override_logical_codec: Some(Arc::new(EsmdbLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(EsmdbPhysicalCodec::default())),
        ..Default::default()
    };
    tracing::info!("esmdb executor on {bind} (tasks on port {}), scheduler {}", grpc.port(), options.scheduler);
    start_executor_process(Arc::new(config)).await.map_err(|source| Error::Ballista { role: "executor", source })
}

/// `addr` with its port resolved (a free one for 0), checked to be free now.
fn free(addr: SocketAddr) -> Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { role: "executor", address: addr, source })?;
    listener.local_addr().map_err(|source| Error::Bind { role: "executor", address: addr, source })
}
