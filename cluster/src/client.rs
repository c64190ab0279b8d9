//! The client side: a [`Session`] whose queries run on the cluster. Statements are parsed and
//! planned here (`SET`, DDL and `information_schema` stay here); each query's plan goes to the
//! scheduler, and its result streams back from the executors.
use std::sync::Arc;
use std::time::Duration;

use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use esmdb_sql::datafusion::execution::session_state::SessionStateBuilder;
use esmdb_sql::{EngineConfig, Session};

use crate::address::Address;
use crate::codec::{EsmdbLogicalCodec, EsmdbPhysicalCodec};
use crate::error::{Error, Result};
use crate::functions::CLUSTER_COMMIT_EVERY;

/// How long a client waits for the scheduler to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A session over `config.store` whose queries run on the cluster of `scheduler`. Fails within
/// [`CONNECT_TIMEOUT`] when nothing answers there. `flag` names where the address came from.
/// The cache commit size is [`CLUSTER_COMMIT_EVERY`] unless `config` sets another than the default.
pub async fn connect(flag: &'static str, scheduler: &Address, mut config: EngineConfig) -> Result<Session> {
    if config.commit_every == EngineConfig::default().commit_every {
        config.commit_every = CLUSTER_COMMIT_EVERY;
    }
    let addr = scheduler.resolve(flag)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => {}
        Ok(Err(source)) => return Err(Error::Unreachable { address: scheduler.to_string(), source }),
        Err(_) => {
            let source = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 5 s");
            return Err(Error::Unreachable { address: scheduler.to_string(), source });
        }
    }
    let url = scheduler.url();
    let session = Session::open_distributed(config, move |state| {
        let config = state
            .config()
            .clone()
            .with_ballista_logical_extension_codec(Arc::new(EsmdbLogicalCodec::default()))
            .with_ballista_physical_extension_codec(Arc::new(EsmdbPhysicalCodec::default()));
        SessionStateBuilder::new_from_existing(state).with_config(config).build().upgrade_for_ballista(url)
    })
    .await?;
    Ok(session)
}
