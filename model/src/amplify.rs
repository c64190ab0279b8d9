//! AMPLIFY (chandar-lab's protein language model) on libtorch, ported from the authors' own code
//! (chandar-lab/AMPLIFY 2fd2c08, `src/amplify/model/{amplify,rotary,rmsnorm}.py` and
//! `src/amplify/tokenizer/tokenizer.py`; the same model file the Hugging Face repositories
//! `chandar-lab/AMPLIFY_120M` and `AMPLIFY_350M` run as remote code). docs/dev/amplify-port.md gives the
//! formulas, with citations, and what differs from ESM2 and ESM C.
//!
//! What is particular to it, and why each piece is written the way it is:
//! - its own 27-token vocabulary (`conf/tokenizer/amplify_vocab.txt`), `<bos>`/`<eos>` around every
//!   sequence, `<pad>` = 0: none of ESM's ids ([`TOKENS`], [`tokenize`]);
//! - pre-norm blocks with RMSNorm (no bias), q/k/v/wo without bias, rotary positions in the
//!   interleaved-pair (complex) convention, not ESM's rotate-half ([`Rotary`]);
//! - SwiGLU with one fused `w12` weight, gate rows first, whose width is derived from the config's
//!   `intermediate_size` by ⌈⌊2n/3⌋ / 8⌉·8 ([`amplify_intermediate_size`]): 1712 for the 120M, not 2560;
//! - the masked-LM head is `decoder(layer_norm_2(x))`, a plain biased linear over the 27 tokens;
//! - the last layer esmdb returns is not the model's own final norm but what the paper pooled: SWAT's
//!   `extract_AMPLIFY.py` applies a freshly built `nn.LayerNorm` (weight 1, bias 0, eps 1e-5) to the
//!   last block's output, *before* `layer_norm_2`. So the logits cannot be computed from that layer:
//!   [`Amplify::forward_with_logits`] returns both from one pass.
//!
//! Layout follows the published checkpoint names ([`crate::weights::amplify`]: the upstream state-dict
//! names, unprefixed), so a mapping bug shows up as a missing-tensor error rather than as silently wrong
//! numbers.
use std::path::Path;

use serde_json::Value as Json;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::nn::{self, Loader};
use crate::weights::Weights;

/// The published AMPLIFY sizes: (name, layers, hidden size, heads). Both have 64-wide heads and a
/// config `intermediate_size` of 4 × hidden (conf/model/120M.yaml, 350M.yaml).
pub const AMPLIFY_ARCHITECTURES: [(&str, i64, i64, i64); 2] =
    [("amplify_120m", 24, 640, 10), ("amplify_350m", 32, 960, 15)];

/// The vocabulary, index = token id: `conf/tokenizer/amplify_vocab.txt` line by line (the Hugging Face
/// repositories' `tokenizer.json` has the same 27 ids). Five specials, the chain break `|`, the 20
/// amino acids in ESM's order, and `B`. No `X`, `U`, `Z`, `O` and no gap tokens.
pub const TOKENS: [&str; 27] = [
    "<pad>", "<unk>", "<mask>", "<bos>", "<eos>", "|", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q",
    "N", "F", "Y", "M", "H", "W", "C", "B",
];
/// Token id of `<pad>` (amplify_tokenizer.yaml `pad_token_id`; also the config's `pad_token_id`).
pub const PAD: i64 = 0;
/// Token id of `<unk>`: every character outside the vocabulary (tokenizer.py `token_to_id`).
pub const UNK: i64 = 1;
/// Token id of `<mask>`.
pub const MASK: i64 = 2;
/// Token id of `<bos>`, prepended to every sequence (tokenizer.py `encode`, `add_special_tokens=True`).
pub const BOS: i64 = 3;
/// Token id of `<eos>`, appended to every sequence.
pub const EOS: i64 = 4;
/// Token id of `|`, the chain break.
pub const CHAIN_BREAK: i64 = 5;
/// Number of tokens (rows of the embedding and of the decoder).
pub const VOCAB_SIZE: i64 = 27;

/// The AMPLIFY token of each ESM alphabet id ([`crate::alphabet::TOKENS`] order), by meaning: `<cls>` is
/// `<bos>`, the 20 amino acids and `B` are themselves, ESM id 31 is the chain break `|` (as ESM C reads
/// it), and what AMPLIFY's vocabulary lacks (`X`, `U`, `Z`, `O`, `.`, `-`) is `<unk>`, as its tokenizer
/// maps any character it does not know. Used to put AMPLIFY's log-probabilities in the ESM columns that
/// [`crate::LogProbs`] and the cache index by ([`esm_columns`]).
#[rustfmt::skip]
pub const FROM_ESM: [i64; 33] = [
    BOS, PAD, EOS, UNK, // <cls> <pad> <eos> <unk>
    // L A G V S E R T I D P K Q N F Y M H W C
    6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    UNK, 26, UNK, UNK, UNK, // X B U Z O
    UNK, UNK,               // . -
    CHAIN_BREAK, MASK,      // <null_1> <mask>
];

/// The token id of one residue character: the vocabulary's letters and `|` (any case), `<unk>` for the
/// ESM alphabet's letters and gaps that AMPLIFY's vocabulary lacks, `None` for anything else.
///
/// Case: the authors' tokenizers (tokenizer.py and the hub's `tokenizer.json`, which has no normalizer)
/// map a lowercase letter to `<unk>`; here it is its uppercase letter, as [`crate::alphabet::tokenize`]
/// does for ESM. Input reaching a model has gone through `esmdb-seq`, which uppercases, so the two never
/// differ on what esmdb embeds.
pub fn residue_token(c: char) -> Option<i64> {
    let id = match u8::try_from(c).ok()?.to_ascii_uppercase() {
        b'|' => CHAIN_BREAK,
        b'L' => 6,
        b'A' => 7,
        b'G' => 8,
        b'V' => 9,
        b'S' => 10,
        b'E' => 11,
        b'R' => 12,
        b'T' => 13,
        b'I' => 14,
        b'D' => 15,
        b'P' => 16,
        b'K' => 17,
        b'Q' => 18,
        b'N' => 19,
        b'F' => 20,
        b'Y' => 21,
        b'M' => 22,
        b'H' => 23,
        b'W' => 24,
        b'C' => 25,
        b'B' => 26,
        b'X' | b'U' | b'Z' | b'O' | b'.' | b'-' => UNK,
        _ => return None,
    };
    Some(id)
}

/// Tokenizes one sequence into AMPLIFY token ids, without `<bos>`/`<eos>` (the caller frames it, as for
/// ESM). One token per character ([`residue_token`]); the specials written inline as `<pad>`, `<unk>`,
/// `<mask>`, `<bos>`, `<eos>` (any case) are tokenized, for callers that build inputs themselves
/// (zero-shot scoring masks positions). ESM's `<cls>` and anything else is an [`Error::InvalidResidue`]
/// naming `id` and the 1-based position.
pub fn tokenize(id: &str, sequence: &str) -> Result<Vec<i64>> {
    let bytes = sequence.as_bytes();
    let mut tokens = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<'
            && let Some(len) = bytes[i..].iter().position(|&b| b == b'>')
        {
            let tok = &sequence[i..=i + len];
            if let Some(t) = TOKENS[..5].iter().position(|t| t.eq_ignore_ascii_case(tok)) {
                tokens.push(t as i64);
                i += len + 1;
                continue;
            }
        }
        match residue_token(char::from(bytes[i])) {
            Some(t) => tokens.push(t),
            None => {
                let residue = sequence[i..].chars().next().map(String::from).unwrap_or_default();
                return Err(Error::InvalidResidue { id: id.to_owned(), residue, position: i + 1 });
            }
        }
        i += 1;
    }
    if tokens.is_empty() {
        return Err(Error::EmptySequence { id: id.to_owned() });
    }
    Ok(tokens)
}

/// Rows of AMPLIFY log-probabilities (`[rows, 27]`, row-major, [`TOKENS`] order) re-indexed by ESM token
/// id (`[rows, 33]`, [`crate::alphabet::TOKENS`] order): column `c` holds AMPLIFY column `FROM_ESM[c]`. So
/// `X` (and `U`, `Z`, `O`) read `<unk>`'s value, which is what the model predicts for a residue its
/// tokenizer would have turned into `<unk>`. The rows then no longer sum to 1; log-odds never need them to.
pub fn esm_columns(values: &[f32]) -> Vec<f32> {
    values.chunks_exact(VOCAB_SIZE as usize).flat_map(|row| FROM_ESM.iter().map(move |&a| row[a as usize])).collect()
}

/// The SwiGLU hidden width AMPLIFY derives from the config's `intermediate_size` n: ⌊2n/3⌋ rounded up to
/// a multiple of 8 (amplify.py:108-110, "keep the number of parameters constant"). 2560 → 1712 (120M),
/// 3840 → 2560 (350M). `int(2 * n / 3)` in Python is a float division truncated; for positive n it equals
/// the integer division (a non-integer 2n/3 is at least 1/3 from an integer, far above the rounding).
pub fn amplify_intermediate_size(intermediate_size: i64) -> i64 {
    let h = 2 * intermediate_size / 3;
    (h + 7) / 8 * 8
}

/// The architecture of an AMPLIFY model: the published `config.json` keys (`AMPLIFYConfig`, amplify.py:26-68)
/// that inference needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AmplifyConfig {
    /// Width of the residual stream (640, 960).
    pub hidden_size: i64,
    /// Number of encoder blocks (24, 32).
    pub num_hidden_layers: i64,
    /// Attention heads per block (10, 15: 64 wide).
    pub num_attention_heads: i64,
    /// The config's `intermediate_size` (4 × hidden in both releases). Not the SwiGLU width, which is
    /// derived from it ([`AmplifyConfig::ffn_hidden_size`]).
    pub intermediate_size: i64,
    /// Rows of the embedding and of the decoder: 27, the tokenizer's.
    pub vocab_size: i64,
    /// Token id of `<pad>` (0).
    pub pad_token_id: i64,
    /// Epsilon of every RMSNorm (`norm_eps`, 1e-5; rmsnorm.py's own default of 1e-6 is never used).
    pub norm_eps: f64,
    /// Most tokens a sequence may have, `<bos>`/`<eos>` included (`max_length`, 2048): upstream's rotary
    /// table has this many rows and a longer input fails there (rotary.py:49), so it is refused here too.
    pub max_length: i64,
}

impl AmplifyConfig {
    /// A config with the published models' fixed choices and the given size (config `intermediate_size`
    /// 4 × hidden, 27 tokens, 2048 positions).
    pub fn new(num_hidden_layers: i64, hidden_size: i64, num_attention_heads: i64) -> Self {
        AmplifyConfig {
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size: 4 * hidden_size,
            vocab_size: VOCAB_SIZE,
            pad_token_id: PAD,
            norm_eps: 1e-5,
            max_length: 2048,
        }
    }

    /// The config of a published AMPLIFY by name: `amplify_120m` or `amplify_350m`.
    pub fn for_architecture(name: &str) -> Result<Self> {
        let (_, layers, hidden, heads) =
            AMPLIFY_ARCHITECTURES.iter().find(|(n, ..)| *n == name).copied().ok_or_else(|| {
                let known: Vec<&str> = AMPLIFY_ARCHITECTURES.iter().map(|a| a.0).collect();
                Error::Option(format!("unknown AMPLIFY architecture `{name}`; known: {}", known.join(", ")))
            })?;
        Ok(Self::new(layers, hidden, heads))
    }

    /// Reads and validates a published `config.json` (`model_type` `AMPLIFY`). The four size keys are
    /// required; the others default as `AMPLIFYConfig` does. The variants `AMPLIFYConfig` allows but no
    /// published model uses (LayerNorm instead of RMSNorm, ReLU/GELU, biases, a norm after the embedding,
    /// no norm before the decoder) are refused by name rather than run unchecked, and so is NVIDIA's
    /// TransformerEngine re-export (`padded_vocab_size`, `nvidia/AMPLIFY_*`), whose tensors are fused and
    /// padded differently.
    pub fn from_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let fail = |message: String| Error::Config { path: path.into(), message };
        let json: Json = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let Json::Object(map) = &json else { return Err(fail("not a JSON object".into())) };
        if let Some(model_type) = map.get("model_type").and_then(Json::as_str)
            && !model_type.eq_ignore_ascii_case("amplify")
        {
            return Err(fail(format!("model_type is `{model_type}`, not `AMPLIFY`")));
        }
        if map.contains_key("padded_vocab_size") {
            return Err(fail(
                "`padded_vocab_size`: this is NVIDIA's TransformerEngine export of AMPLIFY (nvidia/AMPLIFY_*), \
                 laid out differently; use the authors' chandar-lab/AMPLIFY_120M or chandar-lab/AMPLIFY_350M"
                    .into(),
            ));
        }
        let value = |key: &str| map.get(key).filter(|v| !v.is_null());
        let int = |key: &str, default: Option<i64>| -> Result<i64> {
            match value(key) {
                None => default.ok_or_else(|| fail(format!("no `{key}`"))),
                Some(v) => v.as_i64().ok_or_else(|| fail(format!("`{key}` is not an integer: {v}"))),
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool> {
            match value(key) {
                None => Ok(default),
                Some(v) => v.as_bool().ok_or_else(|| fail(format!("`{key}` is not a boolean: {v}"))),
            }
        };
        // (key, AMPLIFYConfig's default, the published value esmdb runs)
        for (key, default, published) in [
            ("rms_norm", true, true),
            ("layer_norm_after_embedding", false, false),
            ("layer_norm_before_last_layer", true, true),
            ("ffn_bias", false, false),
            ("att_bias", false, false),
        ] {
            if flag(key, default)? != published {
                return Err(fail(format!("`{key}` is {}; the published AMPLIFY has {published}", !published)));
            }
        }
        let act = value("hidden_act").map_or(Some("SwiGLU"), Json::as_str);
        if !act.is_some_and(|a| a.eq_ignore_ascii_case("swiglu")) {
            return Err(fail(format!("hidden_act is {act:?}; the published AMPLIFY uses SwiGLU")));
        }
        let norm_eps = match value("norm_eps") {
            None => 1e-5,
            Some(v) => v.as_f64().ok_or_else(|| fail(format!("`norm_eps` is not a number: {v}")))?,
        };
        let config = AmplifyConfig {
            hidden_size: int("hidden_size", None)?,
            num_hidden_layers: int("num_hidden_layers", None)?,
            num_attention_heads: int("num_attention_heads", None)?,
            intermediate_size: int("intermediate_size", None)?,
            vocab_size: int("vocab_size", Some(VOCAB_SIZE))?,
            pad_token_id: int("pad_token_id", Some(PAD))?,
            norm_eps,
            max_length: int("max_length", Some(2048))?,
        };
        config.validate(path)?;
        Ok(config)
    }

    /// The `config.json` the published repositories hold, written by hand: `AMPLIFYConfig`'s keys with the
    /// published values, `model_type`, `architectures` and the hub's `auto_map` to the remote code (so the
    /// upstream `amplify.py`, `rmsnorm.py`, `rotary.py` dropped beside it load it with `trust_remote_code`).
    /// transformers 5 refuses `save_pretrained` on this config class, so nothing writes it for us.
    pub fn to_config_json(&self) -> Json {
        serde_json::json!({
            "architectures": ["AMPLIFY"],
            "auto_map": {"AutoConfig": "amplify.AMPLIFYConfig", "AutoModel": "amplify.AMPLIFY"},
            "model_type": "AMPLIFY",
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "dropout_prob": 0,
            "embedding_init_range": 0.02,
            "decoder_init_range": 0.02,
            "rms_norm": true,
            "norm_eps": self.norm_eps,
            "hidden_act": "SwiGLU",
            "layer_norm_after_embedding": false,
            "layer_norm_before_last_layer": true,
            "vocab_size": self.vocab_size,
            "ffn_bias": false,
            "att_bias": false,
            "pad_token_id": self.pad_token_id,
            "max_length": self.max_length,
            "torch_dtype": "float32",
        })
    }

    /// Checks that the config describes an AMPLIFY this crate can run.
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
        if self.vocab_size != VOCAB_SIZE {
            return fail(format!("vocab_size is {}; the AMPLIFY tokenizer has {VOCAB_SIZE} tokens", self.vocab_size));
        }
        if self.pad_token_id != PAD {
            return fail(format!("pad_token_id is {}; the AMPLIFY tokenizer's <pad> is {PAD}", self.pad_token_id));
        }
        if self.max_length < 3 {
            return fail(format!("max_length {} leaves no room for a residue", self.max_length));
        }
        if self.norm_eps.is_nan() || self.norm_eps <= 0.0 {
            return fail(format!("norm_eps {} must be positive", self.norm_eps));
        }
        Ok(())
    }

    /// The per-head dimension (64 in both releases).
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// The SwiGLU hidden width: `w12` has twice this many rows, `w3` this many columns.
    pub fn ffn_hidden_size(&self) -> i64 {
        amplify_intermediate_size(self.intermediate_size)
    }

    /// The longest sequence, in residues, the model embeds: `max_length` less `<bos>` and `<eos>` (2046).
    pub fn max_residues(&self) -> i64 {
        self.max_length - 2
    }
}

/// RMSNorm: x · rsqrt(mean(x²) + ε) computed in fp32, cast back, times the weight; no bias.
/// rmsnorm.py:23-24, 37-38 (`_norm(x.float()).type_as(x) * self.weight`). Only AMPLIFY has one; it would
/// move to [`crate::nn`] with a second user.
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn load(w: &Loader, name: &str, dim: i64, eps: f64) -> Result<Self> {
        Ok(RmsNorm { weight: w.get(name, &[dim])?, eps })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let xf = x.f_to_kind(Kind::Float)?;
        let inv_rms = xf.f_square()?.f_mean_dim(-1, true, Kind::Float)?.f_add_scalar(self.eps)?.f_rsqrt()?;
        Ok(xf.f_mul(&inv_rms)?.f_to_kind(x.kind())?.f_mul(&self.weight)?)
    }
}

/// Self-attention with its input RMSNorm and rotary positions; no biases. amplify.py:137-183
/// (`EncoderBlock._att_block`).
struct Attention {
    attention_norm: RmsNorm, // transformer_encoder.N.attention_norm.weight
    /// transformer_encoder.N.{q,k,v}.weight stacked into one [3d, d] weight, rows q | k | v: one GEMM
    /// instead of three, the same numbers.
    qkv: Tensor,
    wo: Tensor, // transformer_encoder.N.wo.weight [d, d]
    num_heads: i64,
    head_dim: i64,
}

impl Attention {
    fn load(w: &Loader, p: &str, cfg: &AmplifyConfig) -> Result<Self> {
        let d = cfg.hidden_size;
        let proj = |n: &str| w.get(&format!("{p}.{n}.weight"), &[d, d]);
        Ok(Attention {
            attention_norm: RmsNorm::load(w, &format!("{p}.attention_norm.weight"), d, cfg.norm_eps)?,
            qkv: Tensor::f_cat(&[proj("q")?, proj("k")?, proj("v")?], 0)?,
            wo: proj("wo")?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// The attention branch, [batch, seq, d] → [batch, seq, d], before the residual. `lengths` (tokens per
    /// row, `<bos>`/`<eos>` included) is given when rows are padded.
    fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[i64]>) -> Result<Tensor> {
        let (b, t, d) = x.size3()?;
        let qkv = self.attention_norm.forward(x)?.f_linear::<Tensor>(&self.qkv, None)?; // [b, t, 3d]
        // [b, t, heads, head_dim], as upstream views q/k/v before the rotation (amplify.py:148-150).
        let split = |i: i64| qkv.f_narrow(2, i * d, d)?.f_view([b, t, self.num_heads, self.head_dim]);
        // Rotary on q and k, then heads first for SDPA (no scaling before the rotation, unlike ESM2; the
        // rotation being linear, the same numbers).
        let q = rope.apply(&split(0)?)?.f_transpose(1, 2)?;
        let k = rope.apply(&split(1)?)?.f_transpose(1, 2)?;
        let v = split(2)?.f_transpose(1, 2)?;
        // Padded rows attend over their own tokens only ([`nn::attention`]). Upstream adds a [b, heads, t, t]
        // bias of -inf on padded keys instead (amplify.py:257-259, 174-180): the same numbers on every real
        // token. Scale: libtorch's default 1/√head_dim, which upstream's SDPA and xformers calls use too.
        let ctx = nn::attention(&q, &k, &v, None, lengths)?;
        let ctx = ctx.f_transpose(1, 2)?.f_reshape([b, t, d])?;
        Ok(ctx.f_linear::<Tensor>(&self.wo, None)?)
    }
}

/// RMSNorm + SwiGLU feed-forward, no biases: w3(silu(x₁) ⊙ x₂) with [x₁ | x₂] = w12(RMSNorm(x)), x₁ the
/// first half of w12's rows (xformers `SwiGLU`: `w12.weight.view([2, h, d])` → w1, w2, i.e. the same split
/// as `w12(x).chunk(2, dim=-1)`). amplify.py:104-116, 185-186.
struct SwiGlu {
    ffn_norm: RmsNorm, // transformer_encoder.N.ffn_norm.weight
    w12: Tensor,       // transformer_encoder.N.ffn.w12.weight [2h, d], gate rows first
    w3: Tensor,        // transformer_encoder.N.ffn.w3.weight [d, h]
    hidden: i64,
}

impl SwiGlu {
    fn load(w: &Loader, p: &str, cfg: &AmplifyConfig) -> Result<Self> {
        let (d, h) = (cfg.hidden_size, cfg.ffn_hidden_size());
        Ok(SwiGlu {
            ffn_norm: RmsNorm::load(w, &format!("{p}.ffn_norm.weight"), d, cfg.norm_eps)?,
            w12: w.get(&format!("{p}.ffn.w12.weight"), &[2 * h, d])?,
            w3: w.get(&format!("{p}.ffn.w3.weight"), &[d, h])?,
            hidden: h,
        })
    }

    /// The feed-forward branch, before the residual.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.ffn_norm.forward(x)?.f_linear::<Tensor>(&self.w12, None)?;
        let n = self.hidden;
        let g = h.f_narrow(2, 0, n)?.f_silu()?.f_mul(&h.f_narrow(2, n, n)?)?;
        Ok(g.f_linear::<Tensor>(&self.w3, None)?)
    }
}

/// One block: x + attn(RMSNorm(x)), then x + SwiGLU(RMSNorm(x)); no residual scaling, no dropout at
/// inference. amplify.py:137-141 (`EncoderBlock.forward`).
struct EncoderBlock {
    attention: Attention,
    ffn: SwiGlu,
}

impl EncoderBlock {
    fn load(w: &Loader, p: &str, cfg: &AmplifyConfig) -> Result<Self> {
        Ok(EncoderBlock { attention: Attention::load(w, p, cfg)?, ffn: SwiGlu::load(w, p, cfg)? })
    }

    fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[i64]>) -> Result<Tensor> {
        let x = x.f_add(&self.attention.forward(x, rope, lengths)?)?;
        Ok(x.f_add(&self.ffn.forward(&x)?)?)
    }
}

/// Rotary position tables for one sequence length, in the interleaved-pair (complex) convention of
/// rotary.py: dimensions (2j, 2j+1) of each head are one complex number, turned by the angle t·θⱼ,
/// θⱼ = 10000^(−2j/head_dim), positions from 0 at `<bos>`, computed in fp32 (rotary.py:5-25
/// `precompute_freqs_cis`, 54-80 `apply_rotary_emb`). Not ESM's rotate-half, which pairs j with j + head_dim/2.
struct Rotary {
    cos: Tensor, // [1, seq, 1, head_dim / 2], fp32
    sin: Tensor,
}

impl Rotary {
    fn new(inv_freq: &Tensor, seq_len: i64) -> Result<Self> {
        let t = Tensor::f_arange(seq_len, (Kind::Float, inv_freq.device()))?;
        let angles = t.f_outer(inv_freq)?.f_view([1, seq_len, 1, -1])?;
        Ok(Rotary { cos: angles.f_cos()?, sin: angles.f_sin()? })
    }

    /// x: [batch, seq, heads, head_dim] → the same, each pair (x₂ⱼ, x₂ⱼ₊₁) multiplied by e^{i·t·θⱼ}:
    /// (x₂ⱼ·cos − x₂ⱼ₊₁·sin, x₂ⱼ·sin + x₂ⱼ₊₁·cos), in fp32 and cast back (`xq.float()` … `type_as(xq)`).
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, h, hd) = x.size4()?;
        let pairs = x.f_to_kind(Kind::Float)?.f_view([b, t, h, hd / 2, 2])?;
        let (re, im) = (pairs.f_select(4, 0)?, pairs.f_select(4, 1)?);
        let out_re = re.f_mul(&self.cos)?.f_sub(&im.f_mul(&self.sin)?)?;
        let out_im = re.f_mul(&self.sin)?.f_add(&im.f_mul(&self.cos)?)?;
        Ok(Tensor::f_stack(&[out_re, out_im], 4)?.f_flatten(3, 4)?.f_to_kind(x.kind())?)
    }
}

/// The representation SWAT's `extract_AMPLIFY.py` pools, and so esmdb's last layer: a freshly built
/// `nn.LayerNorm(hidden_size)` (weight 1, bias 0, eps 1e-5) on the last block's output, in fp32.
fn swat_layer_norm(x: &Tensor) -> Result<Tensor> {
    let d = x.size().last().copied().unwrap_or(0);
    Ok(x.f_to_kind(Kind::Float)?.f_layer_norm([d], None::<Tensor>, None::<Tensor>, 1e-5, true)?.f_to_kind(x.kind())?)
}

/// An AMPLIFY encoder ready for inference.
pub struct Amplify {
    config: AmplifyConfig,
    device: Device,
    kind: Kind,
    encoder: Tensor, // encoder.weight [27, d] (the token embedding; upstream calls it `encoder`)
    layers: Vec<EncoderBlock>, // transformer_encoder.{i}
    layer_norm_2: RmsNorm, // layer_norm_2.weight: the decoder's input norm, not part of any layer
    decoder: (Tensor, Tensor), // decoder.{weight [27, d], bias [27]}
    inv_freq: Tensor, // θⱼ, [head_dim / 2], fp32
}

impl std::fmt::Debug for Amplify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Amplify")
            .field("config", &self.config)
            .field("device", &self.device)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Amplify {
    /// Builds the model from the published weights ([`crate::weights::amplify`]), checking every tensor's
    /// presence and shape. The decoder is part of every published checkpoint (upstream loads strictly), so
    /// it is required.
    pub fn load(config: &AmplifyConfig, weights: &Weights, device: Device, kind: Kind) -> Result<Self> {
        config.validate(weights.path())?;
        let w = Loader { weights, device, kind };
        let (d, v) = (config.hidden_size, config.vocab_size);
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderBlock::load(&w, &format!("transformer_encoder.{i}"), config))
            .collect::<Result<Vec<_>>>()?;
        // θⱼ = 1 / 10000^(2j/hd) in fp32, the operations of rotary.py:22 (`theta ** (arange(0, dim, 2) / dim)`,
        // then `1.0 /`): a fixed function, never in the checkpoint (upstream keeps `freqs_cis` out of the
        // state dict).
        let hd = config.head_dim();
        let exponent = Tensor::f_arange_start_step(0, hd, 2, (Kind::Float, device))?.f_div_scalar(hd as f64)?;
        let inv_freq = Tensor::f_pow_scalar(10000f64, &exponent)?.f_reciprocal()?;
        Ok(Amplify {
            config: config.clone(),
            device,
            kind,
            encoder: w.get("encoder.weight", &[v, d])?,
            layers,
            layer_norm_2: RmsNorm::load(&w, "layer_norm_2.weight", d, config.norm_eps)?,
            decoder: (w.get("decoder.weight", &[v, d])?, w.get("decoder.bias", &[v])?),
            inv_freq,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &AmplifyConfig {
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

    /// Always true: every AMPLIFY checkpoint has its decoder.
    pub fn has_lm_head(&self) -> bool {
        true
    }

    /// Runs the encoder on `tokens` ([batch, seq] int64, AMPLIFY ids, `<bos>` … `<eos>` then `<pad>` = 0
    /// on the right) and returns the hidden states of each requested layer, in the order asked:
    /// 0 = the token embedding, i < n = the raw output of block i (upstream `hidden_states[i - 1]`),
    /// n = SWAT's LayerNorm of the last block's output (see the module doc). Layers past the deepest
    /// requested one are not computed. The contract of [`crate::Esm2::forward`].
    pub fn forward(&self, tokens: &Tensor, layers: &[i64]) -> Result<Vec<Tensor>> {
        nn::requested_layers(layers, self.config.num_hidden_layers, |deepest, record| {
            self.run(tokens, deepest, record).map(drop)
        })
    }

    /// The masked-LM logits, [batch, seq, 27] in [`TOKENS`] order, every position: `decoder(layer_norm_2(x))`
    /// of the last block's output x, as upstream's `MaskedLMOutput.logits` (amplify.py:279).
    pub fn logits(&self, tokens: &Tensor) -> Result<Tensor> {
        self.forward_with_logits(tokens, &[], true)?.1.ok_or_else(|| Error::Option("AMPLIFY computed no logits".into()))
    }

    /// [`Amplify::forward`] and, when `logits`, the logits of [`Amplify::logits`], from one pass. Both are
    /// needed in one pass because the logits read the last block's raw output, which the returned last
    /// layer (SWAT's LayerNorm of it) no longer holds.
    pub fn forward_with_logits(
        &self,
        tokens: &Tensor,
        layers: &[i64],
        logits: bool,
    ) -> Result<(Vec<Tensor>, Option<Tensor>)> {
        if !logits {
            return Ok((self.forward(tokens, layers)?, None));
        }
        let n = self.config.num_hidden_layers;
        // Run to the last block whatever is asked (the extra layer n is dropped again).
        let mut asked = layers.to_vec();
        asked.push(n);
        let mut last = None;
        let mut hidden = nn::requested_layers(&asked, n, |deepest, record| {
            last = Some(self.run(tokens, deepest, record)?);
            Ok(())
        })?;
        hidden.pop();
        let last = last.ok_or_else(|| Error::Option("no final hidden state".into()))?;
        let _guard = tch::no_grad_guard();
        let logits = self.layer_norm_2.forward(&last)?.f_linear(&self.decoder.0, Some(&self.decoder.1))?;
        Ok((hidden, Some(logits)))
    }

    /// The forward pass up to block `deepest`, handing each stage to `record` (0 = the embedding, i < n =
    /// block i's raw output, n = SWAT's LayerNorm of block n's) and returning block `deepest`'s raw output.
    fn run(&self, tokens: &Tensor, deepest: i64, record: &mut dyn FnMut(i64, &Tensor)) -> Result<Tensor> {
        let n = self.config.num_hidden_layers;
        let tokens = tokens.f_to_device(self.device)?;
        let (_, t) = tokens.size2()?;
        if t > self.config.max_length {
            return Err(Error::Option(format!(
                "{t} tokens: AMPLIFY's rotary table covers {} (max_length), {} residues",
                self.config.max_length,
                self.config.max_residues()
            )));
        }
        // ESM ids (a `<mask>` of 32, a `<cls>` of 0 read as `<pad>`) would run silently with wrong numbers
        // or fail deep inside the embedding; the large ones are caught here with a message.
        let (lo, hi) = (i64::try_from(&tokens.f_min()?)?, i64::try_from(&tokens.f_max()?)?);
        if lo < 0 || hi >= self.config.vocab_size {
            return Err(Error::Option(format!(
                "token id {} is outside AMPLIFY's {}-token vocabulary (ESM token ids given to AMPLIFY?)",
                if lo < 0 { lo } else { hi },
                self.config.vocab_size
            )));
        }
        let keep = tokens.f_ne(self.config.pad_token_id)?; // [batch, seq]

        // A plain lookup: no scale, no positions, no norm after it (`layer_norm_after_embedding` false).
        // amplify.py:266. Padded positions keep their `<pad>` row: they are never attended to.
        let mut x = Tensor::f_embedding(&self.encoder, &tokens, -1, false, false)?;
        let lengths = nn::padded_lengths(&keep)?;
        let rope = Rotary::new(&self.inv_freq, t)?;

        record(0, &x);
        for (i, block) in self.layers.iter().enumerate().take(deepest as usize) {
            x = block.forward(&x, &rope, lengths.as_deref())?;
            let l = i as i64 + 1;
            if l == n {
                record(l, &swat_layer_norm(&x)?);
            } else {
                record(l, &x);
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_resolve() {
        let c = AmplifyConfig::for_architecture("amplify_120m").unwrap();
        assert_eq!(
            (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size, c.ffn_hidden_size()),
            (24, 640, 10, 2560, 1712)
        );
        assert_eq!((c.head_dim(), c.max_residues()), (64, 2046));
        let c = AmplifyConfig::for_architecture("amplify_350m").unwrap();
        assert_eq!(
            (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.ffn_hidden_size()),
            (32, 960, 15, 2560)
        );
        let err = AmplifyConfig::for_architecture("amplify_1b").unwrap_err().to_string();
        assert!(err.contains("amplify_120m"), "{err}");
    }

    #[test]
    fn intermediate_size_matches_upstream() {
        // int(2 * n / 3) rounded up to a multiple of 8, evaluated in Python for these n.
        for (n, h) in [
            (4, 8),
            (100, 72),
            (512, 344),
            (768, 512),
            (1280, 856),
            (2560, 1712),
            (3840, 2560),
            (5120, 3416),
            (10240, 6832),
        ] {
            assert_eq!(amplify_intermediate_size(n), h, "n = {n}");
        }
    }

    #[test]
    fn tokens_follow_the_vocabulary_file() {
        // Every vocabulary letter tokenizes to its line number in amplify_vocab.txt.
        for (i, tok) in TOKENS.iter().enumerate().skip(5) {
            let c = tok.chars().next().unwrap();
            assert_eq!(residue_token(c), Some(i as i64), "{tok}");
        }
        assert_eq!(tokenize("s", "LAGVSERTIDPKQNFYMHWCB").unwrap(), (6..=26).collect::<Vec<_>>());
        // The reference tokenizer on "MKXBZUOACD": X, Z, U, O are <unk>, B is itself.
        assert_eq!(tokenize("s", "MKXBZUOACD").unwrap(), vec![22, 17, 1, 26, 1, 1, 1, 7, 25, 15]);
        assert_eq!(tokenize("s", "m<mask>K|<EOS>").unwrap(), vec![22, MASK, 17, CHAIN_BREAK, EOS]);
        let err = tokenize("P1", "MK<cls>").unwrap_err().to_string();
        assert!(err.contains("`<` at position 3"), "{err}");
        let err = tokenize("P2", "MKJ").unwrap_err().to_string();
        assert!(err.contains("`J` at position 3"), "{err}");
        assert_eq!(tokenize("e", "").unwrap_err().to_string(), "sequence `e` is empty");
    }

    #[test]
    fn esm_ids_map_by_meaning() {
        use crate::alphabet;
        // Every AMPLIFY token is some ESM token's image; the 20 amino acids and B keep their letter.
        let mut seen = [false; VOCAB_SIZE as usize];
        for (esm, &a) in FROM_ESM.iter().enumerate() {
            seen[a as usize] = true;
            let letter = alphabet::TOKENS[esm];
            if letter.len() == 1 && TOKENS.contains(&letter) {
                assert_eq!(TOKENS[a as usize], letter);
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(FROM_ESM[alphabet::CLS as usize], BOS);
        assert_eq!(FROM_ESM[alphabet::EOS as usize], EOS);
        assert_eq!(FROM_ESM[alphabet::PAD as usize], PAD);
        assert_eq!(FROM_ESM[alphabet::MASK as usize], MASK);
        // A row of log-probabilities re-indexed: ESM's A column is AMPLIFY's A, X reads <unk>.
        let row: Vec<f32> = (0..VOCAB_SIZE).map(|i| -(i as f32)).collect();
        let esm = esm_columns(&row);
        assert_eq!(esm.len(), 33);
        assert_eq!(esm[5], -7.0); // ESM A (5) = AMPLIFY A (7)
        assert_eq!(esm[24], -1.0); // ESM X = AMPLIFY <unk>
    }

    fn json_config(text: &str) -> Result<AmplifyConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        AmplifyConfig::from_json(&path)
    }

    #[test]
    fn config_json_published_and_refused() {
        let c = AmplifyConfig::for_architecture("amplify_120m").unwrap();
        let written = json_config(&c.to_config_json().to_string()).unwrap();
        assert_eq!(written, c);
        // The published file's keys, with transformers' bookkeeping.
        let c = json_config(
            r#"{"_name_or_path": "AMPLIFY_350M", "architectures": ["AMPLIFY"], "att_bias": false,
            "auto_map": {"AutoConfig": "amplify.AMPLIFYConfig", "AutoModel": "amplify.AMPLIFY"},
            "decoder_init_range": 0.02, "dropout_prob": 0, "embedding_init_range": 0.02, "ffn_bias": false,
            "hidden_act": "SwiGLU", "hidden_size": 960, "intermediate_size": 3840,
            "layer_norm_after_embedding": false, "layer_norm_before_last_layer": true, "max_length": 2048,
            "model_type": "AMPLIFY", "norm_eps": 1e-05, "num_attention_heads": 15, "num_hidden_layers": 32,
            "pad_token_id": 0, "rms_norm": true, "torch_dtype": "float32", "transformers_version": "4.42.3",
            "vocab_size": 27}"#,
        )
        .unwrap();
        assert_eq!(c, AmplifyConfig::for_architecture("amplify_350m").unwrap());
        let refused = |extra: &str| {
            let sizes =
                r#""hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512"#;
            json_config(&format!("{{{sizes}{extra}}}")).unwrap_err().to_string()
        };
        assert!(refused(r#", "rms_norm": false"#).contains("`rms_norm` is false"));
        assert!(refused(r#", "hidden_act": "GELU""#).contains("SwiGLU"));
        assert!(refused(r#", "padded_vocab_size": 32"#).contains("nvidia/AMPLIFY_"));
        assert!(refused(r#", "model_type": "esm""#).contains("not `AMPLIFY`"));
        assert!(refused(r#", "vocab_size": 33"#).contains("27 tokens"));
        let err = json_config(r#"{"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `intermediate_size`"), "{err}");
    }

    /// A small random AMPLIFY in the published layout, loaded through the crate's own path.
    fn small_model() -> Amplify {
        let config = AmplifyConfig::new(2, 128, 2);
        let tensors = crate::init::random_amplify_tensors(&config, 5).unwrap();
        let weights = Weights::from_canonical("random".into(), tensors.into_iter().collect());
        Amplify::load(&config, &weights, Device::Cpu, Kind::Float).unwrap()
    }

    #[test]
    fn padding_leaks_nothing() {
        let m = small_model();
        let seqs = [vec![BOS, 22, 17, 13, 7, 21, EOS], vec![BOS, 7, EOS]];
        let mut ids = vec![PAD; 2 * 7];
        ids[..7].copy_from_slice(&seqs[0]);
        ids[7..10].copy_from_slice(&seqs[1]);
        let batch = Tensor::from_slice(&ids).view([2, 7]);
        let (hidden, logits) = m.forward_with_logits(&batch, &[1, 2], true).unwrap();
        let alone = Tensor::from_slice(&seqs[1]).view([1, 3]);
        let (hidden_alone, logits_alone) = m.forward_with_logits(&alone, &[1, 2], true).unwrap();
        // Row 1's three real tokens, padded batch against alone: layer 1, layer 2 (SWAT's norm), logits.
        let row1 = |x: &Tensor| x.narrow(0, 1, 1).narrow(1, 0, 3);
        let (logits, logits_alone) = (logits.unwrap(), logits_alone.unwrap());
        let pairs = hidden.iter().zip(&hidden_alone).chain([(&logits, &logits_alone)]);
        for (padded, lone) in pairs {
            let d = f64::try_from((row1(padded) - lone).abs().max()).unwrap();
            assert!(d < 1e-5, "max |diff| {d}");
        }
    }

    #[test]
    fn rotary_turns_adjacent_pairs() {
        // head_dim 4: pairs (0, 1) at θ₀ = 1 and (2, 3) at θ₁ = 1/100; position 1 turns e₀ by 1 rad into e₁.
        let inv_freq = Tensor::from_slice(&[1.0f32, 0.01]);
        let rope = Rotary::new(&inv_freq, 2).unwrap();
        let x = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]).view([1, 2, 1, 4]);
        let y = Vec::<f32>::try_from(rope.apply(&x).unwrap().view([-1])).unwrap();
        assert_eq!(&y[..4], &[1.0, 0.0, 0.0, 0.0]); // position 0: unturned
        assert!((y[4] - 1f32.cos()).abs() < 1e-6 && (y[5] - 1f32.sin()).abs() < 1e-6);
        assert_eq!(&y[6..], &[0.0, 0.0]); // nothing leaks into the other pair (rotate-half would)
    }

    #[test]
    fn esm_ids_are_refused() {
        let m = small_model();
        let err = m.forward(&Tensor::from_slice(&[0i64, 4, 32, 2]).view([1, 4]), &[1]).unwrap_err().to_string();
        assert!(err.contains("token id 32") && err.contains("ESM token ids"), "{err}");
    }
}
