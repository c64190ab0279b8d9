//! ESM-1b and ESM-1v on libtorch, ported from fair-esm's `esm/model/esm1.py` (`ProteinBertModel`,
//! arch `roberta_large`) and transformers' `EsmModel` with `position_embedding_type="absolute"`, which
//! compute the same function. docs/dev/esmc-port.md gives the formulas, with citations, and what
//! differs from ESM2: learned absolute positions (hence at most 1022 residues), ESM-1b's LayerNorm
//! before the first block, no rotary.
//!
//! Layout follows the canonical checkpoint names ([`crate::weights::esm1`]: transformers' `EsmModel`
//! names, as ESM2's), so a mapping bug shows up as a missing-tensor error rather than as silently wrong
//! numbers.
use std::path::Path;

use serde_json::Value as Json;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::nn::{self, EsmLayer, LayerNorm, Linear, Loader};
use crate::weights::Weights;
use crate::weights::pickle::Value;

/// The published ESM-1b / ESM-1v size (all six checkpoints): (layers, hidden, heads, ffn, max_positions).
const RELEASED: (i64, i64, i64, i64, i64) = (33, 1280, 20, 5120, 1024);

/// The architecture of an ESM-1b / ESM-1v model.
#[derive(Debug, Clone, PartialEq)]
pub struct Esm1Config {
    /// Width of the residual stream (`args.encoder_embed_dim`).
    pub hidden_size: i64,
    /// Number of transformer blocks (`args.encoder_layers`).
    pub num_hidden_layers: i64,
    /// Attention heads per block (`args.encoder_attention_heads`).
    pub num_attention_heads: i64,
    /// Width of the feed-forward layer (`args.encoder_ffn_embed_dim`).
    pub intermediate_size: i64,
    /// Most tokens a sequence may have, `<cls>` and `<eos>` included (`args.max_positions`, 1024): the
    /// learned position table has `max_positions + padding_idx + 1` rows.
    pub max_positions: i64,
    /// Whether the ×0.88 token-dropout rescaling of embeddings is applied (`args.token_dropout`; true for
    /// both releases).
    pub token_dropout: bool,
    /// Whether a LayerNorm follows the embedding (ESM-1b: yes; ESM-1v: no). fair-esm decides it from the
    /// presence of `emb_layer_norm_before.*` in the state dict, not from `args`.
    pub emb_layer_norm_before: bool,
    /// Vocabulary size (33: the ESM-1b alphabet, identical to ESM2's).
    pub vocab_size: i64,
    /// Token id of `<pad>` (1), also the position table's padding index.
    pub pad_token_id: i64,
    /// Token id of `<mask>` (32).
    pub mask_token_id: i64,
    /// LayerNorm epsilon (1e-5: `torch.nn.LayerNorm`, apex not being used).
    pub layer_norm_eps: f64,
}

impl Esm1Config {
    /// A config with the released models' fixed choices and the given size (ffn = 4 × hidden,
    /// 1024 positions, token dropout on).
    pub fn new(
        num_hidden_layers: i64,
        hidden_size: i64,
        num_attention_heads: i64,
        emb_layer_norm_before: bool,
    ) -> Self {
        Esm1Config {
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size: 4 * hidden_size,
            max_positions: RELEASED.4,
            token_dropout: true,
            emb_layer_norm_before,
            vocab_size: crate::alphabet::VOCAB_SIZE,
            pad_token_id: crate::alphabet::PAD,
            mask_token_id: crate::alphabet::MASK,
            layer_norm_eps: 1e-5,
        }
    }

    /// ESM-1b (`esm1b_t33_650M_UR50S`: LayerNorm before the first block) or ESM-1v
    /// (`esm1v_t33_650M_UR90S_[1-5]`: none), the only published sizes.
    pub fn for_architecture(name: &str) -> Result<Self> {
        let (layers, hidden, heads, ffn, _) = RELEASED;
        let ln_before = match name {
            "esm1b_t33_650M_UR50S" => true,
            n if n.starts_with("esm1v_t33_650M_UR90S") => false,
            _ => {
                return Err(Error::Option(format!(
                    "unknown ESM-1 architecture `{name}`; known: esm1b_t33_650M_UR50S, esm1v_t33_650M_UR90S_[1-5]"
                )));
            }
        };
        let mut config = Self::new(layers, hidden, heads, ln_before);
        config.intermediate_size = ffn;
        Ok(config)
    }

    /// Reads a fair-esm v1 `args` Namespace (`encoder_layers`, `encoder_embed_dim`, `encoder_ffn_embed_dim`,
    /// `encoder_attention_heads`, `max_positions`, `token_dropout`; fair-esm strips the `encoder_` prefix,
    /// pretrained.py `_load_model_and_alphabet_core_v1`). `emb_layer_norm_before` comes from the state
    /// dict (whether its tensors are present), as in fair-esm. `path` is for error messages.
    pub fn from_args(args: &Value, emb_layer_norm_before: bool, path: &Path) -> Result<Self> {
        let fail = |message: String| Error::Config { path: path.into(), message };
        let int = |key: &str| args.attr(key).and_then(Value::as_int);
        let required = |key: &str| int(key).ok_or_else(|| fail(format!("args has no integer `{key}`")));
        let mut config = Self::new(
            required("encoder_layers")?,
            required("encoder_embed_dim")?,
            required("encoder_attention_heads")?,
            emb_layer_norm_before,
        );
        config.intermediate_size = required("encoder_ffn_embed_dim")?;
        config.max_positions = required("max_positions")?;
        // ProteinBertModel reads `getattr(args, "token_dropout", False)`: absent means off.
        config.token_dropout = int("token_dropout").is_some_and(|t| t != 0);
        config.validate(path)?;
        Ok(config)
    }

    /// Reads a transformers `config.json` of an ESM-1b / ESM-1v conversion (`position_embedding_type`
    /// `absolute`; `max_position_embeddings` counts the position table's rows, max_positions + 2).
    pub fn from_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let fail = |message: String| Error::Config { path: path.into(), message };
        let json: Json = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let int = |key: &str| json.get(key).and_then(Json::as_i64).ok_or_else(|| fail(format!("no integer `{key}`")));
        let flag = |key: &str, default: bool| json.get(key).and_then(Json::as_bool).unwrap_or(default);
        match json.get("position_embedding_type").and_then(Json::as_str) {
            Some("absolute") => {}
            other => {
                return Err(fail(format!(
                    "position_embedding_type is {other:?}; ESM-1b/ESM-1v use learned `absolute` positions"
                )));
            }
        }
        let mut config = Self::new(
            int("num_hidden_layers")?,
            int("hidden_size")?,
            int("num_attention_heads")?,
            flag("emb_layer_norm_before", false),
        );
        config.intermediate_size = int("intermediate_size")?;
        config.max_positions = int("max_position_embeddings")? - (config.pad_token_id + 1);
        config.token_dropout = flag("token_dropout", false);
        if let Ok(v) = int("vocab_size") {
            config.vocab_size = v;
        }
        if let Some(eps) = json.get("layer_norm_eps").and_then(Json::as_f64) {
            config.layer_norm_eps = eps;
        }
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that the config describes an ESM-1b / ESM-1v this crate can run.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let fail = |message: String| Err(Error::Config { path: path.into(), message });
        if self.num_attention_heads <= 0 || self.hidden_size <= 0 || self.hidden_size % self.num_attention_heads != 0 {
            return fail(format!(
                "hidden_size {} is not a positive multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.num_hidden_layers <= 0 || self.intermediate_size <= 0 {
            return fail("layers and ffn width must be positive".into());
        }
        if self.max_positions < 3 {
            return fail(format!("max_positions {} leaves no room for a residue", self.max_positions));
        }
        if self.vocab_size != crate::alphabet::VOCAB_SIZE {
            return fail(format!("vocab_size is {}; the ESM-1b alphabet has 33 tokens", self.vocab_size));
        }
        Ok(())
    }

    /// The per-head dimension.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// The longest sequence, in residues, the position table covers (1022 for the released models).
    pub fn max_residues(&self) -> i64 {
        self.max_positions - 2
    }
}

/// fair-esm's `RobertaLMHead`: dense → GELU → LayerNorm → x·Eᵀ + bias, E the token embedding (tied).
struct LmHead {
    dense: Linear,         // lm_head.dense
    layer_norm: LayerNorm, // lm_head.layer_norm
    bias: Tensor,          // lm_head.bias [vocab]
}

impl LmHead {
    fn forward(&self, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
        let h = self.dense.forward(x)?.f_gelu("none")?;
        let h = self.layer_norm.forward(&h)?;
        Ok(h.f_linear(embedding, Some(&self.bias))?)
    }
}

/// An ESM-1b or ESM-1v encoder ready for inference.
pub struct Esm1 {
    config: Esm1Config,
    device: Device,
    kind: Kind,
    /// embeddings.word_embeddings.weight [vocab, hidden], `<mask>` row zeroed (fair-esm's loader does it
    /// "for token drop"; the LM head uses this same, tied, matrix).
    word_embeddings: Tensor,
    position_embeddings: Tensor, // embeddings.position_embeddings.weight [max_positions + 2, hidden]
    layer_norm: Option<LayerNorm>, // embeddings.layer_norm (ESM-1b's emb_layer_norm_before)
    layers: Vec<EsmLayer>,       // encoder.layer.{i}
    emb_layer_norm_after: LayerNorm,
    lm_head: Option<LmHead>,
}

impl std::fmt::Debug for Esm1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Esm1")
            .field("config", &self.config)
            .field("device", &self.device)
            .field("kind", &self.kind)
            .field("lm_head", &self.lm_head.is_some())
            .finish()
    }
}

impl Esm1 {
    /// Builds the model from canonical weights ([`crate::weights::esm1`]), checking every tensor's presence
    /// and shape. The LM head is loaded when the checkpoint has one (`lm_head.dense.weight` present: then
    /// `lm_head.layer_norm.*` and `lm_head.bias` must be too); its output matrix is the token embedding.
    pub fn load(config: &Esm1Config, weights: &Weights, device: Device, kind: Kind) -> Result<Self> {
        config.validate(weights.path())?;
        let w = Loader { weights, device, kind };
        let (d, eps) = (config.hidden_size, config.layer_norm_eps);
        let pad = config.pad_token_id;
        let (f, heads) = (config.intermediate_size, config.num_attention_heads);
        let layers = (0..config.num_hidden_layers)
            .map(|i| EsmLayer::load(&w, &format!("encoder.layer.{i}"), d, f, heads, eps))
            .collect::<Result<Vec<_>>>()?;
        // index_fill returns a copy: the caller's Weights keep the file's values.
        let mask_row = Tensor::f_from_slice(&[config.mask_token_id])?.f_to_device(device)?;
        let word_embeddings =
            w.get("embeddings.word_embeddings.weight", &[config.vocab_size, d])?.f_index_fill(0, &mask_row, 0.0)?;
        let lm_head = if weights.contains("lm_head.dense.weight") {
            Some(LmHead {
                dense: Linear::load(&w, "lm_head.dense", d, d)?,
                layer_norm: LayerNorm::load(&w, "lm_head.layer_norm", d, eps)?,
                bias: w.get("lm_head.bias", &[config.vocab_size])?,
            })
        } else {
            None
        };
        Ok(Esm1 {
            config: config.clone(),
            device,
            kind,
            word_embeddings,
            position_embeddings: w
                .get("embeddings.position_embeddings.weight", &[config.max_positions + pad + 1, d])?,
            layer_norm: if config.emb_layer_norm_before {
                Some(LayerNorm::load(&w, "embeddings.layer_norm", d, eps)?)
            } else {
                None
            },
            layers,
            emb_layer_norm_after: LayerNorm::load(&w, "encoder.emb_layer_norm_after", d, eps)?,
            lm_head,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &Esm1Config {
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

    /// Whether the checkpoint had the masked-LM head, i.e. whether [`Esm1::logits`] works.
    pub fn has_lm_head(&self) -> bool {
        self.lm_head.is_some()
    }

    /// Runs the encoder on `tokens` ([batch, seq] int64, `<pad>`-padded, `<cls>` … `<eos>`) and returns the
    /// hidden states of each requested layer, in the order asked: 0 = the embedding stage (after
    /// ESM-1b's LayerNorm), i = the output of block i, `num_layers` = after the final LayerNorm. Layers past
    /// the deepest requested one are not computed. The contract of [`crate::Esm2::forward`], except that a
    /// batch wider than `max_positions` tokens (a sequence of more than 1022 residues) is an
    /// [`Error::Option`]: the learned position table ends there.
    pub fn forward(&self, tokens: &Tensor, layers: &[i64]) -> Result<Vec<Tensor>> {
        nn::requested_layers(layers, self.config.num_hidden_layers, |deepest, record| self.run(tokens, deepest, record))
    }

    /// The masked-LM logits, [batch, seq, 33], from the final-normed state through the tied head. An error
    /// when the checkpoint has no LM head.
    pub fn logits(&self, tokens: &Tensor) -> Result<Tensor> {
        let head = self
            .lm_head
            .as_ref()
            .ok_or_else(|| Error::Option("this ESM-1 checkpoint has no masked-LM head (lm_head.* tensors)".into()))?;
        let last = nn::last_layer(self.config.num_hidden_layers, |deepest, record| self.run(tokens, deepest, record))?;
        let _guard = tch::no_grad_guard();
        head.forward(&last, &self.word_embeddings)
    }

    /// The head applied to final-normed hidden states already computed ([batch, seq, hidden]).
    pub(crate) fn head(&self, last: &Tensor) -> Result<Tensor> {
        let head = self
            .lm_head
            .as_ref()
            .ok_or_else(|| Error::Option("this ESM-1 checkpoint has no masked-LM head (lm_head.* tensors)".into()))?;
        let _guard = tch::no_grad_guard();
        head.forward(last, &self.word_embeddings)
    }

    /// The forward pass up to block `deepest`, handing each stage to `record` (0 = embedding stage, ...,
    /// n = after the final norm). fair-esm esm1.py `ProteinBertModel.forward`.
    fn run(&self, tokens: &Tensor, deepest: i64, record: &mut dyn FnMut(i64, &Tensor)) -> Result<()> {
        let n = self.config.num_hidden_layers;
        let tokens = tokens.f_to_device(self.device)?;
        let (_, t) = tokens.size2()?;
        if t > self.config.max_positions {
            return Err(Error::Option(format!(
                "a sequence of {} residues is longer than ESM-1b/ESM-1v can embed: their learned positions end at \
                 {} residues ({} tokens with <cls> and <eos>)",
                t - 2,
                self.config.max_residues(),
                self.config.max_positions
            )));
        }
        let keep = tokens.f_ne(self.config.pad_token_id)?; // [batch, seq]

        // Token embedding (embed_scale 1) with token dropout as applied at inference: <mask> rows zeroed,
        // then × (1 − 0.15·0.8) / (1 − observed mask ratio), i.e. ×0.88 without masks.
        let mut x = Tensor::f_embedding(&self.word_embeddings, &tokens, -1, false, false)?;
        if self.config.token_dropout {
            x = nn::token_dropout(&x, &tokens, &keep, self.config.mask_token_id, self.kind)?;
        }
        // Learned positions (modules.py `LearnedPositionalEmbedding`): cumsum of non-pad tokens +
        // padding_idx, i.e. t + 2 for token t (<cls> = 0), padding_idx for pads.
        let keep_long = keep.f_to_kind(Kind::Int64)?;
        let positions =
            keep_long.f_cumsum(1, Kind::Int64)?.f_mul(&keep_long)?.f_add_scalar(self.config.pad_token_id)?;
        x = x.f_add(&Tensor::f_embedding(&self.position_embeddings, &positions, -1, false, false)?)?;
        if let Some(ln) = &self.layer_norm {
            x = ln.forward(&x)?;
        }
        x = x.f_mul(&keep.f_unsqueeze(-1)?.f_to_kind(self.kind)?)?;

        let lengths = nn::padded_lengths(&keep)?;
        record(0, &x);
        for (i, layer) in self.layers.iter().enumerate().take(deepest as usize) {
            x = layer.forward(&x, None, lengths.as_deref())?;
            let l = i as i64 + 1;
            if l == n {
                x = self.emb_layer_norm_after.forward(&x)?;
            }
            record(l, &x);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::pickle;

    #[test]
    fn released_architectures() {
        let b = Esm1Config::for_architecture("esm1b_t33_650M_UR50S").unwrap();
        assert!(b.emb_layer_norm_before && b.token_dropout);
        assert_eq!((b.num_hidden_layers, b.hidden_size, b.intermediate_size, b.head_dim()), (33, 1280, 5120, 64));
        assert_eq!(b.max_residues(), 1022);
        let v = Esm1Config::for_architecture("esm1v_t33_650M_UR90S_3").unwrap();
        assert!(!v.emb_layer_norm_before);
        assert!(Esm1Config::for_architecture("esm1_t34_670M_UR50S").is_err());
    }

    #[test]
    fn args_namespace() {
        // pickle.dumps(argparse.Namespace(arch="roberta_large", encoder_layers=2, encoder_embed_dim=64,
        //   encoder_ffn_embed_dim=256, encoder_attention_heads=4, max_positions=1024, token_dropout=True),
        //   protocol=2)
        let data: &[u8] = b"\x80\x02cargparse\nNamespace\nq\x00)\x81q\x01}q\x02(X\x04\x00\x00\x00archq\x03X\r\x00\x00\x00roberta_largeq\x04X\x0e\x00\x00\x00encoder_layersq\x05K\x02X\x11\x00\x00\x00encoder_embed_dimq\x06K@X\x15\x00\x00\x00encoder_ffn_embed_dimq\x07M\x00\x01X\x17\x00\x00\x00encoder_attention_headsq\x08K\x04X\r\x00\x00\x00max_positionsq\tM\x00\x04X\r\x00\x00\x00token_dropoutq\n\x88ub.";
        let args = pickle::parse(data).unwrap();
        let c = Esm1Config::from_args(&args, true, Path::new("x.pt")).unwrap();
        assert_eq!((c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads), (2, 64, 256, 4));
        assert_eq!((c.max_positions, c.token_dropout, c.emb_layer_norm_before), (1024, true, true));
        let err = Esm1Config::from_args(&pickle::Value::Dict(vec![]), false, Path::new("x.pt")).unwrap_err();
        assert!(err.to_string().contains("args has no integer `encoder_layers`"), "{err}");
    }
}
