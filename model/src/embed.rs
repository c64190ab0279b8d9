//! Embedding many sequences: tokenization, length-sorted token-budget batching, pooling on the device.
//!
//! Pooling follows fair-esm's `scripts/extract.py`: `mean` averages the residue positions only
//! (never `<cls>`/`<eos>`), `bos` is the `<cls>` vector, `per_tok` the residue vectors. `logits` is not
//! a pooling of a layer but the masked-LM head's per-residue logits over the model's vocabulary
//! ([`crate::alphabet::TOKENS`] order; AMPLIFY's own [`crate::amplify::TOKENS`]), read from the last block.
//! Each model tokenizes and frames sequences with its own vocabulary ([`Encoder::tokenize`],
//! [`Encoder::specials`]: `<cls>`/`<eos>` for ESM, `<bos>`/`<eos>` for AMPLIFY).
use std::str::FromStr;

use tch::{Kind, Tensor};

use crate::encoder::Encoder;
use crate::error::{Error, Result};

/// How per-token representations are reduced to what is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pooling {
    /// Mean over residue positions (extract.py `mean`).
    Mean,
    /// The `<cls>` (beginning of sequence) vector (extract.py `bos`).
    Bos,
    /// Every residue's vector (extract.py `per_tok`).
    PerToken,
    /// Every residue's masked-LM logits, the model's vocabulary wide
    /// ([`VOCAB_SIZE`](crate::alphabet::VOCAB_SIZE) for ESM2/ESM-1, 64 for ESM C, 27 for AMPLIFY; the head
    /// reads the last block, whatever layers are asked).
    Logits,
}

impl Pooling {
    /// The name used in column names and on the command line: `mean`, `bos`, `per_tok`.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Bos => "bos",
            Pooling::PerToken => "per_tok",
            Pooling::Logits => "logits",
        }
    }

    /// One row per residue (`per_tok`, `logits`) rather than one per sequence.
    pub fn per_residue(self) -> bool {
        matches!(self, Pooling::PerToken | Pooling::Logits)
    }
}

impl FromStr for Pooling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mean" => Ok(Pooling::Mean),
            "bos" | "cls" => Ok(Pooling::Bos),
            "per_tok" | "per_token" | "per-tok" => Ok(Pooling::PerToken),
            "logits" => Ok(Pooling::Logits),
            other => Err(Error::Option(format!("unknown pooling `{other}`; expected mean, bos, per_tok or logits"))),
        }
    }
}

/// Options of [`Embedder::embed_batches`].
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Layers to return (0 = embeddings, N = after the final LayerNorm; negative counts from the end,
    /// -1 = N). Default: the last layer.
    pub layers: Vec<i64>,
    /// Poolings to return for each layer. Default: mean.
    pub pooling: Vec<Pooling>,
    /// Token budget per batch, padding included (`<cls>`/`<eos>` count). Default 4096, as fair-esm's
    /// `toks_per_batch`. A sequence longer than the budget runs alone.
    pub batch_tokens: usize,
    /// Keep only the first `n` residues of each sequence (fair-esm extract.py uses 1022). Default: none,
    /// the whole sequence is embedded (rotary positions allow any length).
    pub truncate: Option<usize>,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions { layers: vec![-1], pooling: vec![Pooling::Mean], batch_tokens: 4096, truncate: None }
    }
}

/// Longest sequence ESM2 saw in training; longer ones are embedded whole but warned about.
pub const TRAINING_MAX_RESIDUES: usize = 1022;

/// One requested output: a (layer, pooling) pair, with the layer already resolved to 0..=N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpec {
    /// Layer index in 0..=num_layers.
    pub layer: i64,
    /// Pooling.
    pub pooling: Pooling,
}

impl OutputSpec {
    /// Column name `mean_L6`, `bos_L3`, `per_tok_L6`; `logits` (always the last layer).
    pub fn column_name(&self) -> String {
        match self.pooling {
            Pooling::Logits => "logits".into(),
            p => format!("{}_L{}", p.name(), self.layer),
        }
    }
}

/// The outputs of one batch, for the sequences at `indices` (positions in the caller's input).
#[derive(Debug, Clone)]
pub struct BatchEmbeddings {
    /// Input positions of the sequences in this batch.
    pub indices: Vec<usize>,
    /// Number of residues embedded per sequence (after truncation).
    pub lengths: Vec<usize>,
    /// One flat row-major f32 buffer per [`OutputSpec`], in the order of [`Embedder::outputs`]:
    /// `[n, width]` for mean/bos, `[sum(lengths), width]` for per_tok and logits (sequences
    /// concatenated); the width is [`Embedder::width`].
    pub values: Vec<Vec<f32>>,
}

/// Embeds sequences with a loaded [`Esm2`].
#[derive(Debug)]
pub struct Embedder {
    model: Encoder,
}

/// A tokenized input, ready for batching.
struct Tokenized {
    index: usize,
    tokens: Vec<i64>,
}

impl Embedder {
    /// Wraps a model.
    pub fn new(model: impl Into<Encoder>) -> Self {
        Embedder { model: model.into() }
    }

    /// The model.
    pub fn model(&self) -> &Encoder {
        &self.model
    }

    /// Width of every returned hidden-state vector.
    pub fn dim(&self) -> usize {
        self.model.hidden_size() as usize
    }

    /// Width of `pooling`'s rows: the hidden size, or the vocabulary for logits.
    pub fn width(&self, pooling: Pooling) -> usize {
        match pooling {
            Pooling::Logits => self.model.vocab_size() as usize,
            _ => self.dim(),
        }
    }

    /// Resolves the (layer, pooling) outputs `options` asks for, validating layers.
    pub fn outputs(&self, options: &EmbedOptions) -> Result<Vec<OutputSpec>> {
        let n = self.model.num_layers();
        if options.layers.is_empty() || options.pooling.is_empty() {
            return Err(Error::Option("at least one layer and one pooling are needed".into()));
        }
        let mut specs = Vec::new();
        for &l in &options.layers {
            let Some(layer) = crate::resolve_layer(l, n) else {
                return Err(Error::Option(format!("layer {l} out of range: this model has layers 0..={n}")));
            };
            for &pooling in &options.pooling {
                if pooling == Pooling::Logits && !self.model.has_lm_head() {
                    return Err(Error::Option(
                        "logits need the masked-LM head, and this checkpoint has none (an `EsmModel` export); \
                         use an `EsmForMaskedLM` or fair-esm checkpoint"
                            .into(),
                    ));
                }
                let layer = if pooling == Pooling::Logits { n } else { layer };
                let spec = OutputSpec { layer, pooling };
                if !specs.contains(&spec) {
                    specs.push(spec);
                }
            }
        }
        Ok(specs)
    }

    /// Embeds `sequences` (id, sequence) batch by batch, calling `on_batch` after each one.
    ///
    /// Every sequence is validated before any computation, so a bad one fails the call with nothing
    /// passed to `on_batch`. Batches are formed over length-sorted sequences under the token budget;
    /// `on_batch` sees them in that order with their input positions.
    pub fn embed_batches<S: AsRef<str>, T: AsRef<str>>(
        &self,
        sequences: &[(S, T)],
        options: &EmbedOptions,
        mut on_batch: impl FnMut(BatchEmbeddings) -> Result<()>,
    ) -> Result<()> {
        let specs = self.outputs(options)?;
        let mut inputs = Vec::with_capacity(sequences.len());
        for (index, (id, seq)) in sequences.iter().enumerate() {
            let mut tokens = self.model.tokenize(id.as_ref(), seq.as_ref())?;
            if let Some(n) = options.truncate {
                tokens.truncate(n.max(1));
            } else if let Some(max) = self.model.max_residues().filter(|&m| tokens.len() > m) {
                return Err(Error::Option(format!(
                    "sequence `{}` has {} residues; this {} model embeds at most {max} (learned positions): \
                     truncate it (--truncate {max})",
                    id.as_ref(),
                    tokens.len(),
                    self.model.family().name()
                )));
            } else if tokens.len() > TRAINING_MAX_RESIDUES {
                tracing::warn!(
                    id = id.as_ref(),
                    residues = tokens.len(),
                    "sequence longer than ESM2's training length (1022 residues); embedded whole"
                );
            }
            inputs.push(Tokenized { index, tokens });
        }
        inputs.sort_by_key(|t| t.tokens.len());
        let layers: Vec<i64> = {
            let mut l: Vec<i64> = specs.iter().map(|s| s.layer).collect();
            l.sort_unstable();
            l.dedup();
            l
        };
        for batch in batches(&inputs, options.batch_tokens) {
            on_batch(self.run_batch(batch, &specs, &layers)?)?;
        }
        Ok(())
    }

    /// Embeds everything and returns one buffer per output in input order (see [`BatchEmbeddings`]).
    pub fn embed<S: AsRef<str>, T: AsRef<str>>(
        &self,
        sequences: &[(S, T)],
        options: &EmbedOptions,
    ) -> Result<Embeddings> {
        self.embed_with_progress(sequences, options, |_| {})
    }

    /// [`Embedder::embed`], calling `progress(n)` after each batch of `n` sequences.
    pub fn embed_with_progress<S: AsRef<str>, T: AsRef<str>>(
        &self,
        sequences: &[(S, T)],
        options: &EmbedOptions,
        mut progress: impl FnMut(usize),
    ) -> Result<Embeddings> {
        let specs = self.outputs(options)?;
        let widths: Vec<usize> = specs.iter().map(|s| self.width(s.pooling)).collect();
        let mut per_seq: Vec<Option<(usize, Vec<Vec<f32>>)>> = (0..sequences.len()).map(|_| None).collect();
        self.embed_batches(sequences, options, |b| {
            let mut offsets = vec![0usize; specs.len()];
            for (row, (&index, &len)) in b.indices.iter().zip(&b.lengths).enumerate() {
                let parts = specs
                    .iter()
                    .enumerate()
                    .map(|(k, spec)| {
                        let w = widths[k];
                        let n = if spec.pooling.per_residue() { len * w } else { w };
                        let start = if spec.pooling.per_residue() { offsets[k] } else { row * w };
                        offsets[k] += n;
                        b.values[k][start..start + n].to_vec()
                    })
                    .collect();
                per_seq[index] = Some((len, parts));
            }
            progress(b.indices.len());
            Ok(())
        })?;
        let mut lengths = Vec::with_capacity(sequences.len());
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); specs.len()];
        for (len, parts) in per_seq.into_iter().flatten() {
            lengths.push(len);
            for (v, p) in values.iter_mut().zip(parts) {
                v.extend(p);
            }
        }
        Ok(Embeddings { specs, dim: self.dim(), widths, lengths, values })
    }

    fn run_batch(&self, batch: &[Tokenized], specs: &[OutputSpec], layers: &[i64]) -> Result<BatchEmbeddings> {
        let max_len = batch.iter().map(|t| t.tokens.len()).max().unwrap_or(0);
        let width = max_len + 2;
        let sp = self.model.specials();
        let mut ids = vec![sp.pad; batch.len() * width];
        for (row, t) in batch.iter().enumerate() {
            let r = &mut ids[row * width..(row + 1) * width];
            r[0] = sp.bos;
            r[1..=t.tokens.len()].copy_from_slice(&t.tokens);
            r[t.tokens.len() + 1] = sp.eos;
        }
        let tokens = Tensor::f_from_slice(&ids)?.f_view([batch.len() as i64, width as i64])?;
        let want_logits = specs.iter().any(|s| s.pooling == Pooling::Logits);
        let (hidden, logits) = self.model.forward_with_logits(&tokens, layers, want_logits)?;
        let lengths: Vec<usize> = batch.iter().map(|t| t.tokens.len()).collect();
        let _guard = tch::no_grad_guard();
        let device = self.model.device();

        // Residue mask [batch, seq, 1]: positions 1..=len, built once for mean pooling.
        let lens = Tensor::f_from_slice(&lengths.iter().map(|&l| l as i64).collect::<Vec<_>>())?.f_to_device(device)?;
        let pos = Tensor::f_arange(width as i64, (Kind::Int64, device))?.f_unsqueeze(0)?;
        let residue_mask = pos
            .f_ge(1)?
            .f_logical_and(&pos.f_le_tensor(&lens.f_unsqueeze(1)?)?)?
            .f_unsqueeze(-1)?
            .f_to_kind(Kind::Float)?;

        let mut values = Vec::with_capacity(specs.len());
        for spec in specs {
            let li = layers.iter().position(|&l| l == spec.layer).unwrap_or(0);
            // Pool in f32 whatever the compute dtype, on the model's device.
            let h = hidden[li].f_to_kind(Kind::Float)?;
            let pooled = match spec.pooling {
                Pooling::Mean => h
                    .f_mul(&residue_mask)?
                    .f_sum_dim_intlist(1, false, Kind::Float)?
                    .f_div(&lens.f_unsqueeze(1)?.f_to_kind(Kind::Float)?)?,
                Pooling::Bos => h.f_select(1, 0)?,
                Pooling::PerToken | Pooling::Logits => {
                    let h = match (spec.pooling, &logits) {
                        (Pooling::Logits, Some(logits)) => logits.f_to_kind(Kind::Float)?,
                        (Pooling::Logits, None) => return Err(Error::Option("no logits were computed".into())),
                        _ => h,
                    };
                    let rows = lengths
                        .iter()
                        .enumerate()
                        .map(|(i, &l)| h.f_select(0, i as i64)?.f_narrow(0, 1, l as i64))
                        .collect::<Result<Vec<_>, _>>()?;
                    Tensor::f_cat(&rows, 0)?
                }
            };
            let flat = pooled.f_to_device(tch::Device::Cpu)?.f_contiguous()?.f_view([-1])?;
            values.push(Vec::<f32>::try_from(&flat)?);
        }
        Ok(BatchEmbeddings { indices: batch.iter().map(|t| t.index).collect(), lengths, values })
    }
}

/// Length-sorted inputs cut into batches of at most `budget` padded tokens.
fn batches(sorted: &[Tokenized], budget: usize) -> Vec<&[Tokenized]> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in 1..=sorted.len() {
        // Sorted ascending, so the batch's width is that of its last member.
        let width = sorted[end - 1].tokens.len() + 2;
        if end - start > 1 && (end - start) * width > budget {
            out.push(&sorted[start..end - 1]);
            start = end - 1;
        }
    }
    if start < sorted.len() {
        out.push(&sorted[start..]);
    }
    out
}

/// All outputs of [`Embedder::embed`], in input order.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// The outputs, in order.
    pub specs: Vec<OutputSpec>,
    /// Hidden-state width.
    pub dim: usize,
    /// Row width of each spec's values: `dim`, or the vocabulary size for logits.
    pub widths: Vec<usize>,
    /// Residues embedded per sequence.
    pub lengths: Vec<usize>,
    /// One flat buffer per spec: `[n, width]` or, per residue, `[sum(lengths), width]`.
    pub values: Vec<Vec<f32>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(lens: &[usize]) -> Vec<Tokenized> {
        lens.iter().enumerate().map(|(index, &n)| Tokenized { index, tokens: vec![4; n] }).collect()
    }

    #[test]
    fn batches_respect_the_token_budget() {
        let inputs = tok(&[1, 2, 3, 8, 8, 30]);
        let b = batches(&inputs, 20);
        let sizes: Vec<usize> = b.iter().map(|b| b.len()).collect();
        // widths 3,4,5 → 3 seqs × 5 = 15 ≤ 20; 8+2=10 → 2 × 10 = 20; 32 > 20 alone.
        assert_eq!(sizes, vec![3, 2, 1]);
        for batch in &b {
            let w = batch.iter().map(|t| t.tokens.len() + 2).max().unwrap();
            assert!(batch.len() == 1 || batch.len() * w <= 20);
        }
    }

    #[test]
    fn pooling_names_parse() {
        assert_eq!("per_tok".parse::<Pooling>().unwrap(), Pooling::PerToken);
        assert!("median".parse::<Pooling>().unwrap_err().to_string().contains("unknown pooling `median`"));
    }
}
