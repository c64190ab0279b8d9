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
    check_reachable(flag, scheduler).await?;
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

/// Fails within [`CONNECT_TIMEOUT`], naming the address, unless the scheduler accepts connections.
pub async fn check_reachable(flag: &'static str, scheduler: &Address) -> Result<()> {
    let addr = scheduler.resolve(flag)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(Error::Unreachable { address: scheduler.to_string(), source }),
        Err(_) => {
            let source = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 5 s");
            Err(Error::Unreachable { address: scheduler.to_string(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_unreachable_quickly() -> Result<()> {
        let address = Address { host: "127.0.0.1".into(), port: 0 };
        let listener = std::net::TcpListener::bind(address.resolve("--cluster")?)
            .map_err(|source| Error::Unreachable { address: address.to_string(), source })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        drop(listener);
        let start = std::time::Instant::now();
        let e = check_reachable("--cluster", &Address { host: "127.0.0.1".into(), port }).await;
        assert!(matches!(e, Err(Error::Unreachable { .. })), "{e:?}");
        assert!(start.elapsed() < CONNECT_TIMEOUT);
        Ok(())
    }
}
