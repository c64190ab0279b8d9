//! [`Session`]: a DataFusion `SessionContext` over an esmdb store, with esmdb's functions and
//! `esmdb.*` settings.
use std::sync::{Arc, Mutex};

use std::collections::VecDeque;
use std::ops::ControlFlow;

use datafusion::common::{
    config_datafusion_err, exec_datafusion_err, internal_datafusion_err, not_impl_err, plan_datafusion_err, plan_err,
};
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{CopyToSource, DFParserBuilder, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use esmdb_store::Store;

use crate::catalog::StoreSchema;
use crate::options::EngineConfig;
use crate::udf;

/// An SQL session over one store.
pub struct Session {
    ctx: SessionContext,
    /// The settings the config-dependent functions were last registered with.
    registered: Mutex<EngineConfig>,
    /// Whether queries run in other processes ([`Session::open_distributed`]).
    distributed: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("config", &self.config()).finish()
    }
}

impl Session {
    /// A session over the store `config.store` (created if missing), with `config` as the initial
    /// `esmdb.*` settings.
    pub async fn open(config: EngineConfig) -> Result<Self> {
        let store = open_store(&config).await?;
        let ctx = SessionContext::new_with_config(session_config(&config));
        Self::with_context(ctx, StoreSchema::new(store), config, false)
    }

    /// A session whose queries run elsewhere: `upgrade` turns the session's state into one whose
    /// query planner sends plans away (a Ballista scheduler, see `esmdb-cluster`). The store's tables
    /// are then [`StoreTable`](crate::scan::StoreTable)s, which travel as URI + version; esmdb's
    /// functions are registered after `upgrade`, which may replace the function lists.
    pub async fn open_distributed(
        config: EngineConfig,
        upgrade: impl FnOnce(SessionState) -> Result<SessionState>,
    ) -> Result<Self> {
        let store = open_store(&config).await?;
        let state = SessionStateBuilder::new().with_default_features().with_config(session_config(&config)).build();
        let ctx = SessionContext::new_with_state(upgrade(state)?);
        Self::with_context(ctx, StoreSchema::distributed(store), config, true)
    }

    /// Whether queries run in other processes (a cluster), not in this one.
    pub fn is_distributed(&self) -> bool {
        self.distributed
    }

    /// `ctx` with the store as its default schema and esmdb's functions.
    fn with_context(ctx: SessionContext, schema: StoreSchema, engine: EngineConfig, distributed: bool) -> Result<Self> {
        let catalog =
            ctx.catalog("esmdb").ok_or_else(|| internal_datafusion_err!("default catalog `esmdb` missing"))?;
        catalog.register_schema("public", Arc::new(schema))?;
        udf::register(&ctx, &engine)?;
        // `SELECT * FROM 'results.parquet'` (or .csv, .json) without registering the file first.
        let ctx = ctx.enable_url_table();
        Ok(Session { ctx, registered: Mutex::new(engine), distributed })
    }

    /// The DataFusion context (register more tables or functions here).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The current `esmdb.*` settings.
    pub fn config(&self) -> EngineConfig {
        EngineConfig::from_config(self.ctx.state().config().options())
    }

    /// Plans one statement; DDL and `SET` run at once, queries run when the frame is collected or
    /// streamed.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let mut statements = self.parse(sql)?;
        if statements.len() > 1 {
            return not_impl_err!("The context currently only supports a single SQL statement");
        }
        let statement = statements
            .pop_front()
            .ok_or_else(|| plan_datafusion_err!("No SQL statements were provided in the query string"))?;
        self.run(statement).await
    }

    /// Runs `;`-separated statements in order and returns the last one's result, not yet executed
    /// (so it can be streamed). Earlier statements run to completion.
    pub async fn run_script(&self, script: &str) -> Result<Option<DataFrame>> {
        let statements = self.parse(script)?;
        let n = statements.len();
        let mut last = None;
        for (i, statement) in statements.into_iter().enumerate() {
            let df = self.run(statement).await?;
            if i + 1 < n {
                df.collect().await?;
            } else {
                last = Some(df);
            }
        }
        Ok(last)
    }

    /// Plans `statement` (DDL and `SET` run here) and refreshes the settings-dependent functions.
    async fn run(&self, statement: Statement) -> Result<DataFrame> {
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        let df = self.ctx.execute_logical_plan(plan).await?;
        self.refresh()?;
        Ok(df)
    }

    /// Parses `sql` under the session's dialect and recursion limit, refusing a statement whose
    /// expressions nest deeper than [`MAX_EXPRESSION_DEPTH`]. Parsing (and dropping a refused
    /// statement) runs on a thread with a large stack: both recurse once per nesting level.
    fn parse(&self, sql: &str) -> Result<VecDeque<Statement>> {
        let (dialect, recursion_limit) = {
            let state = self.ctx.state();
            let options = &state.config().options().sql_parser;
            (options.dialect, options.recursion_limit)
        };
        std::thread::scope(|s| {
            let parser = std::thread::Builder::new()
                .name("esmdb-sql-parse".into())
                .stack_size(PARSE_STACK)
                .spawn_scoped(s, move || {
                    // The dialect is not `Send`: made and dropped on this thread.
                    let dialect = dialect_from_str(dialect)
                        .ok_or_else(|| config_datafusion_err!("unknown SQL dialect {dialect:?}"))?;
                    let statements = DFParserBuilder::new(sql)
                        .with_dialect(dialect.as_ref())
                        .with_recursion_limit(recursion_limit)
                        .build()?
                        .parse_statements()?;
                    check_depth(&statements)?;
                    Ok(statements)
                })
                .map_err(|e| exec_datafusion_err!("cannot start the SQL parser thread: {e}"))?;
            parser.join().map_err(|_| internal_datafusion_err!("the SQL parser panicked"))?
        })
    }

    /// Re-registers the functions whose planning depends on the settings if a `SET esmdb.…`
    /// changed them (DataFusion's own refresh does not reach async functions).
    fn refresh(&self) -> Result<()> {
        let now = self.config();
        let mut registered = self.registered.lock().map_err(|_| internal_datafusion_err!("session lock"))?;
        if *registered != now {
            udf::register_config_dependent(&self.ctx, &now);
            *registered = now;
        }
        Ok(())
    }
}

async fn open_store(config: &EngineConfig) -> Result<Store> {
    Store::open_or_create(&config.store).await.map_err(|e| DataFusionError::External(Box::new(e)))
}

/// DataFusion's settings for an esmdb session, `engine` as its `esmdb.*` extension.
pub fn session_config(engine: &EngineConfig) -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("esmdb", "public")
        .with_create_default_catalog_and_schema(true)
        .with_option_extension(engine.clone());
    // Keep each scan's row order up to the aggregates: without an ORDER BY inside
    // lasso_cv_eval, folds follow the table's order (the ingest order), as in the paper.
    config.options_mut().optimizer.enable_round_robin_repartition = false;
    config
}

/// The deepest nesting of expressions a statement may have: a chain of 500 `OR`s, `AND`s or `+`s.
/// DataFusion clones, plans and evaluates expressions recursively, and not every step guards its
/// stack: a chain of about 1,200 `+` overflowed a 2 MiB thread stack (tokio's and the test
/// harness's), which aborts the process. Half that leaves room on any thread; long lists belong
/// in `IN (…)`, which is flat.
pub const MAX_EXPRESSION_DEPTH: usize = 500;

/// Stack of the parsing thread. Parsing and dropping a chain of N operators takes about 100 bytes
/// of stack per level (30,000 levels overflowed 2 MiB), so 64 MiB covers statements of a few
/// megabytes of SQL; the pages are touched only as deep as a statement goes.
const PARSE_STACK: usize = 64 << 20;

/// The depth of the deepest expression, stopping once it passes [`MAX_EXPRESSION_DEPTH`].
#[derive(Default)]
struct Depth {
    now: usize,
    max: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.now += 1;
        self.max = self.max.max(self.now);
        if self.max > MAX_EXPRESSION_DEPTH { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

fn visit_statement(statement: &Statement, depth: &mut Depth) {
    match statement {
        Statement::Statement(s) => {
            let _ = s.visit(depth);
        }
        Statement::CopyTo(c) => {
            if let CopyToSource::Query(q) = &c.source {
                let _ = q.visit(depth);
            }
        }
        Statement::Explain(e) => visit_statement(&e.statement, depth),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => {}
    }
}

fn check_depth(statements: &VecDeque<Statement>) -> Result<()> {
    for (i, statement) in statements.iter().enumerate() {
        let mut depth = Depth::default();
        visit_statement(statement, &mut depth);
        if depth.max > MAX_EXPRESSION_DEPTH {
            return plan_err!(
                "statement {}: expressions nest more than {MAX_EXPRESSION_DEPTH} levels deep, more than esmdb plans \
                 safely; write a long OR chain as IN (…), or split the expression",
                i + 1
            );
        }
    }
    Ok(())
}
