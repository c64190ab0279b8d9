//! `esm_score(sequence, mutant [, method [, model [, layer]]])` → Float64: the zero-shot score of a
//! variant from the model's masked-LM head, log p(mutant) − log p(wild type) summed over the
//! mutated positions, as fair-esm's variant-prediction example computes it.
//!
//! `method` is `'masked-marginals'` (default; one forward pass per wild-type position) or
//! `'wt-marginals'` (one pass). The wild type is the row's sequence with its mutations reverted; its
//! table of per-position log-probabilities is computed once and kept in the store (`log_probs`),
//! so every variant of a dataset, and every later query, is a lookup (`esmdb_engine::score`).
//! The head reads the last layer: `layer`, when given, must name it.
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use async_trait::async_trait;
use datafusion::common::{ScalarValue, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use esmdb_engine::score::{Variant, prepare, score_prepared};
use esmdb_model::ScoreMethod;
use esmdb_store::Store;

use super::embed::{call_args, check_sequence_arg, constant_args, exec_config, loaded, signature};
use super::vectors;
use crate::error::{Error, call_error};
use crate::options::EngineConfig;
use esmdb_engine as engine;

/// The function's name.
pub const ESM_SCORE: &str = "esm_score";

/// `esm_score`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EsmScoreUdf {
    config: EngineConfig,
    signature: Signature,
}

impl EsmScoreUdf {
    /// The function under the session's `config` (its default model and layer).
    pub fn udf(config: EngineConfig) -> ScalarUDF {
        AsyncScalarUDF::new(Arc::new(EsmScoreUdf { config, signature: signature(2, 5) })).into_scalar_udf()
    }
}

/// The method argument (constant), `masked-marginals` when absent.
fn method_arg(fields: &[FieldRef], s: Option<&ScalarValue>) -> Result<ScoreMethod> {
    if fields.len() < 3 {
        return Ok(ScoreMethod::MaskedMarginals);
    }
    match s.and_then(|s| s.try_as_str()) {
        Some(Some(m)) => m.parse().map_err(|e: esmdb_model::Error| {
            let message = match e {
                esmdb_model::Error::Option(message) => message,
                other => other.to_string(),
            };
            call_error(ESM_SCORE, message)
        }),
        _ => Err(call_error(ESM_SCORE, "the method must be the constant 'masked-marginals' or 'wt-marginals'")),
    }
}

fn check_mutant_arg(fields: &[FieldRef]) -> Result<()> {
    match fields.get(1).map(|f| f.data_type()) {
        Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) => Ok(()),
        Some(other) => Err(call_error(ESM_SCORE, format!("the mutant must be a string like 'Q2C:A5G', got {other}"))),
        None => Err(call_error(ESM_SCORE, "missing the mutant argument")),
    }
}

/// The head reads the last layer; a `layer` argument must name it (`-1` or the layer count).
fn check_layer(layer: i64, num_layers: i64, model: &str) -> Result<()> {
    let resolved = engine::resolve_layer(layer, num_layers, model).map_err(Error::from)?;
    if resolved != num_layers {
        return Err(call_error(
            ESM_SCORE,
            format!(
                "layer {layer}: the masked-LM head reads the last layer ({num_layers}, or -1) of `{model}`; \
                 scores from other layers are not defined"
            ),
        ));
    }
    Ok(())
}

impl ScalarUDFImpl for EsmScoreUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        super::doc::of(self.name())
    }

    fn name(&self) -> &str {
        ESM_SCORE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        check_sequence_arg(ESM_SCORE, args.arg_fields)?;
        check_mutant_arg(args.arg_fields)?;
        method_arg(args.arg_fields, args.scalar_arguments.get(2).copied().flatten())?;
        // Model and layer checked without loading weights, as esm2_embed's are.
        let (model, layer) = call_args(ESM_SCORE, &self.config, args.scalar_arguments, args.arg_fields, 3)?;
        let shape = engine::model_shape(&model, &self.config.model_key(&model)).map_err(Error::from)?;
        check_layer(layer, shape.num_layers, &model)?;
        Ok(Arc::new(Field::new(ESM_SCORE, DataType::Float64, true)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        internal_err!("esm_score is async")
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for EsmScoreUdf {
    fn ideal_batch_size(&self) -> Option<usize> {
        // Scores are lookups once the wild type's table exists: large batches cost nothing.
        Some(8192)
    }

    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let exec = exec_config(&args);
        let scalars = constant_args(&args);
        let scalar_refs: Vec<Option<&ScalarValue>> = scalars.iter().map(Option::as_ref).collect();
        let method = method_arg(&args.arg_fields, scalar_refs.get(2).copied().flatten())?;
        let (model_name, layer) = call_args(ESM_SCORE, &exec, &scalar_refs, &args.arg_fields, 3)?;
        let (rows, variants) = variants(&args.args[0].to_array(n)?, &args.args[1].to_array(n)?)?;
        // Mutants are checked against their sequences before any model is loaded.
        let pairs: Vec<Variant> =
            variants.iter().map(|(s, m)| Variant { sequence: s.as_str(), mutant: m.as_str() }).collect();
        let prepared = prepare(&pairs, &|i| format!("{ESM_SCORE}: row {}", rows[i] + 1)).map_err(Error::from)?;
        let key = exec.model_key(&model_name);
        let handle = tokio::runtime::Handle::current();
        let name = model_name.clone();
        let scores = engine::on_engine_thread(&model_name, move || -> Result<Vec<f64>> {
            if prepared.wild_types() == 0 {
                // Only wild-type rows (or none): every score is 0, no model needed.
                return Ok(vec![0.0; prepared.len()]);
            }
            let (model, _) = loaded(&key, -1, None)?;
            check_layer(layer, model.num_layers, &name)?;
            handle.block_on(async {
                let store = Store::open_or_create(&exec.store).await.map_err(Error::from)?;
                let (scores, _) =
                    score_prepared(&store, &model, method, exec.batch_tokens, &prepared).await.map_err(Error::from)?;
                Ok(scores)
            })
        })
        .await
        .map_err(Error::from)??;
        let mut out: Vec<Option<f64>> = vec![None; n];
        for (row, s) in rows.into_iter().zip(scores) {
            out[row] = Some(s);
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out)) as ArrayRef))
    }
}

/// (row, normalized sequence, mutant) of the rows with both values; NULL in either gives NULL.
#[allow(clippy::type_complexity)]
fn variants(sequences: &ArrayRef, mutants: &ArrayRef) -> Result<(Vec<usize>, Vec<(String, String)>)> {
    let seqs = vectors::strings(ESM_SCORE, sequences)?;
    let muts = vectors::strings(ESM_SCORE, mutants)?;
    let mut rows = Vec::new();
    let mut out = Vec::new();
    for (i, (s, m)) in seqs.into_iter().zip(muts).enumerate() {
        let (Some(s), Some(m)) = (s, m) else { continue };
        let normalized = esmdb_store::normalize(&s)
            .map_err(|refusal| call_error(ESM_SCORE, refusal.for_id(&format!("row {}", i + 1)).to_string()))?;
        rows.push(i);
        out.push((normalized, m));
    }
    Ok((rows, out))
}
