//! The bridge between the ESM2 engine (`esmdb-model`, tch) and the store's [`esmdb_store::Embedder`]
//! trait, so the store never links libtorch.
//!
//! The cache key's model id is the engine's `name@checksum`, extended by anything else that changes
//! the numbers: `+bf16`/`+fp16` for reduced precision and `+truncate<N>` for truncation, so vectors
//! computed differently never share cache rows.
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use esmdb_model::{EmbedOptions, LoadedModel, Precision};
use esmdb_store::{BoxError, OutputKey, Pooling};

/// An ESM2 model as a store [`esmdb_store::Embedder`]. libtorch tensors are `Send` but not `Sync`, so the
/// model sits behind a mutex: one forward pass at a time, which is what libtorch's own threading wants.
pub struct EsmEmbedder {
    model: Mutex<LoadedModel>,
    dim: usize,
    num_layers: i32,
    id: String,
    batch_tokens: usize,
    truncate: Option<usize>,
    /// Sequences passed through the model so far (one forward pass each).
    pub forward_passes: AtomicUsize,
}

impl EsmEmbedder {
    /// Wraps a loaded model with the batching options of `esmdb embed`.
    pub fn new(model: LoadedModel, precision: Precision, batch_tokens: usize, truncate: Option<usize>) -> Self {
        let mut id = model.id.clone();
        match precision {
            Precision::F32 => {}
            Precision::Bf16 => id.push_str("+bf16"),
            Precision::F16 => id.push_str("+fp16"),
        }
        if let Some(n) = truncate {
            id.push_str(&format!("+truncate{n}"));
        }
        let dim = model.embedder.dim();
        let num_layers = model.embedder.model().config().num_hidden_layers as i32;
        EsmEmbedder {
            model: Mutex::new(model),
            dim,
            num_layers,
            id,
            batch_tokens,
            truncate,
            forward_passes: AtomicUsize::new(0),
        }
    }
}

impl esmdb_store::Embedder for EsmEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn num_layers(&self) -> i32 {
        self.num_layers
    }

    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> Result<Vec<Vec<f32>>, BoxError> {
        // The engine computes layers × poolings in one pass; ask for the union, pick what was asked.
        let mut layers: Vec<i64> = outputs.iter().map(|k| i64::from(k.layer)).collect();
        layers.sort_unstable();
        layers.dedup();
        let mut pooling: Vec<esmdb_model::Pooling> = outputs.iter().map(|k| engine_pooling(k.pooling)).collect();
        pooling.sort_unstable();
        pooling.dedup();
        let options = EmbedOptions { layers, pooling, batch_tokens: self.batch_tokens, truncate: self.truncate };
        let ids: Vec<String> = (0..sequences.len()).map(|i| format!("seq{i}")).collect();
        let pairs: Vec<(&str, &str)> = ids.iter().map(String::as_str).zip(sequences.iter().copied()).collect();
        let model = self.model.lock().map_err(|_| "the model lock was poisoned by an earlier panic")?;
        let mut out = model.embedder.embed(&pairs, &options)?;
        drop(model);
        self.forward_passes.fetch_add(sequences.len(), Ordering::Relaxed);
        outputs
            .iter()
            .map(|k| {
                let i = out
                    .specs
                    .iter()
                    .position(|s| s.layer == i64::from(k.layer) && s.pooling == engine_pooling(k.pooling))
                    .ok_or_else(|| format!("engine returned no {} output for layer {}", k.pooling, k.layer))?;
                Ok(std::mem::take(&mut out.values[i]))
            })
            .collect()
    }
}

fn engine_pooling(p: Pooling) -> esmdb_model::Pooling {
    match p {
        Pooling::Mean => esmdb_model::Pooling::Mean,
        Pooling::Bos => esmdb_model::Pooling::Bos,
    }
}
