//! ESM-1b / ESM-1v checkpoints: fair-esm's v1 `.pt` files (`esm1b_t33_650M_UR50S.pt`,
//! `esm1v_t33_650M_UR90S_[1-5].pt`) and their transformers conversions (`facebook/esm1b_t33_650M_UR50S`, ...).
//!
//! A v1 file is `torch.save({"args": argparse.Namespace(arch="roberta_large", encoder_layers=...), "model":
//! {"encoder.sentence_encoder.<name>": ..., "encoder.lm_head.<name>": ...}, ...fairseq training state})`:
//! its hyper-parameters are a top-level `args` Namespace, not ESM2's `cfg.model`. Names are mapped to the
//! same canonical (transformers `EsmModel`, no `esm.` prefix) names as ESM2's ([`super::load`]), plus what
//! ESM-1b/1v have and ESM2 lacks: `embeddings.position_embeddings.weight` (learned positions),
//! `embeddings.layer_norm.*` (ESM-1b's `emb_layer_norm_before`) and the LM head, which
//! [`crate::esm1::Esm1::logits`] needs (transformers' `convert_esm.py` maps them alike).
use std::collections::HashMap;
use std::path::Path;

use super::checksum::checksum;
use super::pickle::Value;
use super::{Weights, canonical_hf, fair_esm_to_hf, hf_dir_tensors, hf_to_fair_esm, torch_zip};
use crate::error::{Error, Result};
use crate::esm1::Esm1Config;

/// A loaded ESM-1b / ESM-1v checkpoint: its architecture and its tensors under canonical names.
#[derive(Debug)]
pub struct Esm1Checkpoint {
    /// The architecture (from the `args` Namespace or `config.json`).
    pub config: Esm1Config,
    /// The tensors, canonical names.
    pub weights: Weights,
    /// A short checksum of the weight bytes, as [`super::Checkpoint::checksum`].
    pub checksum: String,
}

/// Maps a fair-esm v1 state-dict name to its canonical name; `None` for what inference never uses
/// (the contact head, fairseq buffers such as `version`).
///
/// fair-esm's v1 loader strips everything up to `sentence_encoder.`, then up to `encoder.`
/// (pretrained.py `_load_model_and_alphabet_core_v1`); names shared with ESM2 map as ESM2's (`fair_esm_to_hf`).
pub fn esm1_canonical(name: &str) -> Option<String> {
    let bare = name.strip_prefix("encoder.sentence_encoder.").or_else(|| name.strip_prefix("encoder.")).unwrap_or(name);
    let mapped = match bare {
        "embed_positions.weight" => "embeddings.position_embeddings.weight".into(),
        "emb_layer_norm_before.weight" => "embeddings.layer_norm.weight".into(),
        "emb_layer_norm_before.bias" => "embeddings.layer_norm.bias".into(),
        // RobertaLMHead: `weight` is the tied token embedding, `bias` the logits' own.
        "lm_head.weight" => "lm_head.decoder.weight".into(),
        "lm_head.bias" => "lm_head.bias".into(),
        _ => match bare.strip_prefix("lm_head.") {
            Some(rest @ ("dense.weight" | "dense.bias" | "layer_norm.weight" | "layer_norm.bias")) => {
                format!("lm_head.{rest}")
            }
            Some(_) => return None,
            None => return fair_esm_to_hf(name),
        },
    };
    Some(mapped)
}

/// Converts canonical names back to the v1 layout (tests; writing v1-layout test files).
pub fn esm1_to_fair(name: &str) -> Option<String> {
    let mapped = match name {
        "embeddings.position_embeddings.weight" => "encoder.sentence_encoder.embed_positions.weight".into(),
        "embeddings.layer_norm.weight" => "encoder.sentence_encoder.emb_layer_norm_before.weight".into(),
        "embeddings.layer_norm.bias" => "encoder.sentence_encoder.emb_layer_norm_before.bias".into(),
        "lm_head.decoder.weight" => "encoder.lm_head.weight".into(),
        "lm_head.bias" => "encoder.lm_head.bias".into(),
        "lm_head.dense.weight" | "lm_head.dense.bias" | "lm_head.layer_norm.weight" | "lm_head.layer_norm.bias" => {
            format!("encoder.{name}")
        }
        _ => return hf_to_fair_esm(name),
    };
    Some(mapped)
}

/// Loads a fair-esm v1 `.pt` (ESM-1b, ESM-1v): the `args` Namespace gives the architecture
/// ([`Esm1Config::from_args`]), `emb_layer_norm_before` is whether its tensors are present (as fair-esm's
/// `has_emb_layer_norm_before`), and the fairseq training state beside `args` and `model` is skipped.
/// fair-esm's `-contact-regression.pt` is not needed.
pub fn load_esm1_pt(path: &Path) -> Result<Esm1Checkpoint> {
    let state = torch_zip::read(path)?;
    let bad = |message: String| Error::Config { path: path.into(), message };
    let args = state.root.get("args").filter(|a| !matches!(a, Value::None)).ok_or_else(|| {
        bad("no `args` in the checkpoint (fair-esm v1 files carry one; ESM2 files carry `cfg` instead)".into())
    })?;
    match args.attr("arch") {
        Some(Value::Str(arch)) if arch == "roberta_large" => {}
        Some(Value::Str(arch)) => {
            return Err(bad(format!(
                "args.arch is `{arch}`; only ESM-1b/ESM-1v (`roberta_large`) are supported, not ESM-1 or the \
                 MSA Transformer"
            )));
        }
        _ => return Err(bad("args has no string `arch`".into())),
    }
    let tensors: HashMap<String, tch::Tensor> =
        state.tensors.into_iter().filter_map(|(name, t)| Some((esm1_canonical(&name)?, t))).collect();
    let weights = Weights::from_canonical(path.into(), tensors);
    let config = Esm1Config::from_args(args, weights.contains("embeddings.layer_norm.weight"), path)?;
    let checksum = checksum(&[path.to_path_buf()])?;
    Ok(Esm1Checkpoint { config, weights, checksum })
}

/// Loads a transformers ESM-1b / ESM-1v directory (`facebook/esm1b_t33_650M_UR50S`,
/// `facebook/esm1v_t33_650M_UR90S_1`, ...): `config.json` ([`Esm1Config::from_json`]) and the weights under
/// the same names as ESM2's hub files.
pub fn load_esm1_dir(dir: &Path) -> Result<Esm1Checkpoint> {
    let config = Esm1Config::from_json(&dir.join("config.json"))?;
    let (files, raw) = hf_dir_tensors(dir)?;
    let path = if files.len() == 1 { files[0].clone() } else { dir.to_path_buf() };
    let tensors: HashMap<String, tch::Tensor> = raw.into_iter().map(|(name, t)| (canonical_hf(&name), t)).collect();
    let weights = Weights::from_canonical(path, tensors);
    let checksum = checksum(&files)?;
    Ok(Esm1Checkpoint { config, weights, checksum })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_names_round_trip() {
        for name in [
            "embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight",
            "embeddings.layer_norm.weight",
            "embeddings.layer_norm.bias",
            "encoder.emb_layer_norm_after.bias",
            "encoder.layer.32.attention.self.value.weight",
            "encoder.layer.0.attention.output.dense.bias",
            "encoder.layer.1.attention.LayerNorm.weight",
            "encoder.layer.2.intermediate.dense.bias",
            "encoder.layer.3.output.dense.weight",
            "encoder.layer.4.LayerNorm.bias",
            "lm_head.dense.weight",
            "lm_head.dense.bias",
            "lm_head.layer_norm.weight",
            "lm_head.layer_norm.bias",
            "lm_head.decoder.weight",
            "lm_head.bias",
        ] {
            let fair = esm1_to_fair(name).unwrap();
            assert_eq!(esm1_canonical(&fair).as_deref(), Some(name), "{fair}");
        }
    }

    #[test]
    fn v1_names_as_released() {
        let s = "encoder.sentence_encoder.";
        assert_eq!(
            esm1_canonical(&format!("{s}embed_positions.weight")).as_deref(),
            Some("embeddings.position_embeddings.weight")
        );
        assert_eq!(
            esm1_canonical(&format!("{s}emb_layer_norm_before.bias")).as_deref(),
            Some("embeddings.layer_norm.bias")
        );
        assert_eq!(
            esm1_canonical(&format!("{s}layers.5.self_attn.q_proj.bias")).as_deref(),
            Some("encoder.layer.5.attention.self.query.bias")
        );
        assert_eq!(esm1_canonical("encoder.lm_head.weight").as_deref(), Some("lm_head.decoder.weight"));
        assert_eq!(esm1_canonical("encoder.lm_head.bias").as_deref(), Some("lm_head.bias"));
        assert_eq!(esm1_canonical("encoder.lm_head.dense.weight").as_deref(), Some("lm_head.dense.weight"));
        // fair-esm's stripped spelling (what `upgrade_state_dict` leaves) maps alike.
        assert_eq!(esm1_canonical("embed_tokens.weight").as_deref(), Some("embeddings.word_embeddings.weight"));
        assert_eq!(esm1_canonical("contact_head.regression.weight"), None);
        assert_eq!(esm1_canonical("encoder.sentence_encoder.version"), None);
        assert_eq!(esm1_canonical("encoder.lm_head.unknown.weight"), None);
    }
}
