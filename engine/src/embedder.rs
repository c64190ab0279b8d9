//! [`StoreEmbedder`]: a loaded [`Model`] as the store's [`esmdb_store::Embedder`], so the store
//! fills its cache without ever linking libtorch.
use std::sync::Arc;

use esmdb_store::{BoxError, OutputKey, Pooling};

use crate::registry::Model;

/// A [`Model`] with batching options, as the store's [`esmdb_store::Embedder`].
///
/// The cache key's model id is the model's, extended by `+truncate<N>` when truncating, so vectors
/// computed differently never share cache rows.
pub struct StoreEmbedder {
    model: Arc<Model>,
    id: String,
    batch_tokens: usize,
    truncate: Option<usize>,
}

impl StoreEmbedder {
    /// Wraps `model` with a token budget and optional truncation.
    pub fn new(model: Arc<Model>, batch_tokens: usize, truncate: Option<usize>) -> Self {
        let mut id = model.id.clone();
        if let Some(n) = truncate {
            id.push_str(&format!("+truncate{n}"));
        }
        StoreEmbedder { model, id, batch_tokens, truncate }
    }

    /// The wrapped model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }
}

impl esmdb_store::Embedder for StoreEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.model.dim
    }

    fn num_layers(&self) -> i32 {
        self.model.num_layers as i32
    }

    fn resolve_layer(&self, layer: i32) -> Option<i32> {
        esmdb_model::resolve_layer(i64::from(layer), self.model.num_layers).and_then(|l| i32::try_from(l).ok())
    }

    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> Result<Vec<Vec<f32>>, BoxError> {
        // The model computes layers × poolings in one pass; ask for the union, pick what was asked.
        let mut layers: Vec<i64> = outputs.iter().map(|k| i64::from(k.layer)).collect();
        layers.sort_unstable();
        layers.dedup();
        let mut pooling: Vec<esmdb_model::Pooling> = outputs.iter().map(|k| model_pooling(k.pooling)).collect();
        pooling.sort_unstable();
        pooling.dedup();
        let mut out = self.model.embed(sequences, layers, pooling, self.batch_tokens, self.truncate)?;
        outputs
            .iter()
            .map(|k| {
                let i = out
                    .specs
                    .iter()
                    .position(|s| s.layer == i64::from(k.layer) && s.pooling == model_pooling(k.pooling))
                    .ok_or_else(|| format!("the model returned no {} output for layer {}", k.pooling, k.layer))?;
                Ok(std::mem::take(&mut out.values[i]))
            })
            .collect()
    }
}

fn model_pooling(p: Pooling) -> esmdb_model::Pooling {
    match p {
        Pooling::Mean => esmdb_model::Pooling::Mean,
        Pooling::Bos => esmdb_model::Pooling::Bos,
    }
}
