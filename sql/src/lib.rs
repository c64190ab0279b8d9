//! # esmdb-sql
//!
//! SQL over the esmdb store with DataFusion: a protein scientist's whole analysis in one statement.
//!
//! ```sql
//! SELECT dataset, unnest(lasso_cv_eval(compress_mean(esm2_embed(sequence)), target ORDER BY input_row))
//! FROM variants GROUP BY dataset;
//! ```
//!
//! - [`Session`]: a `SessionContext` whose default schema is the store ([`catalog`]): `variants`,
//!   `datasets`, `embeddings_d{D}` as Lance tables, plus anything registered with
//!   `CREATE EXTERNAL TABLE`.
//! - Functions ([`udf`]): `esm2_embed` (async, batched, cache-backed when pooled), `compress_mean`
//!   / `compress_bos` / `compress_max`, `onehot`, the aggregates `lasso_cv` and `lasso_cv_eval`, and
//!   `lasso_predict`, `concat_features` (scalars appended to a feature vector), and `spearman(x, y)`
//!   (scipy's Spearman ρ per group).
//! - Settings ([`options`]): `SET esmdb.model = '…'`, `esmdb.layer`, `esmdb.device`,
//!   `esmdb.batch_tokens`, `esmdb.threads`, `esmdb.commit_every`, `esmdb.store`.
//!
//! Functions and tables carry only small serializable settings (model name, layer, store URI);
//! models and stores are opened where the plan runs, models once per process (`esmdb-engine`).
//!
//! What it must not contain: numerical algorithms (they live in `esmdb-compress` and
//! `esmdb-regress`), model code (`esmdb-model`, reached through `esmdb-engine`), or front-end code.
#![deny(missing_docs)]

pub mod catalog;
mod error;
pub mod options;
pub mod output;
pub mod progress;
pub mod scan;
mod session;
pub mod udf;

pub use error::{Error, Result};
pub use options::EngineConfig;
pub use session::{MAX_EXPRESSION_DEPTH, Session, session_config};

/// Re-exported so front ends use the same DataFusion and Arrow.
pub use datafusion;
/// Re-exported: the engine the functions run on (model registry, counters).
pub use esmdb_engine as engine;

/// `s` as a SQL string literal (`'…'`, quotes doubled), for front ends that build statements.
pub fn quote(s: &str) -> String {
    esmdb_store::sql_literal(s)
}
