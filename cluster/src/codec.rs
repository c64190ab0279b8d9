//! How esmdb's tables travel in Ballista plans. Ballista's own codecs carry its shuffle nodes and
//! file formats; these wrap them and add the two things only esmdb knows: a [`StoreTable`] (in the
//! logical plan the client sends) and a [`StoreScanExec`] (in each stage the scheduler sends an
//! executor). Both are written as a magic prefix and a small JSON record — the table's URI and
//! version, never its data — which Ballista's buffers (protobuf, whose first byte is never `E`)
//! cannot be confused with.
use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion_proto::bytes::Serializeable;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use datafusion_proto::protobuf::Schema as SchemaProto;
use esmdb_sql::datafusion::arrow::datatypes::{Schema, SchemaRef};
use esmdb_sql::datafusion::common::{TableReference, internal_datafusion_err};
use esmdb_sql::datafusion::datasource::TableProvider;
use esmdb_sql::datafusion::datasource::file_format::FileFormatFactory;
use esmdb_sql::datafusion::error::{DataFusionError, Result};
use esmdb_sql::datafusion::execution::TaskContext;
use esmdb_sql::datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use esmdb_sql::datafusion::logical_expr::{AggregateUDF, Expr, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use esmdb_sql::datafusion::physical_plan::ExecutionPlan;
use esmdb_sql::scan::{ScanPart, StoreScanExec, StoreTable};
use prost::Message;
use serde::{Deserialize, Serialize};

const TABLE_MAGIC: &[u8] = b"ESMDB-TABLE1";
const SCAN_MAGIC: &[u8] = b"ESMDB-SCAN1";

fn wire_error(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    internal_datafusion_err!("esmdb codec: {what}: {e}")
}

/// A [`StoreTable`] in a logical plan (its schema travels in the plan itself).
#[derive(Serialize, Deserialize)]
struct TableWire {
    uri: String,
    version: u64,
}

/// A [`StoreScanExec`] in a physical plan.
#[derive(Serialize, Deserialize)]
struct ScanWire {
    uri: String,
    version: u64,
    /// The table's whole schema, as datafusion-proto's `Schema` message.
    schema: Vec<u8>,
    projection: Option<Vec<usize>>,
    /// All filters as one conjunction, as datafusion-proto's expression bytes.
    filter: Option<Vec<u8>>,
    limit: Option<usize>,
    parts: Vec<ScanPart>,
}

/// Ballista's logical codec plus esmdb's [`StoreTable`].
#[derive(Debug, Default)]
pub struct EsmdbLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for EsmdbLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.strip_prefix(TABLE_MAGIC) {
            Some(rest) => {
                let wire: TableWire = serde_json::from_slice(rest).map_err(|e| wire_error("store table", e))?;
                Ok(Arc::new(StoreTable::new(wire.uri, wire.version, schema)))
            }
            None => self.inner.try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<StoreTable>() {
            Some(table) => {
                buf.extend_from_slice(TABLE_MAGIC);
                let wire = TableWire { uri: table.uri().to_owned(), version: table.version() };
                serde_json::to_writer(buf, &wire).map_err(|e| wire_error("store table", e))
            }
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    // Delegated, or `CREATE EXTERNAL TABLE … STORED AS PARQUET` tables could not travel.
    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec plus esmdb's [`StoreScanExec`]. Functions go by name: every process
/// of the cluster registers esmdb's.
#[derive(Debug, Default)]
pub struct EsmdbPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for EsmdbPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(rest) = buf.strip_prefix(SCAN_MAGIC) else {
            return self.inner.try_decode(buf, inputs, ctx);
        };
        let wire: ScanWire = serde_json::from_slice(rest).map_err(|e| wire_error("store scan", e))?;
        let schema = SchemaProto::decode(wire.schema.as_slice()).map_err(|e| wire_error("store scan schema", e))?;
        let schema = Schema::try_from(&schema).map_err(|e| wire_error("store scan schema", e))?;
        let filters = match &wire.filter {
            Some(bytes) => split_conjunction_owned(Expr::from_bytes_with_ctx(bytes, ctx)?),
            None => Vec::new(),
        };
        let table = StoreTable::new(wire.uri, wire.version, Arc::new(schema));
        Ok(Arc::new(StoreScanExec::try_new(table, wire.projection, filters, wire.limit, wire.parts)?))
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Result<()> {
        let Some(scan) = node.downcast_ref::<StoreScanExec>() else {
            return self.inner.try_encode(node, buf);
        };
        let table = scan.table();
        let schema = SchemaProto::try_from(table.schema().as_ref()).map_err(|e| wire_error("store scan schema", e))?;
        let filter = conjunction(scan.filters().iter().cloned()).map(|f| f.to_bytes()).transpose()?;
        let wire = ScanWire {
            uri: table.uri().to_owned(),
            version: table.version(),
            schema: schema.encode_to_vec(),
            projection: scan.projection().map(<[usize]>::to_vec),
            filter: filter.map(|b| b.to_vec()),
            limit: scan.limit(),
            parts: scan.parts().to_vec(),
        };
        buf.extend_from_slice(SCAN_MAGIC);
        serde_json::to_writer(buf, &wire).map_err(|e| wire_error("store scan", e))
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}
