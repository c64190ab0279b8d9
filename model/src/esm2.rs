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
use crate::weights::Weights;

/// `nn.Linear`.
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn load(w: &Loader, prefix: &str, out_dim: i64, in_dim: i64) -> Result<Self> {
        Ok(Linear {
            weight: w.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?,
            bias: w.get(&format!("{prefix}.bias"), &[out_dim])?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear(&self.weight, Some(&self.bias))?)
    }
}

/// `nn.LayerNorm` (fair-esm's `ESM1bLayerNorm`).
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn load(w: &Loader, prefix: &str, dim: i64, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: w.get(&format!("{prefix}.weight"), &[dim])?,
            bias: w.get(&format!("{prefix}.bias"), &[dim])?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dim = self.weight.size();
        Ok(x.f_layer_norm(&dim, Some(&self.weight), Some(&self.bias), self.eps, true)?)
    }
}

/// Weights accessor bound to a device and dtype.
struct Loader<'a> {
    weights: &'a Weights,
    device: Device,
    kind: Kind,
}

impl Loader<'_> {
    fn get(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        self.weights.get(name, shape, self.kind, self.device)
    }
}

/// `EsmSelfAttention` + `EsmSelfOutput` with the pre-attention `EsmAttention.LayerNorm`.
/// modeling_esm.py `EsmAttention`; esm2.py `TransformerLayer` first half.
struct EsmAttention {
    layer_norm: LayerNorm, // attention.LayerNorm
    /// attention.self.{query,key,value} stacked into one [3 × hidden, hidden] projection: one GEMM
    /// instead of three over the same activations.
    qkv: Linear,
    dense: Linear, // attention.output.dense
    num_heads: i64,
    head_dim: i64,
}

impl EsmAttention {
    fn load(w: &Loader, p: &str, cfg: &Config) -> Result<Self> {
        let d = cfg.hidden_size;
        let q = Linear::load(w, &format!("{p}.attention.self.query"), d, d)?;
        let k = Linear::load(w, &format!("{p}.attention.self.key"), d, d)?;
        let v = Linear::load(w, &format!("{p}.attention.self.value"), d, d)?;
        let qkv = Linear {
            weight: Tensor::f_cat(&[&q.weight, &k.weight, &v.weight], 0)?,
            bias: Tensor::f_cat(&[&q.bias, &k.bias, &v.bias], 0)?,
        };
        Ok(EsmAttention {
            layer_norm: LayerNorm::load(w, &format!("{p}.attention.LayerNorm"), d, cfg.layer_norm_eps)?,
            qkv,
            dense: Linear::load(w, &format!("{p}.attention.output.dense"), d, d)?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// x: [batch, seq, hidden] → [batch, seq, hidden] (residual added). `lengths` (tokens per row,
    /// `<cls>`/`<eos>` included) is given when rows are padded.
    fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[i64]>) -> Result<Tensor> {
        let (b, t, d) = x.size3()?;
        let h = self.layer_norm.forward(x)?;
        // [3, batch, heads, seq, head_dim]
        let qkv = self.qkv.forward(&h)?.f_view([b, t, 3, self.num_heads, self.head_dim])?.f_permute([2, 0, 3, 1, 4])?;
        // Scale before the rotation, as both references do ("For BC we apply scaling before RoPE").
        let q = qkv.f_select(0, 0)?.f_mul_scalar((self.head_dim as f64).powf(-0.5))?;
        let k = qkv.f_select(0, 1)?;
        let v = qkv.f_select(0, 2)?;
        let (q, k) = (rope.apply(&q)?, rope.apply(&k)?);
        let ctx = match lengths {
            None => Tensor::f_scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, 0.0, false, Some(1.0), false)?,
            // Padded rows: attend each sequence over its own tokens only. This equals a key-padding mask
            // but keeps libtorch on its fused (flash) CPU kernel instead of the masked math path, which
            // materializes [batch, heads, seq, seq] scores and was ~3× slower on mixed-length sets.
            // Padded query positions get zeros; nothing reads them.
            Some(lengths) => {
                let rows = lengths
                    .iter()
                    .enumerate()
                    .map(|(i, &len)| {
                        let part = |x: &Tensor| x.f_narrow(0, i as i64, 1)?.f_narrow(2, 0, len);
                        let o = Tensor::f_scaled_dot_product_attention(
                            &part(&q)?,
                            &part(&k)?,
                            &part(&v)?,
                            None::<Tensor>,
                            0.0,
                            false,
                            Some(1.0),
                            false,
                        )?;
                        o.f_constant_pad_nd([0, 0, 0, t - len])
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Tensor::f_cat(&rows, 0)?
            }
        };
        let ctx = ctx.f_transpose(1, 2)?.f_reshape([b, t, d])?;
        Ok(self.dense.forward(&ctx)?.f_add(x)?)
    }
}

/// One transformer block: pre-LN attention then pre-LN GELU feed-forward.
/// modeling_esm.py `EsmLayer`; esm2.py `TransformerLayer`.
struct EsmLayer {
    attention: EsmAttention,
    layer_norm: LayerNorm, // LayerNorm (fair-esm final_layer_norm)
    intermediate: Linear,  // intermediate.dense (fc1)
    output: Linear,        // output.dense (fc2)
}

impl EsmLayer {
    fn load(w: &Loader, p: &str, cfg: &Config) -> Result<Self> {
        let (d, f) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(EsmLayer {
            attention: EsmAttention::load(w, p, cfg)?,
            layer_norm: LayerNorm::load(w, &format!("{p}.LayerNorm"), d, cfg.layer_norm_eps)?,
            intermediate: Linear::load(w, &format!("{p}.intermediate.dense"), f, d)?,
            output: Linear::load(w, &format!("{p}.output.dense"), d, f)?,
        })
    }

    fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[i64]>) -> Result<Tensor> {
        let x = self.attention.forward(x, rope, lengths)?;
        let h = self.layer_norm.forward(&x)?;
        // Exact (erf) GELU, as `esm.modules.gelu` and transformers' `gelu`.
        let h = self.intermediate.forward(&h)?.f_gelu("none")?;
        Ok(self.output.forward(&h)?.f_add(&x)?)
    }
}

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

/// Rotary position embedding tables for one sequence length. modeling_esm.py `EsmRotaryEmbedding`.
struct Rotary {
    cos: Tensor, // [1, 1, seq, head_dim]
    sin: Tensor,
}

impl Rotary {
    fn new(inv_freq: &Tensor, seq_len: i64, kind: Kind) -> Result<Self> {
        let t = Tensor::f_arange(seq_len, (Kind::Float, inv_freq.device()))?;
        let freqs = t.f_outer(inv_freq)?;
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?.f_unsqueeze(0)?.f_unsqueeze(0)?;
        Ok(Rotary { cos: emb.f_cos()?.f_to_kind(kind)?, sin: emb.f_sin()?.f_to_kind(kind)? })
    }

    /// x * cos + rotate_half(x) * sin, x: [batch, heads, seq, head_dim].
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let half = x.size()[3] / 2;
        let x1 = x.f_narrow(3, 0, half)?;
        let x2 = x.f_narrow(3, half, half)?;
        let rotated = Tensor::f_cat(&[&x2.f_neg()?, &x1], -1)?;
        Ok(x.f_mul(&self.cos)?.f_add(&rotated.f_mul(&self.sin)?)?)
    }
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
        let layers = (0..config.num_hidden_layers)
            .map(|i| EsmLayer::load(&w, &format!("encoder.layer.{i}"), config))
            .collect::<Result<Vec<_>>>()?;
        let hd = config.head_dim();
        // inv_freq = 1 / 10000^(2i/d): a fixed function, never read from the checkpoint.
        let inv_freq = Tensor::f_arange_start_step(0, hd, 2, (Kind::Float, device))?
            .f_div_scalar(hd as f64)?
            .f_mul_scalar(10000f64.ln())?
            .f_exp()?
            .f_reciprocal()?;
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
        let last = self.forward(tokens, &[self.config.num_hidden_layers])?;
        let _guard = tch::no_grad_guard();
        head.forward(&last[0])
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
        let n = self.config.num_hidden_layers;
        if let Some(&bad) = layers.iter().find(|&&l| l < 0 || l > n) {
            return Err(Error::Option(format!("layer {bad} out of range 0..={n}")));
        }
        let deepest = layers.iter().copied().max().unwrap_or(n);
        let _guard = tch::no_grad_guard();
        let tokens = tokens.f_to_device(self.device)?;
        let (_, t) = tokens.size2()?;
        let pad = tokens.f_eq(self.config.pad_token_id)?;
        let keep = pad.f_logical_not()?; // [batch, seq]

        // EsmEmbeddings (token dropout as applied at inference): zero <mask> rows, then rescale by
        // (1 - 0.15*0.8) / (1 - observed mask ratio); padded positions zeroed.
        let mut x = Tensor::f_embedding(&self.word_embeddings, &tokens, -1, false, false)?;
        if self.config.token_dropout {
            let is_mask = tokens.f_eq(self.config.mask_token_id)?;
            x = x.f_masked_fill(&is_mask.f_unsqueeze(-1)?, 0.0)?;
            let src_len = keep.f_sum_dim_intlist(-1, false, Kind::Float)?;
            let observed = is_mask.f_sum_dim_intlist(-1, false, Kind::Float)?.f_div(&src_len)?;
            let denom = observed.f_neg()?.f_add_scalar(1.0)?.f_view([-1, 1, 1])?;
            x = x.f_mul_scalar(1.0 - 0.15 * 0.8)?.f_div(&denom)?.f_to_kind(self.kind)?;
        }
        x = x.f_mul(&keep.f_unsqueeze(-1)?.f_to_kind(self.kind)?)?;

        // Per-row token counts when anything is padded (attention then runs per sequence).
        let lengths: Option<Vec<i64>> = if bool::try_from(pad.f_any()?)? {
            Some(Vec::<i64>::try_from(&keep.f_sum_dim_intlist(-1, false, Kind::Int64)?.f_to_device(tch::Device::Cpu)?)?)
        } else {
            None
        };
        let rope = Rotary::new(&self.inv_freq, t, self.kind)?;

        let mut out: Vec<Option<Tensor>> = (0..layers.len()).map(|_| None).collect();
        let mut record = |layer: i64, x: &Tensor| {
            for (slot, &l) in out.iter_mut().zip(layers) {
                if l == layer {
                    *slot = Some(x.shallow_clone());
                }
            }
        };
        record(0, &x);
        for (i, layer) in self.layers.iter().enumerate().take(deepest as usize) {
            x = layer.forward(&x, &rope, lengths.as_deref())?;
            let l = i as i64 + 1;
            if l == n {
                x = self.emb_layer_norm_after.forward(&x)?;
            }
            record(l, &x);
        }
        Ok(out.into_iter().map(|t| t.unwrap_or_else(Tensor::new)).collect())
    }
}
