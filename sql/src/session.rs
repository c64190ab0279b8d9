//! [`Session`]: a DataFusion `SessionContext` over an esmdb store, with esmdb's functions and
//! `esmdb.*` settings.
use std::sync::{Arc, Mutex};

use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::DFParser;
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
        let store = Store::open_or_create(&config.store).await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        let engine = config.clone();
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("esmdb", "public")
            .with_create_default_catalog_and_schema(true)
            .with_option_extension(config);
        // Keep each scan's row order up to the aggregates: without an ORDER BY inside
        // lasso_cv_eval, folds follow the table's order (the ingest order), as in the paper.
        config.options_mut().optimizer.enable_round_robin_repartition = false;
        let ctx = SessionContext::new_with_config(config);
        let catalog =
            ctx.catalog("esmdb").ok_or_else(|| DataFusionError::Internal("default catalog `esmdb` missing".into()))?;
        catalog.register_schema("public", Arc::new(StoreSchema::new(store)))?;
        udf::register(&ctx, &engine)?;
        // `SELECT * FROM 'results.parquet'` (or .csv, .json) without registering the file first.
        let ctx = ctx.enable_url_table();
        Ok(Session { ctx, registered: Mutex::new(engine) })
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
        let df = self.ctx.sql(sql).await?;
        self.refresh()?;
        Ok(df)
    }

    /// Runs `;`-separated statements in order and returns the last one's result, not yet executed
    /// (so it can be streamed). Earlier statements run to completion.
    pub async fn run_script(&self, script: &str) -> Result<Option<DataFrame>> {
        let statements = {
            // Parsed in a block: the dialect is not `Send` and must not live across an await.
            let name = self.ctx.state().config().options().sql_parser.dialect;
            let dialect = dialect_from_str(name)
                .ok_or_else(|| DataFusionError::Configuration(format!("unknown SQL dialect {name:?}")))?;
            DFParser::parse_sql_with_dialect(script, dialect.as_ref())?
        };
        let n = statements.len();
        let mut last = None;
        for (i, statement) in statements.into_iter().enumerate() {
            let state = self.ctx.state();
            let plan = state.statement_to_plan(statement).await?;
            let df = self.ctx.execute_logical_plan(plan).await?;
            self.refresh()?;
            if i + 1 < n {
                df.collect().await?;
            } else {
                last = Some(df);
            }
        }
        Ok(last)
    }

    /// Re-registers the functions whose planning depends on the settings if a `SET esmdb.…`
    /// changed them (DataFusion's own refresh does not reach async functions).
    fn refresh(&self) -> Result<()> {
        let now = self.config();
        let mut registered = self.registered.lock().map_err(|_| DataFusionError::Internal("session lock".into()))?;
        if *registered != now {
            udf::register_config_dependent(&self.ctx, &now);
            *registered = now;
        }
        Ok(())
    }
}
