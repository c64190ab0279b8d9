//! `embed(sequence [, model [, layer]])` (also `esm2_embed`) — per-token embeddings of any model family — and
//! `esm2_embed_pooled(sequence, pooling [, model [, layer]])` — one cached pooled vector per row.
//!
//! Both are async scalar functions: DataFusion hands them batches of `esmdb.commit_every` rows and
//! awaits them, while inference runs on tokio's blocking pool, off the query's async workers.
//! The pooled variant goes through the store's embedding cache (hits are read, misses computed and
//! committed batch by batch); `compress_mean(esm2_embed(…))` and `compress_bos(esm2_embed(…))` are
//! rewritten into it at planning, so per-token tensors are never materialized for them.
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef};
use async_trait::async_trait;
use datafusion::common::{ScalarValue, internal_datafusion_err, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use esmdb_store::Pooling;

use super::vectors;
use crate::error::{Error, call_error};
use crate::options::EngineConfig;
use crate::progress::{self, EmbedEvent};
use esmdb_engine::{self as engine, StoreEmbedder};

/// Name of the per-token function.
pub const ESM2_EMBED: &str = "esm2_embed";
/// The same function under its family-neutral name: every model family esmdb loads (ESM2, ESM C,
/// ESM-1b/1v) embeds through it; `esm2_embed` stays for the queries written before.
pub const EMBED: &str = "embed";
/// Name of the pooled, cached function.
pub const ESM2_EMBED_POOLED: &str = "esm2_embed_pooled";

/// `esm2_embed`: per-token embeddings `List<FixedSizeList<Float32, D>>`, one vector per residue
/// (fair-esm extract.py's `per_tok`: `<cls>`/`<eos>` excluded). Not cached — per-token tensors are
/// what makes the Python pipeline's disk use explode; pool them (`compress_*`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Esm2EmbedUdf {
    name: &'static str,
    config: EngineConfig,
    signature: Signature,
}

/// `esm2_embed_pooled`: `FixedSizeList<Float32, D>`, read from or written to the store's cache.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Esm2EmbedPooledUdf {
    config: EngineConfig,
    signature: Signature,
}

pub(super) fn signature(min: usize, max: usize) -> Signature {
    // Volatile: never constant-folded at planning (async functions cannot run there), and each
    // call's engine work is visible in the plan.
    Signature::one_of((min..=max).map(TypeSignature::Any).collect(), Volatility::Volatile)
}

impl Esm2EmbedUdf {
    /// The function under the session's `config` (its defaults type the result at planning).
    pub fn udf(config: EngineConfig) -> ScalarUDF {
        Self::named(ESM2_EMBED, config)
    }

    /// The function registered as `name` ([`ESM2_EMBED`] or [`EMBED`]; both are rewritten under the
    /// compressions alike).
    pub fn named(name: &'static str, config: EngineConfig) -> ScalarUDF {
        AsyncScalarUDF::new(Arc::new(Esm2EmbedUdf { name, config, signature: signature(1, 3) })).into_scalar_udf()
    }
}

impl Esm2EmbedPooledUdf {
    /// The function under the session's `config`.
    pub fn udf(config: EngineConfig) -> ScalarUDF {
        AsyncScalarUDF::new(Arc::new(Esm2EmbedPooledUdf { config, signature: signature(2, 4) })).into_scalar_udf()
    }
}

/// Model and layer as the call wrote them: constant arguments at `model_at`/`model_at + 1`, else
/// the session's defaults. No I/O.
pub(super) fn call_args(
    function: &'static str,
    config: &EngineConfig,
    scalars: &[Option<&ScalarValue>],
    fields: &[FieldRef],
    model_at: usize,
) -> Result<(String, i64)> {
    let model = match fields.get(model_at) {
        None => config.model.clone(),
        Some(_) => match scalars.get(model_at).copied().flatten().and_then(|s| s.try_as_str()) {
            Some(Some(m)) if !m.trim().is_empty() => m.to_owned(),
            Some(Some(_)) => return Err(call_error(function, "the model argument is empty")),
            _ => return Err(call_error(function, "the model argument must be a constant string")),
        },
    };
    let layer = match fields.get(model_at + 1) {
        None => config.layer,
        Some(_) => match scalars.get(model_at + 1).copied().flatten() {
            Some(s) if !s.is_null() && s.data_type().is_integer() => match s.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(l))) => l,
                _ => return Err(call_error(function, format!("layer {s} is out of range"))),
            },
            _ => return Err(call_error(function, "the layer argument must be a constant integer")),
        },
    };
    Ok((model, layer))
}

/// Planning: checks the call's model and layer and returns the width that types its result, found
/// without loading weights where the model's name or `config.json` tells it
/// (`esmdb_engine::model_shape`).
fn planned_dim(
    function: &'static str,
    config: &EngineConfig,
    scalars: &[Option<&ScalarValue>],
    fields: &[FieldRef],
    model_at: usize,
) -> Result<usize> {
    let (model, layer) = call_args(function, config, scalars, fields, model_at)?;
    let shape = engine::model_shape(&model, &config.model_key(&model)).map_err(Error::from)?;
    engine::resolve_layer(layer, shape.num_layers, &model).map_err(Error::from)?;
    Ok(shape.dim)
}

/// Execution, on the engine thread: the model from the registry (loaded on the first batch of the
/// process, found on every later one) and the call's layer resolved against it. The width must be
/// the one planning typed the result with.
pub(super) fn loaded(
    key: &engine::ModelKey,
    layer: i64,
    planned: Option<usize>,
) -> std::result::Result<(std::sync::Arc<engine::Model>, i64), Error> {
    let model = engine::model(key)?;
    let layer = engine::resolve_layer(layer, model.num_layers, &key.model)?;
    if let Some(planned) = planned.filter(|&d| d != model.dim) {
        return Err(engine::Error::Engine {
            model: key.model.clone(),
            message: format!(
                "its weights are {} wide, but its name or config.json said {planned} when the query was planned",
                model.dim
            ),
        }
        .into());
    }
    Ok((model, layer))
}

pub(super) fn check_sequence_arg(function: &'static str, fields: &[FieldRef]) -> Result<()> {
    match fields.first().map(|f| f.data_type()) {
        Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) => Ok(()),
        Some(other) => Err(call_error(function, format!("the sequence must be a string, got {other}"))),
        None => Err(call_error(function, "missing the sequence argument")),
    }
}

/// Normalized sequences of the non-NULL rows, with their row numbers.
fn sequences(function: &'static str, array: &ArrayRef) -> Result<(Vec<usize>, Vec<String>)> {
    let mut rows = Vec::new();
    let mut seqs = Vec::new();
    for (i, s) in vectors::strings(function, array)?.into_iter().enumerate() {
        let Some(s) = s else { continue };
        // esmdb-seq's policy and words, as `esmdb ingest` and `esmdb embed --fasta` give them; the row is the id.
        let normalized = esmdb_store::normalize(&s)
            .map_err(|refusal| call_error(function, refusal.for_id(&format!("row {}", i + 1)).to_string()))?;
        rows.push(i);
        seqs.push(normalized);
    }
    Ok((rows, seqs))
}

/// The arguments given as constants (model, layer, pooling), as at planning.
pub(super) fn constant_args(args: &ScalarFunctionArgs) -> Vec<Option<ScalarValue>> {
    args.args
        .iter()
        .map(|a| match a {
            ColumnarValue::Scalar(s) => Some(s.clone()),
            ColumnarValue::Array(_) => None,
        })
        .collect()
}

pub(super) fn exec_config(args: &ScalarFunctionArgs) -> EngineConfig {
    EngineConfig::from_config(&args.config_options)
}

impl ScalarUDFImpl for Esm2EmbedUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("esm2_embed types its result from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        check_sequence_arg(self.name, args.arg_fields)?;
        let dim = planned_dim(self.name, &self.config, args.scalar_arguments, args.arg_fields, 1)?;
        Ok(Arc::new(Field::new(self.name, vectors::tokens_type(dim)?, true)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        internal_err!("esm2_embed is async")
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for Esm2EmbedUdf {
    fn ideal_batch_size(&self) -> Option<usize> {
        Some(self.config.commit_every.max(1))
    }

    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let exec = exec_config(&args);
        let scalars = constant_args(&args);
        let scalar_refs: Vec<Option<&ScalarValue>> = scalars.iter().map(Option::as_ref).collect();
        let (model_name, layer) = call_args(self.name, &exec, &scalar_refs, &args.arg_fields, 1)?;
        let dim = vectors::token_dim(args.return_field.data_type())
            .ok_or_else(|| internal_datafusion_err!("esm2_embed was planned without a width"))?;
        let array = args.args[0].to_array(n)?;
        let (rows, seqs) = sequences(self.name, &array)?;
        let key = exec.model_key(&model_name);
        let batch_tokens = exec.batch_tokens;
        let computed = engine::on_engine_thread(&model_name, move || -> Result<Vec<Vec<f32>>> {
            let (model, layer) = loaded(&key, layer, Some(dim))?;
            if seqs.is_empty() {
                return Ok(Vec::new());
            }
            let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
            let out = model
                .embed(&refs, vec![layer], vec![esmdb_model::Pooling::PerToken], batch_tokens, None)
                .map_err(|e| Error::from(engine::Error::Engine { model: model.id.clone(), message: e.to_string() }))?;
            engine::stats().per_token_sequences.fetch_add(refs.len(), Ordering::Relaxed);
            let mut per_seq = Vec::with_capacity(refs.len());
            let mut offset = 0;
            for len in &out.lengths {
                let n = len * out.dim;
                per_seq.push(out.values[0][offset..offset + n].to_vec());
                offset += n;
            }
            Ok(per_seq)
        })
        .await
        .map_err(Error::from)??;
        let mut matrices: Vec<Option<Vec<f32>>> = vec![None; n];
        for (row, m) in rows.into_iter().zip(computed) {
            matrices[row] = Some(m);
        }
        Ok(ColumnarValue::Array(vectors::tokens_array(dim, &matrices)?))
    }
}

impl ScalarUDFImpl for Esm2EmbedPooledUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        ESM2_EMBED_POOLED
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("esm2_embed_pooled types its result from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        check_sequence_arg(ESM2_EMBED_POOLED, args.arg_fields)?;
        pooling_arg(args.scalar_arguments.get(1).copied().flatten())?;
        let dim = planned_dim(ESM2_EMBED_POOLED, &self.config, args.scalar_arguments, args.arg_fields, 2)?;
        Ok(Arc::new(Field::new(ESM2_EMBED_POOLED, vectors::fsl_f32_type(dim)?, true)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        internal_err!("esm2_embed_pooled is async")
    }
}

fn pooling_arg(s: Option<&ScalarValue>) -> Result<Pooling> {
    match s.and_then(|s| s.try_as_str()) {
        Some(Some(p)) => p.parse().map_err(|e: esmdb_store::Error| call_error(ESM2_EMBED_POOLED, e.to_string())),
        _ => Err(call_error(ESM2_EMBED_POOLED, "the pooling argument must be the constant 'mean' or 'bos'")),
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for Esm2EmbedPooledUdf {
    fn ideal_batch_size(&self) -> Option<usize> {
        Some(self.config.commit_every.max(1))
    }

    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let exec = exec_config(&args);
        let scalars = constant_args(&args);
        let scalar_refs: Vec<Option<&ScalarValue>> = scalars.iter().map(Option::as_ref).collect();
        let pooling = pooling_arg(scalar_refs.get(1).copied().flatten())?;
        let (model_name, layer) = call_args(ESM2_EMBED_POOLED, &exec, &scalar_refs, &args.arg_fields, 2)?;
        let dim = match args.return_field.data_type() {
            DataType::FixedSizeList(_, d) => usize::try_from(*d).ok(),
            _ => None,
        }
        .ok_or_else(|| internal_datafusion_err!("esm2_embed_pooled was planned without a width"))?;
        let array = args.args[0].to_array(n)?;
        let (rows, seqs) = sequences(ESM2_EMBED_POOLED, &array)?;
        let key = exec.model_key(&model_name);
        let handle = tokio::runtime::Handle::current();
        let vectors = engine::on_engine_thread(&model_name, move || -> Result<Vec<Vec<f32>>> {
            if seqs.is_empty() {
                return Ok(Vec::new());
            }
            let (model, layer) = loaded(&key, layer, Some(dim))?;
            let embedder = StoreEmbedder::new(model, exec.batch_tokens, None);
            handle.block_on(cached_vectors(&exec, &embedder, &seqs, layer, pooling))
        })
        .await
        .map_err(Error::from)??;
        let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
        for (row, v) in rows.into_iter().zip(vectors) {
            out[row] = Some(v);
        }
        Ok(ColumnarValue::Array(vectors::fsl_f32(ESM2_EMBED_POOLED, dim, &out)?))
    }
}

/// One batch through the engine's cache ([`engine::cache::vectors`]): hits read through the cache's
/// key index, misses embedded and committed in chunks of `commit_every`, progress reported to the
/// terminal's bar.
async fn cached_vectors(
    config: &EngineConfig,
    embedder: &StoreEmbedder,
    seqs: &[String],
    layer: i64,
    pooling: Pooling,
) -> Result<Vec<Vec<f32>>> {
    use esmdb_store::Embedder as _;
    let store = engine::cache::store(&config.store).await.map_err(Error::from)?;
    let refs: Vec<&str> = seqs.iter().map(String::as_str).collect();
    let model = embedder.model_id().to_owned();
    let residues: usize = refs.iter().collect::<std::collections::HashSet<_>>().iter().map(|s| s.len()).sum();
    let mut on_progress = |p: esmdb_store::EmbedProgress| {
        progress::report(&EmbedEvent {
            model: model.clone(),
            unique: p.unique,
            hits: p.hits,
            misses: p.misses,
            embedded: p.embedded,
            residues,
        })
    };
    let layer =
        i32::try_from(layer).map_err(|_| call_error(ESM2_EMBED_POOLED, format!("layer {layer} is out of range")))?;
    let (vectors, _) =
        engine::cache::vectors(&store, embedder, &refs, layer, pooling, config.commit_every, &mut on_progress)
            .await
            .map_err(Error::from)?;
    Ok(vectors)
}
