//! A store table pinned to one version, and the scan that reads it — the form a table takes when a
//! plan is shipped to other processes (a Ballista scheduler and its executors).
//!
//! [`StoreTable`] and [`StoreScanExec`] hold only the table's URI, its version, a projection, plain
//! filters and which rows each partition reads: a few strings and numbers that a codec can write,
//! so every executor reads exactly the snapshot the client planned against. The scan is cut into
//! runs of about one cache commit of rows ([`split_rows`]), which executors take one after another:
//! the embedding that follows a scan spreads over them and evens out. Row order across partitions
//! is not fixed: aggregates whose result depends on it say `ORDER BY input_row`, as the paper's
//! protocol does.
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session as CatalogSession;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{exec_datafusion_err, internal_datafusion_err, internal_err};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use esmdb_store::lance::Dataset;
use esmdb_store::lance::dataset::builder::DatasetBuilder;
use esmdb_store::lance::dataset::scanner::FragmentSlice;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::options::EngineConfig;

/// A store table at one version, for plans that run in other processes.
#[derive(Debug, Clone)]
pub struct StoreTable {
    uri: String,
    version: u64,
    schema: SchemaRef,
}

impl StoreTable {
    /// The table `uri` at `version`, whose Arrow schema is `schema`.
    pub fn new(uri: impl Into<String>, version: u64, schema: SchemaRef) -> Self {
        StoreTable { uri: uri.into(), version, schema }
    }

    /// `ds` as it is now (its URI, version and schema).
    pub fn of(ds: &Dataset) -> Self {
        StoreTable::new(ds.uri(), ds.version().version, Arc::new(Schema::from(ds.schema())))
    }

    /// The table's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The version every scan reads.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// Opens `uri` at `version`; the error names both.
pub async fn open_version(uri: &str, version: u64) -> Result<Dataset> {
    DatasetBuilder::from_uri(uri)
        .with_version(version)
        .load()
        .await
        .map_err(|e| exec_datafusion_err!("cannot open store table {uri} at version {version}: {e}"))
}

/// Whether Lance can evaluate `filter` itself: column references, literals and operators, but no
/// function (Lance knows none of esmdb's, and a volatile one must run once per row where it is).
fn plain_filter(filter: &Expr) -> bool {
    !filter
        .exists(|e| Ok(matches!(e, Expr::ScalarFunction(_) | Expr::AggregateFunction(_) | Expr::WindowFunction(_))))
        .unwrap_or(true)
}

#[async_trait]
impl TableProvider for StoreTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if plain_filter(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let ds = open_version(&self.uri, self.version).await?;
        let fragments: Vec<(u64, usize)> =
            ds.fragments().iter().map(|f| (f.id, f.physical_rows.unwrap_or(usize::MAX))).collect();
        // Parts of one cache commit, but at least 8 per task slot of a client-sized cluster, so that
        // a small table still spreads (and the last part to finish is a short one).
        let commit = EngineConfig::from_config(state.config().options()).commit_every;
        let rows: usize = fragments.iter().map(|f| f.1.min(1 << 40)).sum();
        let spread = (rows / (8 * state.config().target_partitions().max(1))).max(MIN_PART_ROWS);
        let chunk = commit.min(spread);
        let scan = StoreScanExec::try_new(
            self.clone(),
            projection.cloned(),
            filters.iter().filter(|f| plain_filter(f)).cloned().collect(),
            limit,
            split_rows(&fragments, chunk),
        )?;
        Ok(Arc::new(scan))
    }
}

/// The fewest rows a scan part has (unless its fragment has fewer): below this, a task costs more
/// to schedule than its rows take to read.
const MIN_PART_ROWS: usize = 64;

/// A run of rows of one fragment: one partition of a [`StoreScanExec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPart {
    /// Lance fragment id.
    pub fragment: u64,
    /// First row: a physical offset in the fragment (deleted rows count), before any filter.
    pub offset: usize,
    /// Physical rows from `offset`.
    pub rows: usize,
}

/// Fragments `(id, rows)` cut into runs of `chunk` rows, in table order. Many small partitions,
/// not one per executor: executors take the next as they finish one, so sequences of different
/// lengths (embedding time grows with length) even out, and each part is about one cache commit
/// (`esmdb.commit_every` rows). The runs are physical row ranges taken before any filter, so with a
/// filter each part reads its own range and passes fewer rows, and together the parts still read each
/// row of the fragment once.
pub fn split_rows(fragments: &[(u64, usize)], chunk: usize) -> Vec<ScanPart> {
    let chunk = chunk.max(1);
    let mut parts = Vec::new();
    for &(fragment, rows) in fragments {
        if rows == usize::MAX {
            // Row count not recorded (old fragments): read it whole.
            parts.push(ScanPart { fragment, offset: 0, rows });
            continue;
        }
        let mut offset = 0;
        while offset < rows {
            parts.push(ScanPart { fragment, offset, rows: chunk.min(rows - offset) });
            offset += chunk;
        }
    }
    parts
}

/// Reads one [`StoreTable`] version, one [`ScanPart`] per partition.
#[derive(Debug)]
pub struct StoreScanExec {
    table: StoreTable,
    projection: Option<Vec<usize>>,
    filters: Vec<Expr>,
    limit: Option<usize>,
    parts: Vec<ScanPart>,
    projected: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl StoreScanExec {
    /// A scan of `table` (columns `projection` of its schema, rows passing every filter, at most
    /// `limit` per partition), partition `i` reading `parts[i]` (an empty table: one empty partition).
    pub fn try_new(
        table: StoreTable,
        projection: Option<Vec<usize>>,
        filters: Vec<Expr>,
        limit: Option<usize>,
        parts: Vec<ScanPart>,
    ) -> Result<Self> {
        let projected = match &projection {
            Some(p) => Arc::new(table.schema.project(p)?),
            None => Arc::clone(&table.schema),
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&projected)),
            Partitioning::UnknownPartitioning(parts.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(StoreScanExec { table, projection, filters, limit, parts, projected, properties })
    }

    /// The table and version read.
    pub fn table(&self) -> &StoreTable {
        &self.table
    }

    /// Column indices of the table's schema, or all.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// Filters Lance applies (all must hold).
    pub fn filters(&self) -> &[Expr] {
        &self.filters
    }

    /// Row limit per partition.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// The rows each partition reads.
    pub fn parts(&self) -> &[ScanPart] {
        &self.parts
    }
}

impl DisplayAs for StoreScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "StoreScanExec: {} v{}, {} parts, projection={:?}, filters={}, limit={:?}",
            self.table.uri,
            self.table.version,
            self.parts.len(),
            self.projected.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(),
            self.filters.len(),
            self.limit
        )
    }
}

impl ExecutionPlan for StoreScanExec {
    fn name(&self) -> &str {
        "StoreScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() { Ok(self) } else { internal_err!("StoreScanExec has no children") }
    }

    fn execute(&self, partition: usize, _ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let part = match self.parts.get(partition) {
            Some(part) => Some(*part),
            None if partition == 0 => None,
            None => {
                return internal_err!("StoreScanExec: partition {partition} of {}", self.parts.len());
            }
        };
        let table = self.table.clone();
        let columns: Vec<String> = self.projected.fields().iter().map(|f| f.name().clone()).collect();
        let filter = conjunction(self.filters.iter().cloned());
        let limit = self.limit;
        let schema = Arc::clone(&self.projected);
        let out_schema = Arc::clone(&schema);
        let stream = futures::stream::once(async move {
            let ds = open_version(&table.uri, table.version).await?;
            let fragment = part.and_then(|p| ds.fragments().iter().find(|f| f.id == p.fragment).cloned());
            let (Some(part), Some(fragment)) = (part, fragment) else {
                return Ok::<_, DataFusionError>(futures::stream::empty::<Result<RecordBatch>>().boxed());
            };
            let mut scan = ds.scan();
            scan.with_fragments(vec![fragment]);
            // A projection of no columns (count(*)) reads the first one for its row count.
            let read: Vec<String> = match (columns.is_empty(), table.schema.fields().first()) {
                (true, Some(first)) => vec![first.name().clone()],
                _ => columns,
            };
            scan.project(&read)?;
            let rows = limit.map_or(part.rows, |l| l.min(part.rows));
            let whole = part.offset == 0 && part.rows == usize::MAX;
            match filter {
                // Filtered: the part's physical range, then the filter. (Lance applies a scan's
                // offset to the rows that pass the filter, so an offset would re-read the
                // fragment's prefix for every part.)
                Some(filter) => {
                    scan.filter_expr(filter);
                    if !whole {
                        let slice = FragmentSlice {
                            fragment_id: u32::try_from(part.fragment)
                                .map_err(|_| internal_datafusion_err!("fragment id {} is not 32-bit", part.fragment))?,
                            row_offset: part.offset as u64,
                            row_count: part.rows as u64,
                        };
                        scan.with_fragment_slices(&[slice]).await?;
                    }
                    if let Some(l) = limit {
                        scan.limit(Some(i64::try_from(l).unwrap_or(i64::MAX)), None)?;
                    }
                }
                None if !whole || limit.is_some() => {
                    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
                    scan.limit(Some(rows), Some(part.offset as i64))?;
                }
                None => {}
            }
            scan.scan_in_order(true);
            let batches = scan.try_into_stream().await?;
            let schema = Arc::clone(&schema);
            Ok(batches
                .map_err(DataFusionError::from)
                .and_then(move |b| futures::future::ready(conform(&schema, b)))
                .boxed())
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, stream)))
    }
}

/// `batch` under the planned schema (Lance's own may differ in field metadata), or, for a
/// projection of no columns, as a row count.
fn conform(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch> {
    let columns = if schema.fields().is_empty() { Vec::new() } else { batch.columns().to_vec() };
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)?)
}

#[cfg(test)]
mod tests {
    use super::{ScanPart, split_rows};

    #[test]
    fn fragments_are_cut_into_runs_of_a_commit() {
        let parts = split_rows(&[(0, 5), (3, 2), (7, 0), (9, usize::MAX)], 2);
        let runs: Vec<(u64, usize, usize)> = parts.iter().map(|p| (p.fragment, p.offset, p.rows)).collect();
        assert_eq!(runs, vec![(0, 0, 2), (0, 2, 2), (0, 4, 1), (3, 0, 2), (9, 0, usize::MAX)]);
        assert!(split_rows(&[], 256).is_empty());
        assert_eq!(
            split_rows(&[(1, 3)], 0),
            vec![
                ScanPart { fragment: 1, offset: 0, rows: 1 },
                ScanPart { fragment: 1, offset: 1, rows: 1 },
                ScanPart { fragment: 1, offset: 2, rows: 1 }
            ]
        );
    }
}
