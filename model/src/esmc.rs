//! ESM C (EvolutionaryScale's ESM Cambrian) on libtorch, ported from the `esm` package's
//! `models/esmc/{model,layers}.py` (`EsmcModel`, 3.4), which computes the same function as transformers'
//! `EsmcModel` and the 2024 release's `ESMC` class. docs/dev/esmc-port.md gives the formulas, with
//! citations, and what differs from ESM2.
//!
//! Layout follows the canonical checkpoint names ([`crate::weights::esmc`]: the published
//! `biohub/ESMC-*` names without `esmc.`), so a mapping bug shows up as a missing-tensor error rather
//! than as silently wrong numbers.
use std::path::Path;

use serde_json::Value as Json;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::nn::{self, LayerNorm, Loader, Rotary};
use crate::weights::Weights;

/// Every published ESM C has 64-wide attention heads (960/15, 1152/18, 2560/40); a checkpoint without a
/// config (the 2024 `.pth`) gets its head count from it.
pub const ESMC_HEAD_DIM: i64 = 64;

/// The published ESM C sizes: (name, layers, hidden size, heads).
pub const ESMC_ARCHITECTURES: [(&str, i64, i64, i64); 3] =
    [("esmc_300m", 30, 960, 15), ("esmc_600m", 36, 1152, 18), ("esmc_6b", 80, 2560, 40)];

/// The SwiGLU hidden width ESM C derives from the model width: ⌊(8/3·d + 255) / 256⌋·256, i.e. 8/3·d
/// rounded up to a multiple of 256 (esm: models/esmc/config.py `esmc_intermediate_size`), in exact
/// integer arithmetic: ⌊(8d + 765) / 768⌋·256. 960 → 2560, 1152 → 3072, 2560 → 6912.
pub fn esmc_intermediate_size(hidden_size: i64) -> i64 {
    (8 * hidden_size + 765) / 768 * 256
}

/// The architecture of an ESM C model.
#[derive(Debug, Clone, PartialEq)]
pub struct EsmcConfig {
    /// Width of the residual stream (`d_model`).
    pub hidden_size: i64,
    /// Number of transformer blocks.
    pub num_hidden_layers: i64,
    /// Attention heads per block (head width 64 in every published model).
    pub num_attention_heads: i64,
    /// Hidden width of the SwiGLU feed-forward (`gate_proj`/`up_proj` rows each; 8/3·d rounded up to 256).
    pub intermediate_size: i64,
    /// Rows of the embedding and of the LM head's output: 64, of which the 33 tokens of
    /// [`crate::alphabet`] (with id 31 = `|`, the chain break) are used.
    pub vocab_size: i64,
    /// Token id of `<pad>` (1).
    pub pad_token_id: i64,
    /// Token id of `<mask>` (32). ESM C applies no token-dropout rescaling, so it is informational.
    pub mask_token_id: i64,
    /// Epsilon of every LayerNorm (1e-5, fixed by the package).
    pub layer_norm_eps: f64,
}

impl EsmcConfig {
    /// A config with ESM C's fixed choices and the given size.
    pub fn new(num_hidden_layers: i64, hidden_size: i64, num_attention_heads: i64) -> Self {
        EsmcConfig {
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size: esmc_intermediate_size(hidden_size),
            vocab_size: 64,
            pad_token_id: crate::alphabet::PAD,
            mask_token_id: crate::alphabet::MASK,
            layer_norm_eps: 1e-5,
        }
    }

    /// The config of a published ESM C by name: `esmc_300m`, `esmc_600m` or `esmc_6b`.
    pub fn for_architecture(name: &str) -> Result<Self> {
        let (_, layers, hidden, heads) =
            ESMC_ARCHITECTURES.iter().find(|(n, ..)| *n == name).copied().ok_or_else(|| {
                let known: Vec<&str> = ESMC_ARCHITECTURES.iter().map(|a| a.0).collect();
                Error::Option(format!("unknown ESM C architecture `{name}`; known: {}", known.join(", ")))
            })?;
        Ok(Self::new(layers, hidden, heads))
    }

    /// Reads and validates a `config.json` as the esm package writes it (`EsmcConfig.save_pretrained`) or
    /// transformers' `EsmcConfig` does. The width, depth and head count may be spelled as the current
    /// `hidden_size` / `num_hidden_layers` / `num_attention_heads` or as the pre-alignment `d_model` /
    /// `n_layers` / `n_heads` (esm: models/esmc/config.py `_LEGACY_KEYS`; the current spelling wins when
    /// both are present). `intermediate_size` defaults to the derived width; keys ESM C never varies
    /// (`rope_parameters`, `hidden_act`, `max_position_embeddings`, ...) are ignored.
    pub fn from_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let fail = |message: String| Error::Config { path: path.into(), message };
        let json: Json = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let Json::Object(map) = &json else { return Err(fail("not a JSON object".into())) };
        if let Some(model_type) = map.get("model_type").and_then(Json::as_str)
            && model_type != "esmc"
        {
            return Err(fail(format!("model_type is `{model_type}`, not `esmc`")));
        }
        let int = |keys: &[&str]| -> Result<Option<i64>> {
            for key in keys {
                match map.get(*key) {
                    None | Some(Json::Null) => continue,
                    Some(v) => {
                        return v.as_i64().map(Some).ok_or_else(|| fail(format!("`{key}` is not an integer: {v}")));
                    }
                }
            }
            Ok(None)
        };
        let required =
            |keys: &[&str]| -> Result<i64> { int(keys)?.ok_or_else(|| fail(format!("no `{}`", keys.join("` or `")))) };
        let mut config = EsmcConfig::new(
            required(&["num_hidden_layers", "n_layers"])?,
            required(&["hidden_size", "d_model"])?,
            required(&["num_attention_heads", "n_heads"])?,
        );
        if let Some(h) = int(&["intermediate_size"])? {
            config.intermediate_size = h;
        }
        if let Some(v) = int(&["vocab_size"])? {
            config.vocab_size = v;
        }
        if let Some(p) = int(&["pad_token_id"])? {
            config.pad_token_id = p;
        }
        if let Some(m) = int(&["mask_token_id"])? {
            config.mask_token_id = m;
        }
        // transformers' config spells out what ESM C fixes; refuse a value that would change the model.
        if let Some(hd) = int(&["head_dim"])?
            && hd * config.num_attention_heads != config.hidden_size
        {
            return Err(fail(format!(
                "head_dim {hd} × num_attention_heads {} ≠ hidden_size {}",
                config.num_attention_heads, config.hidden_size
            )));
        }
        if let Some(kv) = int(&["num_key_value_heads"])?
            && kv != config.num_attention_heads
        {
            return Err(fail(format!("num_key_value_heads {kv}: ESM C has no grouped-query attention")));
        }
        for key in ["attention_bias", "mlp_bias"] {
            if map.get(key).and_then(Json::as_bool) == Some(true) {
                return Err(fail(format!("`{key}` is true; ESM C has no projection biases")));
            }
        }
        config.validate(path)?;
        Ok(config)
    }

    /// Infers the architecture from canonical tensor shapes, for checkpoints without a config (the 2024
    /// `.pth`): d and the vocabulary from `embed_tokens.weight`, the depth from the `layers.N.` blocks, the
    /// SwiGLU width from `layers.0.mlp.down_proj.weight`, and the head count as d / 64 (nothing in the
    /// file records it). A shape that fits no ESM C is an error naming the tensor.
    pub fn from_shapes(weights: &Weights) -> Result<Self> {
        let path = weights.path();
        let fail = |name: &str, shape: &[i64], why: &str| Error::Config {
            path: path.into(),
            message: format!("cannot infer the ESM C architecture: tensor `{name}` has shape {shape:?}; {why}"),
        };
        let shape = |name: &str| {
            weights.shape(name).ok_or_else(|| Error::MissingTensor { path: path.into(), name: name.into() })
        };
        let embed = shape("embed_tokens.weight")?;
        let [vocab, d] = embed[..] else {
            return Err(fail("embed_tokens.weight", &embed, "expected [vocab, hidden]"));
        };
        if d <= 0 || d % ESMC_HEAD_DIM != 0 {
            return Err(fail(
                "embed_tokens.weight",
                &embed,
                "the hidden size must be a multiple of ESM C's head width 64",
            ));
        }
        if vocab <= crate::alphabet::MASK {
            return Err(fail("embed_tokens.weight", &embed, "fewer rows than the 33 tokens of the alphabet"));
        }
        let layers = weights
            .iter()
            .filter_map(|(name, _)| name.strip_prefix("layers.")?.split_once('.')?.0.parse::<i64>().ok())
            .max()
            .map_or(0, |last| last + 1);
        if layers == 0 {
            return Err(Error::MissingTensor { path: path.into(), name: "layers.0.input_layernorm.weight".into() });
        }
        let down = shape("layers.0.mlp.down_proj.weight")?;
        let [rows, h] = down[..] else {
            return Err(fail("layers.0.mlp.down_proj.weight", &down, "expected [hidden, intermediate]"));
        };
        if rows != d || h <= 0 {
            return Err(fail("layers.0.mlp.down_proj.weight", &down, &format!("expected [{d}, intermediate]")));
        }
        let mut config = EsmcConfig::new(layers, d, d / ESMC_HEAD_DIM);
        config.vocab_size = vocab;
        config.intermediate_size = h;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that the config describes an ESM C this crate can run.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let fail = |message: String| Err(Error::Config { path: path.into(), message });
        if self.num_attention_heads <= 0 || self.hidden_size <= 0 || self.hidden_size % self.num_attention_heads != 0 {
            return fail(format!(
                "hidden_size {} is not a positive multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.head_dim() % 2 != 0 {
            return fail("rotary embeddings need an even head dimension".into());
        }
        if self.num_hidden_layers <= 0 || self.intermediate_size <= 0 {
            return fail("num_hidden_layers and intermediate_size must be positive".into());
        }
        if self.vocab_size <= crate::alphabet::MASK {
            return fail(format!("vocab_size is {}; the ESM C tokenizer has 33 tokens", self.vocab_size));
        }
        for (what, id) in [("pad_token_id", self.pad_token_id), ("mask_token_id", self.mask_token_id)] {
            if !(0..self.vocab_size).contains(&id) {
                return fail(format!("{what} {id} is outside the vocabulary"));
            }
        }
        Ok(())
    }

    /// The per-head dimension.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// The residual divisor √(L/36) (esm: layers.py `EsmcTransformerStack`, `scale_residue=True`): 0.913 for
    /// the 30-block 300M, 1 for the 600M, 1.49 for the 6B.
    pub fn residual_scale(&self) -> f64 {
        (self.num_hidden_layers as f64 / 36.0).sqrt()
    }
}

/// Self-attention with its input LayerNorm, q/k LayerNorms and rotary positions; no biases.
/// esm: layers.py `EsmcMultiHeadAttention` (+ `EsmcLayerNormLinear`); transformers `EsmcAttention`.
struct EsmcAttention {
    input_layernorm: LayerNorm, // layers.N.input_layernorm (weight + bias)
    /// self_attn.{q,k,v}_proj stacked into one [3d, d] weight, rows q | k | v: the package's own fused
    /// `layernorm_qkv` weight, one GEMM instead of three.
    qkv_proj: Tensor,
    q_norm: LayerNorm, // self_attn.q_norm, over the full width d, weight only
    k_norm: LayerNorm, // self_attn.k_norm
    o_proj: Tensor,    // self_attn.o_proj.weight
    num_heads: i64,
    head_dim: i64,
}

impl EsmcAttention {
    fn load(w: &Loader, p: &str, cfg: &EsmcConfig) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let proj = |n: &str| w.get(&format!("{p}.self_attn.{n}.weight"), &[d, d]);
        Ok(EsmcAttention {
            input_layernorm: LayerNorm::load(w, &format!("{p}.input_layernorm"), d, eps)?,
            qkv_proj: Tensor::f_cat(&[proj("q_proj")?, proj("k_proj")?, proj("v_proj")?], 0)?,
            q_norm: LayerNorm::load_without_bias(w, &format!("{p}.self_attn.q_norm"), d, eps)?,
            k_norm: LayerNorm::load_without_bias(w, &format!("{p}.self_attn.k_norm"), d, eps)?,
            o_proj: proj("o_proj")?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// The attention branch, [batch, seq, d] → [batch, seq, d], before the residual. `lengths` (tokens per
    /// row, `<cls>`/`<eos>` included) is given when rows are padded.
    fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[i64]>) -> Result<Tensor> {
        let (b, t, d) = x.size3()?;
        let qkv = self.input_layernorm.forward(x)?.f_linear::<Tensor>(&self.qkv_proj, None)?;
        // q/k LayerNorms act on the full width, before the head split (layers.py `q_ln(q)` on [b, t, d]).
        let q = self.q_norm.forward(&qkv.f_narrow(2, 0, d)?)?;
        let k = self.k_norm.forward(&qkv.f_narrow(2, d, d)?)?;
        let v = qkv.f_narrow(2, 2 * d, d)?;
        let heads = |x: &Tensor| x.f_view([b, t, self.num_heads, self.head_dim])?.f_transpose(1, 2);
        // Rotary on the normalized q and k, then SDPA with its default 1/√head_dim scale (ESM2 scales q
        // before the rotation instead: the same numbers, the rotation being linear).
        let (q, k, v) = (rope.apply(&heads(&q)?)?, rope.apply(&heads(&k)?)?, heads(&v)?);
        let ctx = nn::attention(&q, &k, &v, Some((self.head_dim as f64).powf(-0.5)), lengths)?;
        let ctx = ctx.f_transpose(1, 2)?.f_reshape([b, t, d])?;
        Ok(ctx.f_linear::<Tensor>(&self.o_proj, None)?)
    }
}

/// LayerNorm + SwiGLU feed-forward, no biases. esm: layers.py `EsmcLayerNormMLP`; transformers `EsmcMLP`.
struct EsmcMlp {
    post_attention_layernorm: LayerNorm, // layers.N.post_attention_layernorm (weight + bias)
    /// mlp.{gate,up}_proj stacked into one [2h, d] weight, gate rows first (the package's fused `fc1`).
    gate_up_proj: Tensor,
    down_proj: Tensor, // mlp.down_proj.weight [d, h]
    intermediate_size: i64,
}

impl EsmcMlp {
    fn load(w: &Loader, p: &str, cfg: &EsmcConfig) -> Result<Self> {
        let (d, h) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(EsmcMlp {
            post_attention_layernorm: LayerNorm::load(
                w,
                &format!("{p}.post_attention_layernorm"),
                d,
                cfg.layer_norm_eps,
            )?,
            gate_up_proj: Tensor::f_cat(
                &[
                    w.get(&format!("{p}.mlp.gate_proj.weight"), &[h, d])?,
                    w.get(&format!("{p}.mlp.up_proj.weight"), &[h, d])?,
                ],
                0,
            )?,
            down_proj: w.get(&format!("{p}.mlp.down_proj.weight"), &[d, h])?,
            intermediate_size: h,
        })
    }

    /// The feed-forward branch, before the residual: down(silu(gate(h)) ⊙ up(h)), h = LN(x).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.post_attention_layernorm.forward(x)?.f_linear::<Tensor>(&self.gate_up_proj, None)?;
        let n = self.intermediate_size;
        let g = h.f_narrow(2, 0, n)?.f_silu()?.f_mul(&h.f_narrow(2, n, n)?)?;
        Ok(g.f_linear::<Tensor>(&self.down_proj, None)?)
    }
}

/// One block: x + attn(x)/s, then x + mlp(x)/s. esm: layers.py `EsmcUnifiedTransformerBlock`.
struct EsmcLayer {
    self_attn: EsmcAttention,
    mlp: EsmcMlp,
    /// √(L/36): both branches are divided by it before the residual add.
    residual_scale: f64,
}

impl EsmcLayer {
    fn load(w: &Loader, p: &str, cfg: &EsmcConfig) -> Result<Self> {
        Ok(EsmcLayer {
            self_attn: EsmcAttention::load(w, p, cfg)?,
            mlp: EsmcMlp::load(w, p, cfg)?,
            residual_scale: cfg.residual_scale(),
        })
    }

    fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[i64]>) -> Result<Tensor> {
        let x = x.f_add(&self.self_attn.forward(x, rope, lengths)?.f_div_scalar(self.residual_scale)?)?;
        Ok(x.f_add(&self.mlp.forward(&x)?.f_div_scalar(self.residual_scale)?)?)
    }
}

/// The masked-LM head: dense (+bias) → GELU (erf) → LayerNorm (+bias) → decoder (+bias), over all
/// `vocab_size` (64) rows; not tied to the embedding. esm: model.py `_esmc_lm_head`.
struct LmHead {
    dense: (Tensor, Tensor),   // lm_head.dense.{weight,bias}
    layer_norm: LayerNorm,     // lm_head.layer_norm
    decoder: (Tensor, Tensor), // lm_head.decoder.{weight,bias}
}

impl LmHead {
    fn load(w: &Loader, cfg: &EsmcConfig) -> Result<Self> {
        let (d, v) = (cfg.hidden_size, cfg.vocab_size);
        Ok(LmHead {
            dense: (w.get("lm_head.dense.weight", &[d, d])?, w.get("lm_head.dense.bias", &[d])?),
            layer_norm: LayerNorm::load(w, "lm_head.layer_norm", d, cfg.layer_norm_eps)?,
            decoder: (w.get("lm_head.decoder.weight", &[v, d])?, w.get("lm_head.decoder.bias", &[v])?),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = x.f_linear(&self.dense.0, Some(&self.dense.1))?.f_gelu("none")?;
        let h = self.layer_norm.forward(&h)?;
        Ok(h.f_linear(&self.decoder.0, Some(&self.decoder.1))?)
    }
}

/// An ESM C encoder ready for inference.
pub struct Esmc {
    config: EsmcConfig,
    device: Device,
    kind: Kind,
    embed_tokens: Tensor,   // embed_tokens.weight [64, d]
    layers: Vec<EsmcLayer>, // layers.{i}
    norm: LayerNorm,        // norm.weight, no bias
    lm_head: Option<LmHead>,
    inv_freq: Tensor,
}

impl std::fmt::Debug for Esmc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Esmc")
            .field("config", &self.config)
            .field("device", &self.device)
            .field("kind", &self.kind)
            .field("lm_head", &self.lm_head.is_some())
            .finish()
    }
}

impl Esmc {
    /// Builds the model from canonical weights ([`crate::weights::esmc`]), checking every tensor's
    /// presence and shape. The LM head is loaded when the checkpoint has one (`lm_head.dense.weight`
    /// present: then all of it must be); an encoder-only checkpoint still embeds.
    pub fn load(config: &EsmcConfig, weights: &Weights, device: Device, kind: Kind) -> Result<Self> {
        config.validate(weights.path())?;
        let w = Loader { weights, device, kind };
        let d = config.hidden_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| EsmcLayer::load(&w, &format!("layers.{i}"), config))
            .collect::<Result<Vec<_>>>()?;
        let lm_head = if weights.contains("lm_head.dense.weight") { Some(LmHead::load(&w, config)?) } else { None };
        let inv_freq = nn::rotary_inv_freq(config.head_dim(), device)?;
        Ok(Esmc {
            config: config.clone(),
            device,
            kind,
            embed_tokens: w.get("embed_tokens.weight", &[config.vocab_size, d])?,
            layers,
            norm: LayerNorm::load_without_bias(&w, "norm", d, config.layer_norm_eps)?,
            lm_head,
            inv_freq,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &EsmcConfig {
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

    /// Whether the checkpoint had the masked-LM head, i.e. whether [`Esmc::logits`] works.
    pub fn has_lm_head(&self) -> bool {
        self.lm_head.is_some()
    }

    /// Runs the encoder on `tokens` ([batch, seq] int64, `<pad>`-padded, ESM C token ids) and returns the
    /// hidden states of each requested layer, in the order asked: 0 = the token embedding, i = the output
    /// of block i, `num_layers` = after the final LayerNorm (the package's `hidden_states[i]`). Layers past
    /// the deepest requested one are not computed. The contract of [`crate::Esm2::forward`].
    pub fn forward(&self, tokens: &Tensor, layers: &[i64]) -> Result<Vec<Tensor>> {
        nn::requested_layers(layers, self.config.num_hidden_layers, |deepest, record| self.run(tokens, deepest, record))
    }

    /// The masked-LM logits, [batch, seq, 64] (every row of the head; ids 33..63 are never produced by the
    /// tokenizer), from the final-normed state. An error when the checkpoint has no LM head.
    pub fn logits(&self, tokens: &Tensor) -> Result<Tensor> {
        let head = self
            .lm_head
            .as_ref()
            .ok_or_else(|| Error::Option("this ESM C checkpoint has no masked-LM head (lm_head.* tensors)".into()))?;
        let last = nn::last_layer(self.config.num_hidden_layers, |deepest, record| self.run(tokens, deepest, record))?;
        let _guard = tch::no_grad_guard();
        head.forward(&last)
    }

    /// The head applied to final-normed hidden states already computed ([batch, seq, hidden]).
    pub(crate) fn head(&self, last: &Tensor) -> Result<Tensor> {
        let head = self
            .lm_head
            .as_ref()
            .ok_or_else(|| Error::Option("this ESM C checkpoint has no masked-LM head (lm_head.* tensors)".into()))?;
        let _guard = tch::no_grad_guard();
        head.forward(last)
    }

    /// The forward pass up to block `deepest`, handing each stage to `record` (0 = embedding, ..., n =
    /// after the final norm).
    fn run(&self, tokens: &Tensor, deepest: i64, record: &mut dyn FnMut(i64, &Tensor)) -> Result<()> {
        let n = self.config.num_hidden_layers;
        let tokens = tokens.f_to_device(self.device)?;
        let (_, t) = tokens.size2()?;
        let keep = tokens.f_ne(self.config.pad_token_id)?; // [batch, seq]

        // A plain lookup: no scale, no positions, no token-dropout rescaling, no mask-row zeroing
        // (esm: model.py `self.embed(input_ids)`). Padded positions keep their `<pad>` embedding: they
        // are never attended to and nothing reads them.
        let mut x = Tensor::f_embedding(&self.embed_tokens, &tokens, -1, false, false)?;

        let lengths = nn::padded_lengths(&keep)?;
        let rope = Rotary::new(&self.inv_freq, t, self.kind)?;

        record(0, &x);
        for (i, layer) in self.layers.iter().enumerate().take(deepest as usize) {
            x = layer.forward(&x, &rope, lengths.as_deref())?;
            let l = i as i64 + 1;
            if l == n {
                x = self.norm.forward(&x)?;
            }
            record(l, &x);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_resolve() {
        let c = EsmcConfig::for_architecture("esmc_300m").unwrap();
        assert_eq!(
            (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size),
            (30, 960, 15, 2560)
        );
        assert_eq!(c.head_dim(), 64);
        assert!((c.residual_scale() - 0.912_870_9).abs() < 1e-7);
        let c = EsmcConfig::for_architecture("esmc_600m").unwrap();
        assert_eq!((c.num_hidden_layers, c.hidden_size, c.intermediate_size), (36, 1152, 3072));
        assert_eq!(c.residual_scale(), 1.0);
        assert_eq!(EsmcConfig::for_architecture("esmc_6b").unwrap().intermediate_size, 6912);
        let err = EsmcConfig::for_architecture("esmc_1b").unwrap_err().to_string();
        assert!(err.contains("esmc_300m"), "{err}");
    }

    #[test]
    fn intermediate_size_matches_the_package() {
        // int(((8 / 3 * d) + 255) // 256 * 256), evaluated in Python for these widths.
        for (d, h) in [(64, 256), (128, 512), (320, 1024), (960, 2560), (1152, 3072), (2560, 6912), (96, 256)] {
            assert_eq!(esmc_intermediate_size(d), h, "d = {d}");
        }
    }

    fn json_config(text: &str) -> Result<EsmcConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        EsmcConfig::from_json(&path)
    }

    #[test]
    fn config_json_both_spellings() {
        // As the esm package's save_pretrained writes it (tiny config of docs/dev/esmc-port.md).
        let c = json_config(
            r#"{"classifier_dropout": 0.1, "hidden_size": 128, "initializer_range": 0.02, "intermediate_size": 512,
            "mask_token_id": 32, "model_type": "esmc", "num_attention_heads": 2, "num_hidden_layers": 2,
            "num_labels": 2, "output_attentions": false, "output_hidden_states": false, "pad_token_id": 1,
            "problem_type": null, "return_dict": true, "vocab_size": 64}"#,
        )
        .unwrap();
        assert_eq!((c.hidden_size, c.num_attention_heads, c.num_hidden_layers, c.intermediate_size), (128, 2, 2, 512));
        assert_eq!(c.vocab_size, 64);
        // Pre-alignment spellings; intermediate_size derived.
        let c = json_config(r#"{"d_model": 960, "n_heads": 15, "n_layers": 30, "vocab_size": 64}"#).unwrap();
        assert_eq!(c, EsmcConfig::for_architecture("esmc_300m").unwrap());
        let err = json_config(r#"{"hidden_size": 960, "num_attention_heads": 15}"#).unwrap_err().to_string();
        assert!(err.contains("num_hidden_layers` or `n_layers"), "{err}");
        let err = json_config(
            r#"{"model_type": "esm", "hidden_size": 320, "num_attention_heads": 20, "num_hidden_layers": 6}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("model_type is `esm`"), "{err}");
        let err = json_config(r#"{"hidden_size": 960, "num_attention_heads": 7, "num_hidden_layers": 30}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a positive multiple"), "{err}");
    }
}
