//! What every process of a cluster must agree on: esmdb's settings extension, its functions and its
//! codecs. The scheduler re-plans each query with a fresh session built from the query's settings,
//! and an executor resolves every function of a task by name, so all three carry the same lists.
use std::sync::Arc;

use ballista_core::ConfigProducer;
use ballista_core::extension::{
    SessionConfigExt, ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_scheduler::SessionBuilder;
use esmdb_sql::EngineConfig;
use esmdb_sql::datafusion::error::Result;
use esmdb_sql::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use esmdb_sql::datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use esmdb_sql::datafusion::prelude::SessionConfig;
use esmdb_sql::udf;

use crate::codec::{EsmdbLogicalCodec, EsmdbPhysicalCodec};
use crate::plan_fix::AsyncAggregateSchema;

/// The base settings of a scheduler's or executor's sessions: Ballista's, plus esmdb's extension —
/// without it Ballista drops every `esmdb.*` setting a query carries (it logs and goes on).
pub fn config_producer() -> ConfigProducer {
    Arc::new(|| {
        let engine = EngineConfig::default();
        SessionConfig::new_with_ballista()
            .with_information_schema(true)
            .with_default_catalog_and_schema("esmdb", "public")
            .with_create_default_catalog_and_schema(true)
            .with_option_extension(engine)
            .with_ballista_logical_extension_codec(Arc::new(EsmdbLogicalCodec::default()))
            .with_ballista_physical_extension_codec(Arc::new(EsmdbPhysicalCodec::default()))
    })
}

/// A session state for one query on the scheduler, its esmdb functions typed with the query's own
/// `esmdb.*` settings (the default model decides `esm2_embed`'s width).
pub fn session_state(config: SessionConfig) -> Result<SessionState> {
    let engine = EngineConfig::from_config(config.options());
    let mut scalars = ballista_scalar_functions();
    scalars.extend(udf::scalar_udfs(&engine).into_iter().map(Arc::new));
    let mut aggregates = ballista_aggregate_functions();
    aggregates.extend(udf::aggregate_udfs().into_iter().map(Arc::new));
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(Arc::new(RuntimeEnvBuilder::new().build()?))
        // These replace the default lists: DataFusion's own functions are in them.
        .with_scalar_functions(scalars)
        .with_aggregate_functions(aggregates)
        .with_window_functions(ballista_window_functions())
        .with_physical_optimizer_rule(Arc::new(AsyncAggregateSchema))
        .build())
}

/// [`session_state`] as the scheduler's session builder.
pub fn session_builder() -> SessionBuilder {
    Arc::new(session_state)
}

/// Sequences per embedding-cache commit on a cluster, unless a session sets `esmdb.commit_every`
/// itself. Commits to one table are serialized (each rebases on the last), so the cluster's cache
/// fill is bounded by commits per second × this: a keyed-merge commit took 83 ms on S3 (moto) and
/// 12 ms on local disk here (`benches/cluster_bench.py`), so 8192 keeps the bound above 100 GPU
/// executors embedding 500 sequences/s each (8192 / 0.083 s ≈ 99,000 sequences/s).
pub const CLUSTER_COMMIT_EVERY: usize = 8192;

/// An executor's functions: DataFusion's and esmdb's. esmdb's functions read the task's own settings
/// (model, layer, store, commit size) when they run; what the instances carry is how many rows
/// DataFusion hands each call ([`CLUSTER_COMMIT_EVERY`]: one call, one commit).
pub fn function_registry() -> Result<BallistaFunctionRegistry> {
    let engine = EngineConfig { commit_every: CLUSTER_COMMIT_EVERY, ..EngineConfig::default() };
    let state = session_state(config_producer()().with_option_extension(engine))?;
    Ok(BallistaFunctionRegistry::from(&state))
}
