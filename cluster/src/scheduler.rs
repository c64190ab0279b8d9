//! The scheduler: receives each query's plan from a client, plans its stages with esmdb's functions
//! and hands tasks to the executors that poll it; optionally an Arrow Flight SQL endpoint beside it.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpc;
use ballista_core::serde::protobuf::{UpdateTaskStatusParams, executor_status};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use esmdb_sql::EngineConfig;

use crate::address::Address;
use crate::client::connect;
use crate::codec::{EsmdbLogicalCodec, EsmdbPhysicalCodec};
use crate::error::{Error, Result};
use crate::flight_sql::{self, EsmdbFlightSql};
use crate::functions::{config_producer, session_builder};

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Where clients and executors reach it.
    pub bind: SocketAddr,
    /// How long an executor may stay silent before it is taken for dead and its tasks are run
    /// elsewhere.
    pub executor_timeout: Duration,
    /// Also serve Arrow Flight SQL here, with queries in a session of these settings.
    pub flight_sql: Option<(SocketAddr, EngineConfig)>,
}

/// Runs a scheduler until the process ends.
pub async fn serve(options: SchedulerOptions) -> Result<()> {
    let bind = options.bind;
    // Bound once here so that a taken port is reported as such, before Ballista starts.
    drop(std::net::TcpListener::bind(bind).map_err(|source| Error::Bind {
        role: "scheduler",
        address: bind,
        source,
    })?);
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        // Tasks pushed to executors, which send heartbeats while they work (see executor.rs).
        scheduling_policy: TaskSchedulingPolicy::PushStaged,
        executor_timeout_seconds: options.executor_timeout.as_secs().max(1),
        expire_dead_executor_interval_seconds: (options.executor_timeout.as_secs() / 3).clamp(1, 15),
        override_config_producer: Some(config_producer()),
        override_session_builder: Some(session_builder()),
        override_logical_codec: Some(Arc::new(EsmdbLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(EsmdbPhysicalCodec::default())),
        ..Default::default()
    };
    let ballista = |source| Error::Ballista { role: "scheduler", source };
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(ballista)?;
    tracing::info!("esmdb scheduler listening on {bind}");
    let server: Server = create_scheduler(cluster, Arc::new(config)).await.map_err(ballista)?;
    let reviver = tokio::spawn(revive_offers(server.clone()));
    let _reviver = AbortOnDrop(reviver);
    let mut scheduler = tokio::spawn(start_grpc_service(bind, server));
    let finished = |r: std::result::Result<ballista_core::error::Result<()>, tokio::task::JoinError>| match r {
        Ok(r) => r.map_err(ballista),
        Err(e) => Err(Error::Serve { role: "scheduler", message: e.to_string() }),
    };
    let Some((flight_bind, settings)) = options.flight_sql else {
        return finished(scheduler.await);
    };
    // The endpoint's session is a client of this scheduler: wait until it answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(bind).await.is_err() {
        if scheduler.is_finished() || tokio::time::Instant::now() > deadline {
            return finished(scheduler.await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let own = Address { host: bind.ip().to_string(), port: bind.port() };
    let session = connect("--bind", &own, settings).await?;
    let flight = flight_sql::serve(flight_bind, EsmdbFlightSql::new(Arc::new(session)));
    tokio::select! {
        r = &mut scheduler => finished(r),
        r = flight => r,
    }
}

type Server = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// Makes the scheduler hand out pending tasks every [`REVIVE_EVERY`] while a job runs. Ballista 54
/// (push mode) hands them out when a job arrives, an executor registers or reports a task, but not
/// after it resets the tasks of an executor it has declared dead: when every survivor was idle by
/// then, the reset tasks waited forever and so did the query. An empty status report in the name of
/// a live executor makes it look again and changes nothing else.
async fn revive_offers(server: Server) {
    loop {
        tokio::time::sleep(REVIVE_EVERY).await;
        if server.running_job_number() == 0 {
            continue;
        }
        let manager = &server.state.executor_manager;
        let Ok(executors) = manager.get_executors_state().await else { continue };
        let alive = executors.into_iter().map(|(metadata, _, _)| metadata.id).find(|id| {
            manager
                .get_executor_hearbeat(id)
                .and_then(|h| h.status)
                .and_then(|s| s.status)
                .is_some_and(|s| matches!(s, executor_status::Status::Active(_)))
        });
        let Some(executor_id) = alive else { continue };
        let ping = UpdateTaskStatusParams { executor_id, task_status: Vec::new() };
        if let Err(e) = server.update_task_status(tonic::Request::new(ping)).await {
            tracing::debug!("reviving offers: {e}");
        }
    }
}

/// How often [`revive_offers`] runs.
const REVIVE_EVERY: Duration = Duration::from_secs(2);

/// Stops a background task when its owner returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
