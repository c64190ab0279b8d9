//! AMPLIFY checkpoints: the authors' published Hugging Face directories (`chandar-lab/AMPLIFY_120M`,
//! `AMPLIFY_350M`: `config.json` with `model_type` `AMPLIFY` + `model.safetensors`), or what
//! [`crate::init::write_random_amplify`] writes in the same layout.
//!
//! Canonical names are the published ones, which are the upstream module's own state-dict names
//! (amplify.py: `encoder.weight`, `transformer_encoder.N.{q,k,v,wo}.weight`,
//! `transformer_encoder.N.{attention_norm,ffn_norm}.weight`, `transformer_encoder.N.ffn.{w12,w3}.weight`,
//! `layer_norm_2.weight`, `decoder.{weight,bias}`): `AMPLIFY.load` reads the file with a strict
//! `load_state_dict`, so there is one layout and nothing to rename. Anything else in a file is dropped;
//! a required tensor missing shows up as a missing-tensor error naming it.
use std::collections::HashMap;
use std::path::Path;

use tch::Tensor;

use super::checksum::checksum;
use super::{Weights, hf_dir_tensors};
use crate::amplify::AmplifyConfig;
use crate::error::{Error, Result};

/// A loaded AMPLIFY checkpoint: its architecture and its tensors under canonical names.
#[derive(Debug)]
pub struct AmplifyCheckpoint {
    /// The architecture, from `config.json`.
    pub config: AmplifyConfig,
    /// The tensors, canonical (= published) names.
    pub weights: Weights,
    /// A short checksum of the weight bytes, as [`super::Checkpoint::checksum`].
    pub checksum: String,
}

/// Per-block published leaves (`transformer_encoder.N.<leaf>`).
const BLOCK: [&str; 8] = [
    "q.weight",
    "k.weight",
    "v.weight",
    "wo.weight",
    "attention_norm.weight",
    "ffn_norm.weight",
    "ffn.w12.weight",
    "ffn.w3.weight",
];

/// Whether `name` is a tensor of the published layout.
pub fn is_amplify_tensor(name: &str) -> bool {
    match name {
        "encoder.weight" | "layer_norm_2.weight" | "decoder.weight" | "decoder.bias" => true,
        _ => name
            .strip_prefix("transformer_encoder.")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(i, leaf)| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && BLOCK.contains(&leaf)),
    }
}

/// Keeps the published layout's tensors. NVIDIA's TransformerEngine re-export (`amplify.`-prefixed,
/// fused `layernorm_qkv`, vocabulary padded to 32) is named as such rather than reported as missing tensors.
fn canonicalize(path: &Path, raw: Vec<(String, Tensor)>) -> Result<Weights> {
    let bad = |message: String| Error::Weights { path: path.into(), message };
    if raw.iter().any(|(n, _)| n.starts_with("amplify.transformer_encoder.")) {
        return Err(bad("NVIDIA's TransformerEngine export of AMPLIFY (`amplify.transformer_encoder.*`); use the \
                        authors' chandar-lab/AMPLIFY_120M or chandar-lab/AMPLIFY_350M"
            .into()));
    }
    let tensors: HashMap<String, Tensor> = raw.into_iter().filter(|(n, _)| is_amplify_tensor(n)).collect();
    if !tensors.contains_key("encoder.weight") {
        return Err(bad("no AMPLIFY token embedding (`encoder.weight`)".into()));
    }
    Ok(Weights::from_canonical(path.into(), tensors))
}

/// Loads a published AMPLIFY directory (`config.json` + `model.safetensors`, or a sharded index; a
/// `pytorch_model.bin` with the same names is accepted too).
pub fn load_amplify_dir(dir: &Path) -> Result<AmplifyCheckpoint> {
    let config = AmplifyConfig::from_json(&dir.join("config.json"))?;
    let (files, raw) = hf_dir_tensors(dir)?;
    let path = if files.len() == 1 { files[0].clone() } else { dir.to_path_buf() };
    let weights = canonicalize(&path, raw)?;
    let checksum = checksum(&files)?;
    Ok(AmplifyCheckpoint { config, weights, checksum })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_names_are_kept_and_others_dropped() {
        for name in [
            "encoder.weight",
            "transformer_encoder.0.q.weight",
            "transformer_encoder.23.wo.weight",
            "transformer_encoder.7.attention_norm.weight",
            "transformer_encoder.7.ffn.w12.weight",
            "transformer_encoder.31.ffn.w3.weight",
            "layer_norm_2.weight",
            "decoder.bias",
        ] {
            assert!(is_amplify_tensor(name), "{name}");
        }
        for name in [
            "freqs_cis",
            "transformer_encoder.x.q.weight",
            "transformer_encoder.0.q.bias",
            "transformer_encoder.0.ffn.w1.weight",
            "amplify.encoder.weight",
            "layer_norm_1.weight",
        ] {
            assert!(!is_amplify_tensor(name), "{name}");
        }
    }
}
