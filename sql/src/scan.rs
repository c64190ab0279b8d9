//! A store table pinned to one version, and the scan that reads it — the form a table takes when a
//! plan is shipped to other processes (a Ballista scheduler and its executors).
//!
//! [`StoreTable`] and [`StoreScanExec`] hold only the table's URI, its version, a projection, plain
//! filters and which Lance fragments each partition reads: a few strings and numbers that a codec
//! can write, so every executor reads exactly the snapshot the client planned against. The scan is
//! split by fragments (one ingest writes at least one), which spreads the work that follows it —
//! embedding — over the executors. Row order across partitions is not fixed: aggregates whose
//! result depends on it say `ORDER BY input_row`, as the paper's protocol does.
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session as CatalogSession;
use datafusion::common::tree_node::TreeNode;
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
use esmdb_store::lance::table::format::Fragment;
use futures::{StreamExt, TryStreamExt};

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
        .map_err(|e| DataFusionError::Execution(format!("cannot open store table {uri} at version {version}: {e}")))
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
        let fragments: Vec<(u64, usize)> = ds.fragments().iter().map(|f| (f.id, fragment_weight(f))).collect();
        let partitions = split_fragments(&fragments, state.config().target_partitions());
        let scan = StoreScanExec::try_new(
            self.clone(),
            projection.cloned(),
            filters.iter().filter(|f| plain_filter(f)).cloned().collect(),
            limit,
            partitions,
        )?;
        Ok(Arc::new(scan))
    }
}

/// How much work a fragment holds: the bytes of its data files (which grow with sequence length,
/// as embedding time does), else its rows.
fn fragment_weight(f: &Fragment) -> usize {
    let bytes: u64 = f.files.iter().filter_map(|d| d.file_size_bytes.get()).map(|n| n.get()).sum();
    match usize::try_from(bytes) {
        Ok(b) if b > 0 => b,
        _ => f.physical_rows.unwrap_or(1).max(1),
    }
}

/// Fragments `(id, weight)` dealt into at most `partitions` groups of about equal weight (largest
/// first, each to the lightest group), each group in fragment order. Always at least one group, so an empty table
/// still yields a (row-less) partition.
pub fn split_fragments(fragments: &[(u64, usize)], partitions: usize) -> Vec<Vec<u64>> {
    let n = partitions.clamp(1, fragments.len().max(1));
    let mut groups: Vec<(usize, Vec<u64>)> = vec![(0, Vec::new()); n];
    let mut by_size: Vec<&(u64, usize)> = fragments.iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for &(id, rows) in by_size {
        if let Some(lightest) = groups.iter_mut().min_by_key(|g| g.0) {
            lightest.0 += rows;
            lightest.1.push(id);
        }
    }
    groups
        .into_iter()
        .map(|(_, mut ids)| {
            ids.sort_unstable();
            ids
        })
        .collect()
}

/// Reads one [`StoreTable`] version, one group of Lance fragments per partition.
#[derive(Debug)]
pub struct StoreScanExec {
    table: StoreTable,
    projection: Option<Vec<usize>>,
    filters: Vec<Expr>,
    limit: Option<usize>,
    partitions: Vec<Vec<u64>>,
    projected: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl StoreScanExec {
    /// A scan of `table` (columns `projection` of its schema, rows passing every filter, at most
    /// `limit` per partition), partition `i` reading the fragments `partitions[i]`.
    pub fn try_new(
        table: StoreTable,
        projection: Option<Vec<usize>>,
        filters: Vec<Expr>,
        limit: Option<usize>,
        partitions: Vec<Vec<u64>>,
    ) -> Result<Self> {
        let projected = match &projection {
            Some(p) => Arc::new(table.schema.project(p)?),
            None => Arc::clone(&table.schema),
        };
        let partitions = if partitions.is_empty() { vec![Vec::new()] } else { partitions };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&projected)),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(StoreScanExec { table, projection, filters, limit, partitions, projected, properties })
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

    /// Fragment ids read by each partition.
    pub fn partitions(&self) -> &[Vec<u64>] {
        &self.partitions
    }
}

impl DisplayAs for StoreScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "StoreScanExec: {} v{}, {} partitions, projection={:?}, filters={}, limit={:?}",
            self.table.uri,
            self.table.version,
            self.partitions.len(),
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
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal("StoreScanExec has no children".into()))
        }
    }

    fn execute(&self, partition: usize, _ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let fragment_ids = self.partitions.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("StoreScanExec: partition {partition} of {}", self.partitions.len()))
        })?;
        let table = self.table.clone();
        let columns: Vec<String> = self.projected.fields().iter().map(|f| f.name().clone()).collect();
        let filter = conjunction(self.filters.iter().cloned());
        let limit = self.limit;
        let schema = Arc::clone(&self.projected);
        let out_schema = Arc::clone(&schema);
        let stream = futures::stream::once(async move {
            let ds = open_version(&table.uri, table.version).await?;
            let fragments: Vec<_> = ds.fragments().iter().filter(|f| fragment_ids.contains(&f.id)).cloned().collect();
            if fragments.is_empty() {
                return Ok::<_, DataFusionError>(futures::stream::empty::<Result<RecordBatch>>().boxed());
            }
            let mut scan = ds.scan();
            scan.with_fragments(fragments);
            // A projection of no columns (count(*)) reads the first one for its row count.
            let read: Vec<String> = match (columns.is_empty(), table.schema.fields().first()) {
                (true, Some(first)) => vec![first.name().clone()],
                _ => columns,
            };
            scan.project(&read)?;
            if let Some(filter) = filter {
                scan.filter_expr(filter);
            }
            scan.limit(limit.map(|l| l as i64), None)?;
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
    use super::split_fragments;

    #[test]
    fn fragments_are_dealt_by_rows_and_kept_in_order() {
        let fragments = [(0, 100), (1, 10), (2, 60), (3, 50), (4, 5)];
        let groups = split_fragments(&fragments, 2);
        assert_eq!(groups, vec![vec![0, 1, 4], vec![2, 3]]);
        assert_eq!(split_fragments(&fragments, 9).len(), 5);
        assert_eq!(split_fragments(&[], 4), vec![Vec::<u64>::new()]);
        assert_eq!(split_fragments(&fragments, 0), vec![vec![0, 1, 2, 3, 4]]);
    }
}
