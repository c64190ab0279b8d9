//! ESM2 on libtorch, ported from transformers' `models/esm/modeling_esm.py` (`EsmModel`) and
//! fair-esm's `esm/model/esm2.py` (`ESM2`), which compute the same function.
//!
//! The masked-LM head (`EsmLMHead`; fair-esm's `RobertaLMHead`) is loaded when the checkpoint has it
//! (`EsmForMaskedLM` files and fair-esm `.pt` files do, `EsmModel` files do not): it turns the last
//! layer into per-token logits for zero-shot scoring ([`Esm2::logits`]).
//!
//! Layout follows the checkpoint: fields are named like the Hugging Face keys they are loaded from,
//! so a mapping bug shows up as a missing-tensor error rather than as silently wrong numbers.
use tch::{Device, Kind, Tensor};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::nn::{self, EsmLayer, LayerNorm, Linear, Loader, Rotary};
use crate::weights::Weights;

/// The masked-LM head: dense → GELU → LayerNorm → decoder tied to the token embedding, plus a bias.
/// modeling_esm.py `EsmLMHead`; fair-esm `RobertaLMHead`.
struct LmHead {
    dense: Linear,         // lm_head.dense
    layer_norm: LayerNorm, // lm_head.layer_norm
    decoder: Tensor,       // lm_head.decoder.weight [vocab, hidden] (= the token embedding when tied)
    bias: Tensor,          // lm_head.bias [vocab]
}

impl LmHead {
    /// `None` when the checkpoint has no head at all; an error when it has part of one.
    fn load(w: &Loader, cfg: &Config, word_embeddings: &Tensor) -> Result<Option<Self>> {
        if !w.weights.contains("lm_head.dense.weight") {
            return Ok(None);
        }
        let (d, v) = (cfg.hidden_size, cfg.vocab_size);
        // Hub files often drop the tied decoder (it is the token embedding); fair-esm files carry it.
        let decoder = if w.weights.contains("lm_head.decoder.weight") {
            w.get("lm_head.decoder.weight", &[v, d])?
        } else {
            word_embeddings.shallow_clone()
        };
        Ok(Some(LmHead {
            dense: Linear::load(w, "lm_head.dense", d, d)?,
            layer_norm: LayerNorm::load(w, "lm_head.layer_norm", d, cfg.layer_norm_eps)?,
            decoder,
            bias: w.get("lm_head.bias", &[v])?,
        }))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.dense.forward(x)?.f_gelu("none")?;
        let h = self.layer_norm.forward(&h)?;
        Ok(h.f_linear(&self.decoder, Some(&self.bias))?)
    }
}

fn no_lm_head() -> Error {
    Error::Option(
        "this checkpoint has no masked-LM head (`lm_head.*` tensors; an `EsmModel` export drops them): \
         zero-shot scores and logits need an `EsmForMaskedLM` or fair-esm checkpoint"
            .into(),
    )
}

/// An ESM2 encoder ready for inference.
pub struct Esm2 {
    config: Config,
    device: Device,
    kind: Kind,
    word_embeddings: Tensor, // embeddings.word_embeddings.weight [vocab, hidden]
    layers: Vec<EsmLayer>,   // encoder.layer.{i}
    emb_layer_norm_after: LayerNorm,
    lm_head: Option<LmHead>,
    inv_freq: Tensor,
}

impl std::fmt::Debug for Esm2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Esm2")
            .field("config", &self.config)
            .field("device", &self.device)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Esm2 {
    /// Builds the model from canonical weights, checking every tensor's presence and shape.
    pub fn load(config: &Config, weights: &Weights, device: Device, kind: Kind) -> Result<Self> {
        let w = Loader { weights, device, kind };
        let d = config.hidden_size;
        let (f, heads, eps) = (config.intermediate_size, config.num_attention_heads, config.layer_norm_eps);
        let layers = (0..config.num_hidden_layers)
            .map(|i| EsmLayer::load(&w, &format!("encoder.layer.{i}"), d, f, heads, eps))
            .collect::<Result<Vec<_>>>()?;
        let inv_freq = nn::rotary_inv_freq(config.head_dim(), device)?;
        let word_embeddings = w.get("embeddings.word_embeddings.weight", &[config.vocab_size, d])?;
        let lm_head = LmHead::load(&w, config, &word_embeddings)?;
        Ok(Esm2 {
            config: config.clone(),
            device,
            kind,
            word_embeddings,
            layers,
            emb_layer_norm_after: LayerNorm::load(&w, "encoder.emb_layer_norm_after", d, config.layer_norm_eps)?,
            lm_head,
            inv_freq,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The compute dtype.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the checkpoint carried the masked-LM head ([`Esm2::logits`] needs it).
    pub fn has_lm_head(&self) -> bool {
        self.lm_head.is_some()
    }

    /// The masked-LM head's logits for `tokens` ([batch, seq] int64, `<pad>`-padded): [batch, seq,
    /// vocab] in the compute dtype, every position (`<cls>`/`<eos>` included), as
    /// `EsmForMaskedLM(...).logits` and fair-esm's `model(tokens)["logits"]`.
    pub fn logits(&self, tokens: &Tensor) -> Result<Tensor> {
        let head = self.lm_head.as_ref().ok_or_else(no_lm_head)?;
        let last = nn::last_layer(self.config.num_hidden_layers, |deepest, record| self.run(tokens, deepest, record))?;
        let _guard = tch::no_grad_guard();
        head.forward(&last)
    }

    /// The head applied to last-layer hidden states ([batch, seq, hidden]) already computed.
    pub(crate) fn head(&self, last: &Tensor) -> Result<Tensor> {
        let head = self.lm_head.as_ref().ok_or_else(no_lm_head)?;
        let _guard = tch::no_grad_guard();
        head.forward(last)
    }

    /// Runs the encoder on `tokens` ([batch, seq] int64, `<pad>`-padded) and returns the hidden states
    /// of each requested layer (0 = embeddings, `num_layers` = after the final LayerNorm), in the order
    /// asked. Layers past the deepest requested one are not computed.
    pub fn forward(&self, tokens: &Tensor, layers: &[i64]) -> Result<Vec<Tensor>> {
        nn::requested_layers(layers, self.config.num_hidden_layers, |deepest, record| self.run(tokens, deepest, record))
    }

    /// The forward pass up to block `deepest`, handing each stage to `record`.
    fn run(&self, tokens: &Tensor, deepest: i64, record: &mut dyn FnMut(i64, &Tensor)) -> Result<()> {
        let n = self.config.num_hidden_layers;
        let tokens = tokens.f_to_device(self.device)?;
        let (_, t) = tokens.size2()?;
        let keep = tokens.f_ne(self.config.pad_token_id)?; // [batch, seq]

        // EsmEmbeddings (token dropout as applied at inference), padded positions zeroed.
        let mut x = Tensor::f_embedding(&self.word_embeddings, &tokens, -1, false, false)?;
        if self.config.token_dropout {
            x = nn::token_dropout(&x, &tokens, &keep, self.config.mask_token_id, self.kind)?;
        }
        x = x.f_mul(&keep.f_unsqueeze(-1)?.f_to_kind(self.kind)?)?;

        let lengths = nn::padded_lengths(&keep)?;
        let rope = Rotary::new(&self.inv_freq, t, self.kind)?;
        record(0, &x);
        for (i, layer) in self.layers.iter().enumerate().take(deepest as usize) {
            x = layer.forward(&x, Some(&rope), lengths.as_deref())?;
            let l = i as i64 + 1;
            if l == n {
                x = self.emb_layer_norm_after.forward(&x)?;
            }
            record(l, &x);
        }
        Ok(())
    }
}
