//! `compress_mean`, `compress_bos`, `compress_max`: a per-token matrix to one vector per row, as
//! SWAT's `compressing_embeddings.py` does before regression ([`esmdb_compress::pool`]).
//!
//! `compress_mean(esm2_embed(s, …))` and `compress_bos(esm2_embed(s, …))` are rewritten at planning
//! (the `simplify` hook) into `esm2_embed_pooled(s, 'mean'|'bos', …)`, which pools on the device and
//! goes through the store's cache, so the per-token tensors are never built for them.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::internal_err;
use datafusion::error::Result;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::lit;
use esmdb_compress::Pooling;

use super::embed::{EMBED, ESM2_EMBED, Esm2EmbedPooledUdf};
use super::vectors::{self, Tokens};
use crate::error::{call_error, compress_error};
use crate::options::EngineConfig;

/// How a per-token matrix becomes one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Mean over residues (the paper's best).
    Mean,
    /// The `<cls>` vector — only from `esm2_embed` directly (a residue matrix has no `<cls>` row).
    Bos,
    /// Element-wise maximum over residues.
    Max,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Mean => "compress_mean",
            Compression::Bos => "compress_bos",
            Compression::Max => "compress_max",
        }
    }
}

/// A `compress_*` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CompressUdf {
    kind: Compression,
    config: EngineConfig,
    signature: Signature,
}

impl CompressUdf {
    /// The function for `kind`; `config` supplies the defaults written into the pooled rewrite.
    pub fn udf(kind: Compression, config: EngineConfig) -> ScalarUDF {
        ScalarUDF::new_from_impl(CompressUdf { kind, config, signature: Signature::any(1, Volatility::Immutable) })
    }
}

impl ScalarUDFImpl for CompressUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("compress_* types its result from its argument")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let t = args.arg_fields[0].data_type();
        if !vectors::is_tokens_type(t) {
            return Err(call_error(
                self.kind.name(),
                format!("expected a per-token matrix such as esm2_embed(sequence) returns, got {t}"),
            ));
        }
        let out = match vectors::token_dim(t) {
            Some(d) => vectors::fsl_f32_type(d)?,
            None => vectors::list_f32_type(),
        };
        Ok(Arc::new(Field::new(self.kind.name(), out, true)))
    }

    fn with_updated_config(&self, config: &datafusion::config::ConfigOptions) -> Option<ScalarUDF> {
        Some(CompressUdf::udf(self.kind, EngineConfig::from_config(config)))
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let pooling = match self.kind {
            Compression::Mean => "mean",
            Compression::Bos => "bos",
            Compression::Max => return Ok(ExprSimplifyResult::Original(args)),
        };
        let Some(Expr::ScalarFunction(inner)) = args.first() else { return Ok(ExprSimplifyResult::Original(args)) };
        if inner.func.name() != ESM2_EMBED && inner.func.name() != EMBED {
            return Ok(ExprSimplifyResult::Original(args));
        }
        let mut a = inner.args.clone().into_iter();
        let sequence = a.next().ok_or_else(|| call_error(ESM2_EMBED, "missing the sequence argument"))?;
        let model = a.next().unwrap_or_else(|| lit(self.config.model.clone()));
        let layer = a.next().unwrap_or_else(|| lit(self.config.layer));
        let pooled = Esm2EmbedPooledUdf::udf(self.config.clone());
        Ok(ExprSimplifyResult::Simplified(pooled.call(vec![sequence, lit(pooling), model, layer])))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = Vec::with_capacity(args.number_rows);
        for (i, m) in vectors::token_matrices(self.kind.name(), &array)?.into_iter().enumerate() {
            out.push(match m {
                None => None,
                Some(m) => Some(self.compress(i, &m)?),
            });
        }
        Ok(ColumnarValue::Array(vectors::f32_rows_as(self.kind.name(), args.return_field.data_type(), &out)?))
    }
}

impl CompressUdf {
    /// Row `row`'s matrix pooled by [`esmdb_compress::pool`].
    fn compress(&self, row: usize, m: &Tokens) -> Result<Vec<f32>> {
        let pooling = match self.kind {
            Compression::Mean => Pooling::Mean,
            Compression::Max => Pooling::Max,
            // esmdb_compress's `bos` takes the first row, which in a residue matrix is a residue.
            Compression::Bos => {
                return Err(call_error(
                    "compress_bos",
                    "needs the <cls> vector, which a per-residue matrix does not contain: call it directly on \
                     esm2_embed(sequence …) (rewritten to the cached pooled form), or use esm2_embed_pooled(sequence, 'bos')",
                ));
            }
        };
        esmdb_compress::pool(&m.values, m.rows, m.dim, pooling)
            .map_err(|source| compress_error(self.kind.name(), row, source))
    }
}
