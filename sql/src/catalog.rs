//! The store's tables as a DataFusion schema: `variants`, `datasets`, `embeddings_d{D}` (and
//! `embeddings` when the store has one vector width) as Lance table providers — filters and
//! projections are pushed into Lance scans — plus whatever the user registers
//! (`CREATE EXTERNAL TABLE … STORED AS PARQUET`).
//!
//! The schema holds only the store URI: tables are opened when a query names them, at their latest
//! version, so tables written during the session (an ingest, the cache filling) are seen.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::common::{internal_datafusion_err, plan_err};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};
use esmdb_store::Store;
use esmdb_store::lance::datafusion::LanceTableProvider;

use crate::scan::StoreTable;

/// Alias of the single embeddings table.
pub const EMBEDDINGS: &str = "embeddings";

/// The store as a schema.
#[derive(Debug)]
pub struct StoreSchema {
    store: Store,
    /// Tables as [`StoreTable`]s (shippable to other processes) rather than Lance providers.
    distributed: bool,
    registered: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
}

impl StoreSchema {
    /// The schema of the store at `store`.
    pub fn new(store: Store) -> Self {
        StoreSchema { store, distributed: false, registered: RwLock::new(HashMap::new()) }
    }

    /// The schema of the store at `store` for plans that run on a cluster: each table a
    /// [`StoreTable`] pinned to the version current when a query names it.
    pub fn distributed(store: Store) -> Self {
        StoreSchema { distributed: true, ..StoreSchema::new(store) }
    }

    fn store_tables(&self) -> Vec<String> {
        self.store.table_names()
    }

    /// `embeddings` means the one `embeddings_d*` table, if there is exactly one. Listed afresh: on an
    /// object store the listing at open may predate a width another process has since added.
    async fn resolve_alias(&self, name: &str) -> Result<String> {
        if name != EMBEDDINGS {
            return Ok(name.to_owned());
        }
        let listed = self.store.list_tables().await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        alias_among(name, listed)
    }
}

/// `name`, or for [`EMBEDDINGS`] the one `embeddings_d*` among `tables` (an error naming them when
/// there are several).
fn alias_among(name: &str, tables: Vec<String>) -> Result<String> {
    if name != EMBEDDINGS {
        return Ok(name.to_owned());
    }
    let tables: Vec<String> = tables.into_iter().filter(|t| t.starts_with("embeddings_d")).collect();
    match tables.as_slice() {
        [one] => Ok(one.clone()),
        [] => Ok(name.to_owned()),
        many => plan_err!("the store has embeddings of several widths; name one of {}", many.join(", ")),
    }
}

#[async_trait]
impl SchemaProvider for StoreSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.store_tables();
        if names.iter().filter(|t| t.starts_with("embeddings_d")).count() == 1 {
            names.push(EMBEDDINGS.to_owned());
        }
        if let Ok(r) = self.registered.read() {
            names.extend(r.keys().cloned());
        }
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.registered.read().ok().and_then(|r| r.get(name).cloned()) {
            return Ok(Some(t));
        }
        let table = self.resolve_alias(name).await?;
        let ds = self.store.open_table(&table).await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(ds.map(|ds| -> Arc<dyn TableProvider> {
            if self.distributed {
                Arc::new(StoreTable::of(&ds))
            } else {
                Arc::new(LanceTableProvider::new(Arc::new(ds), false, false))
            }
        }))
    }

    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        if self.store_tables().contains(&name) {
            return plan_err!("`{name}` is a table of the store; choose another name");
        }
        let mut r = self.registered.write().map_err(|_| internal_datafusion_err!("catalog lock poisoned"))?;
        Ok(r.insert(name, table))
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let mut r = self.registered.write().map_err(|_| internal_datafusion_err!("catalog lock poisoned"))?;
        Ok(r.remove(name))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.registered.read().map(|r| r.contains_key(name)).unwrap_or(false)
            || self.store_tables().iter().any(|t| t == name)
            || (name == EMBEDDINGS && alias_among(name, self.store_tables()).is_ok_and(|t| t != name))
    }
}
