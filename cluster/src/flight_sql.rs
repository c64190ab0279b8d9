//! An Arrow Flight SQL endpoint for the cluster, so that any Flight SQL client (Python's ADBC
//! driver, JDBC, DBeaver) runs esmdb SQL: `esmdb scheduler --flight-sql HOST:PORT`.
//!
//! Each statement is planned once (esmdb runs `SET` and DDL at planning, which must not happen
//! twice) and kept under a handle until its result is fetched, or, for a prepared statement, until
//! the client closes it. ADBC's DB-API always prepares, so both paths share one store of plans.
//! Queries run on the cluster through one shared [`Session`]: a `SET` from one client is seen by all.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    CommandPreparedStatementQuery, CommandStatementQuery, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{Action, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket};
use esmdb_sql::Session;
use esmdb_sql::datafusion::arrow::datatypes::Schema;
use esmdb_sql::datafusion::arrow::ipc::writer::IpcWriteOptions;
use esmdb_sql::datafusion::dataframe::DataFrame;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::error::{Error, Result};

/// A planned statement and whether it stays after its result is fetched (prepared ones do).
struct Statement {
    frame: DataFrame,
    prepared: bool,
}

/// esmdb's Flight SQL service over one session.
pub struct EsmdbFlightSql {
    session: Arc<Session>,
    statements: Mutex<HashMap<u64, Statement>>,
    next: AtomicU64,
}

impl EsmdbFlightSql {
    /// A service running every statement in `session`.
    pub fn new(session: Arc<Session>) -> Self {
        EsmdbFlightSql { session, statements: Mutex::new(HashMap::new()), next: AtomicU64::new(1) }
    }

    async fn plan(&self, sql: &str, prepared: bool) -> Result<(u64, Schema), Status> {
        let frame = self.session.sql(sql).await.map_err(|e| Status::invalid_argument(e.to_string()))?;
        let schema = frame.schema().as_arrow().clone();
        let handle = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock()?.insert(handle, Statement { frame, prepared });
        Ok((handle, schema))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<u64, Statement>>, Status> {
        self.statements.lock().map_err(|_| Status::internal("statement table poisoned"))
    }

    /// The frame of `handle`; a one-shot statement is forgotten here.
    fn take(&self, handle: &[u8]) -> Result<DataFrame, Status> {
        let id = decode_handle(handle)?;
        let mut statements = self.lock()?;
        match statements.get(&id) {
            None => Err(Status::not_found(format!("no statement with handle {id} (closed, or already fetched)"))),
            Some(s) if s.prepared => Ok(s.frame.clone()),
            Some(_) => {
                Ok(statements.remove(&id).map(|s| s.frame).ok_or_else(|| Status::internal("statement vanished"))?)
            }
        }
    }
}

fn decode_handle(handle: &[u8]) -> Result<u64, Status> {
    <[u8; 8]>::try_from(handle)
        .map(u64::from_be_bytes)
        .map_err(|_| Status::invalid_argument(format!("a statement handle is 8 bytes, not {}", handle.len())))
}

/// The FlightInfo of a planned statement: its schema and one endpoint, fetched from this service.
fn flight_info(handle: u64, schema: &Schema, descriptor: FlightDescriptor) -> Result<FlightInfo, Status> {
    let ticket = TicketStatementQuery { statement_handle: handle.to_be_bytes().to_vec().into() };
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec()));
    Ok(FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding the result schema: {e}")))?
        .with_endpoint(endpoint)
        .with_descriptor(descriptor))
}

type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl FlightSqlService for EsmdbFlightSql {
    type FlightService = EsmdbFlightSql;

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let (handle, schema) = self.plan(&query.query, false).await?;
        Ok(Response::new(flight_info(handle, &schema, request.into_inner())?))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let id = decode_handle(&query.prepared_statement_handle)?;
        let schema = match self.lock()?.get(&id) {
            Some(s) => s.frame.schema().as_arrow().clone(),
            None => return Err(Status::not_found(format!("no prepared statement with handle {id}"))),
        };
        Ok(Response::new(flight_info(id, &schema, request.into_inner())?))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let frame = self.take(&ticket.statement_handle)?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.execute_stream().await.map_err(|e| Status::internal(e.to_string()))?;
        let batches = batches.map_err(|e| FlightError::ExternalError(Box::new(e)));
        let stream = FlightDataEncoderBuilder::new().with_schema(schema).build(batches).map_err(Status::from);
        let stream: DoGetStream = stream.boxed();
        Ok(Response::new(stream))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let (handle, schema) = self.plan(&query.query, true).await?;
        let IpcMessage(schema_bytes) = SchemaAsIpc::new(&schema, &IpcWriteOptions::default()).try_into().map_err(
            |e: esmdb_sql::datafusion::arrow::error::ArrowError| Status::internal(format!("encoding the schema: {e}")),
        )?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.to_be_bytes().to_vec().into(),
            dataset_schema: schema_bytes,
            parameter_schema: Default::default(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        let id = decode_handle(&query.prepared_statement_handle)?;
        self.lock()?.remove(&id);
        Ok(())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// Serves `service` on `bind` until the process ends.
pub async fn serve(bind: SocketAddr, service: EsmdbFlightSql) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|source| Error::Bind {
        role: "Flight SQL endpoint",
        address: bind,
        source,
    })?;
    tracing::info!("esmdb Flight SQL on {bind}");
    tonic::transport::Server::builder()
        .add_service(FlightServiceServer::new(service))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .map_err(|e| Error::Serve { role: "Flight SQL endpoint", message: e.to_string() })
}
