//! ESM2 hyper-parameters, mirroring the Hugging Face `config.json` keys of `EsmConfig`.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The architecture of an ESM2 model, as stored in a Hugging Face `config.json`.
///
/// Only the keys that matter for inference are read; unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Width of the residual stream (`embed_dim` in fair-esm).
    pub hidden_size: i64,
    /// Number of transformer layers.
    pub num_hidden_layers: i64,
    /// Attention heads per layer.
    pub num_attention_heads: i64,
    /// Width of the feed-forward layer (4 × hidden_size in every ESM2).
    pub intermediate_size: i64,
    /// Vocabulary size (33 for ESM2).
    #[serde(default = "default_vocab")]
    pub vocab_size: i64,
    /// LayerNorm epsilon (1e-5 in ESM2).
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Whether ESM2's token-dropout rescaling of embeddings is applied (true for all ESM2).
    #[serde(default = "default_true")]
    pub token_dropout: bool,
    /// Must be "rotary" for ESM2.
    #[serde(default = "default_rotary")]
    pub position_embedding_type: String,
    /// Must be false for ESM2 (ESM-1b had a LayerNorm before the first layer).
    #[serde(default)]
    pub emb_layer_norm_before: bool,
    /// Must be "gelu".
    #[serde(default = "default_gelu")]
    pub hidden_act: String,
    /// Token id of `<mask>`.
    #[serde(default = "default_mask")]
    pub mask_token_id: i64,
    /// Token id of `<pad>`.
    #[serde(default = "default_pad")]
    pub pad_token_id: i64,
    /// Positions seen in training (1026 = 1024 residues + cls + eos); informational for rotary models.
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: i64,
}

fn default_vocab() -> i64 {
    33
}
fn default_eps() -> f64 {
    1e-5
}
fn default_true() -> bool {
    true
}
fn default_rotary() -> String {
    "rotary".into()
}
fn default_gelu() -> String {
    "gelu".into()
}
fn default_mask() -> i64 {
    32
}
fn default_pad() -> i64 {
    1
}
fn default_max_pos() -> i64 {
    1026
}

/// The six published ESM2 sizes: (name, layers, hidden size, heads).
pub const ARCHITECTURES: [(&str, i64, i64, i64); 6] = [
    ("esm2_t6_8M_UR50D", 6, 320, 20),
    ("esm2_t12_35M_UR50D", 12, 480, 20),
    ("esm2_t30_150M_UR50D", 30, 640, 20),
    ("esm2_t33_650M_UR50D", 33, 1280, 20),
    ("esm2_t36_3B_UR50D", 36, 2560, 40),
    ("esm2_t48_15B_UR50D", 48, 5120, 40),
];

impl Config {
    /// The config of a published ESM2 architecture by name (e.g. `esm2_t6_8M_UR50D`).
    pub fn for_architecture(name: &str) -> Result<Self> {
        let (_, layers, hidden, heads) = ARCHITECTURES.iter().find(|(n, ..)| *n == name).copied().ok_or_else(|| {
            let known: Vec<&str> = ARCHITECTURES.iter().map(|a| a.0).collect();
            Error::Option(format!("unknown ESM2 architecture `{name}`; known: {}", known.join(", ")))
        })?;
        Ok(Self::new(layers, hidden, heads))
    }

    /// A config with ESM2's fixed choices and the given size.
    pub fn new(num_hidden_layers: i64, hidden_size: i64, num_attention_heads: i64) -> Self {
        Config {
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size: 4 * hidden_size,
            vocab_size: default_vocab(),
            layer_norm_eps: default_eps(),
            token_dropout: true,
            position_embedding_type: default_rotary(),
            emb_layer_norm_before: false,
            hidden_act: default_gelu(),
            mask_token_id: default_mask(),
            pad_token_id: default_pad(),
            max_position_embeddings: default_max_pos(),
        }
    }

    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: Config =
            serde_json::from_str(&text).map_err(|e| Error::Config { path: path.into(), message: e.to_string() })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that the config describes an ESM2 model this crate can run.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let fail = |message: String| Err(Error::Config { path: path.into(), message });
        if self.position_embedding_type != "rotary" {
            return fail(format!(
                "position_embedding_type is `{}`; only ESM2's `rotary` is supported",
                self.position_embedding_type
            ));
        }
        if self.emb_layer_norm_before {
            return fail("emb_layer_norm_before is true (ESM-1b style); ESM2 has none".into());
        }
        if self.hidden_act != "gelu" {
            return fail(format!("hidden_act is `{}`; ESM2 uses `gelu`", self.hidden_act));
        }
        if self.vocab_size != crate::alphabet::VOCAB_SIZE {
            return fail(format!("vocab_size is {}; the ESM alphabet has 33 tokens", self.vocab_size));
        }
        if self.num_attention_heads <= 0 || self.hidden_size % self.num_attention_heads != 0 {
            return fail(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if (self.hidden_size / self.num_attention_heads) % 2 != 0 {
            return fail("rotary embeddings need an even head dimension".into());
        }
        if self.num_hidden_layers <= 0 {
            return fail("num_hidden_layers must be positive".into());
        }
        Ok(())
    }

    /// The per-head dimension.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// The Hugging Face `config.json` text for this config (what `save_pretrained` writes, trimmed to
    /// what `EsmConfig` needs).
    pub fn to_hf_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("architectures".into(), serde_json::json!(["EsmForMaskedLM"]));
            map.insert("model_type".into(), "esm".into());
            map.insert("attention_probs_dropout_prob".into(), 0.0.into());
            map.insert("hidden_dropout_prob".into(), 0.0.into());
            map.insert("initializer_range".into(), 0.02.into());
            map.insert("is_folding_model".into(), false.into());
            map.insert("use_cache".into(), true.into());
            map.insert("torch_dtype".into(), "float32".into());
        }
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_resolve() {
        let c = Config::for_architecture("esm2_t33_650M_UR50D").unwrap();
        assert_eq!((c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.head_dim()), (33, 1280, 5120, 64));
        let err = Config::for_architecture("esm3").unwrap_err().to_string();
        assert!(err.contains("esm2_t6_8M_UR50D"), "{err}");
    }

    #[test]
    fn hf_json_round_trips() {
        let c = Config::for_architecture("esm2_t12_35M_UR50D").unwrap();
        let back: Config = serde_json::from_str(&c.to_hf_json()).unwrap();
        assert_eq!(back, c);
    }
}
