//! ESM C checkpoints: the published layout (`biohub/ESMC-*`: `config.json` + safetensors, transformers-style
//! names), the 2024 release (`esmc_300m_2024_12_v0.pth`: a bare `torch.save` state dict of the 2024 `ESMC`
//! class, no config) and the esm package's in-memory layout (Transformer-Engine names, what
//! `EsmcForMaskedLM.state_dict()` holds), all mapped to one canonical naming.
//!
//! Canonical names are the published ones without the `esmc.` prefix (`embed_tokens.weight`,
//! `layers.N.self_attn.q_proj.weight`, `norm.weight`, `lm_head.dense.weight`, ...): the names transformers'
//! `EsmcModel` and the model card use. The fused tensors of the other two layouts (q | k | v rows in one
//! [3d, d] weight; gate | up rows in one [2h, d] weight) are split into those parts at load, as views
//! of the same storage, so one naming serves every layout and a checkpoint's tensors can be compared
//! name by name. [`crate::esmc::Esmc`] concatenates them back into one GEMM each.
//!
//! The name tables are docs/dev/esmc-port.md's *Name mapping* (esm: models/esmc/checkpoint_layout.py).
use std::collections::HashMap;
use std::path::Path;

use tch::Tensor;

use super::checksum::checksum;
use super::{Weights, hf_dir_tensors, torch_zip};
use crate::error::{Error, Result};
use crate::esmc::EsmcConfig;

/// A loaded ESM C checkpoint: its architecture and its tensors under canonical names.
#[derive(Debug)]
pub struct EsmcCheckpoint {
    /// The architecture (from `config.json`, or inferred from the shapes for a `.pth`).
    pub config: EsmcConfig,
    /// The tensors, canonical names.
    pub weights: Weights,
    /// A short checksum of the weight bytes, as [`super::Checkpoint::checksum`].
    pub checksum: String,
}

/// Per-block published leaves (`layers.N.<leaf>`), kept as they are.
const PUBLISHED_BLOCK: [&str; 13] = [
    "input_layernorm.weight",
    "input_layernorm.bias",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "self_attn.q_norm.weight",
    "self_attn.k_norm.weight",
    "post_attention_layernorm.weight",
    "post_attention_layernorm.bias",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
];

/// The LM head's published names (no `esmc.` prefix in any layout).
const LM_HEAD: [(&str, &str); 3] = [("dense", "0"), ("layer_norm", "2"), ("decoder", "3")];

/// The parts a fused per-block weight concatenates, in row order (`EsmcLayerNormMLP.forward` takes
/// `silu(x1) * x2` over `chunk(2)`, so the gate rows come first; attention slices q, k, v in that order).
const QKV: [&str; 3] = ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"];
const GATE_UP: [&str; 2] = ["mlp.gate_proj.weight", "mlp.up_proj.weight"];

/// Maps an ESM C checkpoint name (any of the three layouts) to canonical names.
///
/// One name: the tensor is renamed. Several: the tensor is their row-wise concatenation, in this order,
/// in equal parts (a fused q | k | v or gate | up weight), and is to be split. `None`: not an ESM C
/// weight inference uses (rotary `inv_freq` buffers, classification heads, anything unknown); a
/// required tensor dropped this way shows up as a missing-tensor error naming its canonical name.
pub fn esmc_canonical(name: &str) -> Option<Vec<String>> {
    let one = |s: String| Some(vec![s]);
    // The LM head is outside the encoder in every layout: published `lm_head.dense.*`, 2024
    // `sequence_head.{0,2,3}.*`, in-memory `lm_head.{0,2,3}.*`.
    for head in ["lm_head.", "sequence_head."] {
        if let Some(rest) = name.strip_prefix(head) {
            let (module, param) = rest.split_once('.')?;
            if !matches!(param, "weight" | "bias") {
                return None;
            }
            let published = LM_HEAD.iter().find(|(p, i)| module == *i || (head == "lm_head." && module == *p))?.0;
            return one(format!("lm_head.{published}.{param}"));
        }
    }
    let name = name.strip_prefix("esmc.").unwrap_or(name);
    match name {
        "embed_tokens.weight" | "embed.weight" => return one("embed_tokens.weight".into()),
        "norm.weight" | "transformer.norm.weight" => return one("norm.weight".into()),
        _ => {}
    }
    if let Some(rest) = name.strip_prefix("layers.") {
        let (index, leaf) = block_index(rest)?;
        return PUBLISHED_BLOCK.contains(&leaf).then(|| vec![format!("layers.{index}.{leaf}")]);
    }
    let (index, leaf) = block_index(name.strip_prefix("transformer.blocks.")?)?;
    let block = |leaves: &[&str]| Some(leaves.iter().map(|l| format!("layers.{index}.{l}")).collect());
    match leaf {
        // 2024 `.pth` (nn.Sequential indices) and in-memory (Transformer Engine) spellings.
        "attn.layernorm_qkv.0.weight" | "attn.layernorm_qkv.layer_norm_weight" => block(&["input_layernorm.weight"]),
        "attn.layernorm_qkv.0.bias" | "attn.layernorm_qkv.layer_norm_bias" => block(&["input_layernorm.bias"]),
        "attn.layernorm_qkv.1.weight" | "attn.layernorm_qkv.weight" => block(&QKV),
        "attn.out_proj.weight" => block(&["self_attn.o_proj.weight"]),
        "attn.q_ln.weight" => block(&["self_attn.q_norm.weight"]),
        "attn.k_ln.weight" => block(&["self_attn.k_norm.weight"]),
        "ffn.0.weight" | "ffn.layer_norm_weight" => block(&["post_attention_layernorm.weight"]),
        "ffn.0.bias" | "ffn.layer_norm_bias" => block(&["post_attention_layernorm.bias"]),
        "ffn.1.weight" | "ffn.fc1_weight" => block(&GATE_UP),
        "ffn.3.weight" | "ffn.fc2_weight" => block(&["mlp.down_proj.weight"]),
        _ => None,
    }
}

/// `"<digits>.<leaf>"` → (index, leaf).
fn block_index(rest: &str) -> Option<(&str, &str)> {
    let (index, leaf) = rest.split_once('.')?;
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then_some((index, leaf))
}

/// Canonicalizes raw checkpoint tensors, splitting fused ones. Two tensors landing on one canonical
/// name (a file mixing layouts) is an error rather than a silent choice.
fn canonicalize(path: &Path, raw: Vec<(String, Tensor)>) -> Result<Weights> {
    let bad = |message: String| Error::Weights { path: path.into(), message };
    let mut tensors = HashMap::new();
    for (name, tensor) in raw {
        let Some(canonical) = esmc_canonical(&name) else { continue };
        let parts = if canonical.len() == 1 {
            vec![tensor]
        } else {
            let n = canonical.len() as i64;
            let rows = tensor.size().first().copied().unwrap_or(0);
            if tensor.dim() != 2 || rows % n != 0 {
                return Err(bad(format!(
                    "tensor `{name}` has shape {:?}: not {n} equal row blocks ({})",
                    tensor.size(),
                    canonical.join(" | ")
                )));
            }
            tensor.f_chunk(n, 0)?
        };
        for (c, t) in canonical.into_iter().zip(parts) {
            if tensors.contains_key(&c) {
                return Err(bad(format!("two tensors map to `{c}` (`{name}` and another); mixed checkpoint layouts?")));
            }
            tensors.insert(c, t);
        }
    }
    if !tensors.contains_key("embed_tokens.weight") {
        return Err(bad(
            "no ESM C token embedding (`esmc.embed_tokens.weight` or the 2024 release's `embed.weight`)".into()
        ));
    }
    Ok(Weights::from_canonical(path.into(), tensors))
}

/// Loads the 2024-release ESM C state dict (`esmc_300m_2024_12_v0.pth`, `esmc_600m_2024_12_v0.pth`): a
/// bare `torch.save` of the 2024 `ESMC` class's state dict, without a `"model"` wrapper
/// (`torch_zip::read` falls back to the root dict) nor a config, whose architecture is therefore
/// read from the shapes ([`EsmcConfig::from_shapes`]).
pub fn load_esmc_pth(path: &Path) -> Result<EsmcCheckpoint> {
    let state = torch_zip::read(path)?;
    let weights = canonicalize(path, state.tensors)?;
    let config = EsmcConfig::from_shapes(&weights)?;
    let checksum = checksum(&[path.to_path_buf()])?;
    Ok(EsmcCheckpoint { config, weights, checksum })
}

/// Loads a published ESM C directory (`biohub/ESMC-300M` layout: `config.json` + `model.safetensors`, or
/// its sharded index). A `pytorch_model.bin` in the in-memory layout is accepted too.
pub fn load_esmc_dir(dir: &Path) -> Result<EsmcCheckpoint> {
    let config = EsmcConfig::from_json(&dir.join("config.json"))?;
    let (files, raw) = hf_dir_tensors(dir)?;
    let path = if files.len() == 1 { files[0].clone() } else { dir.to_path_buf() };
    let weights = canonicalize(&path, raw)?;
    let checksum = checksum(&files)?;
    Ok(EsmcCheckpoint { config, weights, checksum })
}

/// Loads an ESM C checkpoint: a directory as [`load_esmc_dir`], a file as [`load_esmc_pth`].
pub fn load_esmc(path: &Path) -> Result<EsmcCheckpoint> {
    if path.is_dir() { load_esmc_dir(path) } else { load_esmc_pth(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(name: &str) -> Option<Vec<String>> {
        esmc_canonical(name)
    }
    fn one(name: &str) -> Option<Vec<String>> {
        Some(vec![name.to_owned()])
    }

    #[test]
    fn published_names_lose_the_prefix() {
        assert_eq!(map("esmc.embed_tokens.weight"), one("embed_tokens.weight"));
        assert_eq!(map("esmc.norm.weight"), one("norm.weight"));
        assert_eq!(map("esmc.layers.7.self_attn.q_proj.weight"), one("layers.7.self_attn.q_proj.weight"));
        assert_eq!(map("esmc.layers.0.mlp.down_proj.weight"), one("layers.0.mlp.down_proj.weight"));
        assert_eq!(map("lm_head.decoder.bias"), one("lm_head.decoder.bias"));
        // Canonical names are fixed points.
        for leaf in PUBLISHED_BLOCK {
            let name = format!("layers.29.{leaf}");
            assert_eq!(map(&name), Some(vec![name.clone()]), "{name}");
        }
        assert_eq!(map("esmc.layers.x.self_attn.q_proj.weight"), None);
        assert_eq!(map("esmc.layers.0.self_attn.rotary_emb.inv_freq"), None);
        assert_eq!(map("esmc.rotary_emb.inv_freq"), None);
        assert_eq!(map("classifier.dense.weight"), None);
    }

    #[test]
    fn pth_names_map_and_fused_weights_split() {
        let b = "transformer.blocks.3.";
        assert_eq!(map("embed.weight"), one("embed_tokens.weight"));
        assert_eq!(map("transformer.norm.weight"), one("norm.weight"));
        assert_eq!(map(&format!("{b}attn.layernorm_qkv.0.bias")), one("layers.3.input_layernorm.bias"));
        assert_eq!(
            map(&format!("{b}attn.layernorm_qkv.1.weight")),
            Some(vec![
                "layers.3.self_attn.q_proj.weight".into(),
                "layers.3.self_attn.k_proj.weight".into(),
                "layers.3.self_attn.v_proj.weight".into(),
            ])
        );
        assert_eq!(map(&format!("{b}attn.out_proj.weight")), one("layers.3.self_attn.o_proj.weight"));
        assert_eq!(map(&format!("{b}attn.k_ln.weight")), one("layers.3.self_attn.k_norm.weight"));
        assert_eq!(map(&format!("{b}ffn.0.weight")), one("layers.3.post_attention_layernorm.weight"));
        assert_eq!(
            map(&format!("{b}ffn.1.weight")),
            Some(vec!["layers.3.mlp.gate_proj.weight".into(), "layers.3.mlp.up_proj.weight".into()])
        );
        assert_eq!(map(&format!("{b}ffn.3.weight")), one("layers.3.mlp.down_proj.weight"));
        assert_eq!(map("sequence_head.0.weight"), one("lm_head.dense.weight"));
        assert_eq!(map("sequence_head.2.bias"), one("lm_head.layer_norm.bias"));
        assert_eq!(map("sequence_head.3.bias"), one("lm_head.decoder.bias"));
        assert_eq!(map("sequence_head.1.weight"), None);
        assert_eq!(map(&format!("{b}ffn.2.weight")), None);
    }

    #[test]
    fn in_memory_names_map() {
        let b = "esmc.transformer.blocks.0.";
        assert_eq!(map("esmc.embed.weight"), one("embed_tokens.weight"));
        assert_eq!(map(&format!("{b}attn.layernorm_qkv.layer_norm_weight")), one("layers.0.input_layernorm.weight"));
        assert_eq!(map(&format!("{b}attn.layernorm_qkv.weight")).map(|v| v.len()), Some(3));
        assert_eq!(map(&format!("{b}ffn.layer_norm_bias")), one("layers.0.post_attention_layernorm.bias"));
        assert_eq!(map(&format!("{b}ffn.fc1_weight")).map(|v| v.len()), Some(2));
        assert_eq!(map(&format!("{b}ffn.fc2_weight")), one("layers.0.mlp.down_proj.weight"));
        assert_eq!(map("lm_head.2.weight"), one("lm_head.layer_norm.weight"));
    }

    /// Every layout names the same canonical set: one block of the published and of the 2024 layout
    /// (the lists of docs/dev/esmc-port.md) cover exactly the published names.
    #[test]
    fn layouts_cover_the_same_tensors() {
        let published: Vec<String> = PUBLISHED_BLOCK.iter().map(|l| format!("esmc.layers.0.{l}")).collect();
        let pth = [
            "attn.layernorm_qkv.0.weight",
            "attn.layernorm_qkv.0.bias",
            "attn.layernorm_qkv.1.weight",
            "attn.out_proj.weight",
            "attn.q_ln.weight",
            "attn.k_ln.weight",
            "ffn.0.weight",
            "ffn.0.bias",
            "ffn.1.weight",
            "ffn.3.weight",
        ];
        let mut a: Vec<String> = published.iter().flat_map(|n| map(n).unwrap()).collect();
        let mut b: Vec<String> = pth.iter().flat_map(|l| map(&format!("transformer.blocks.0.{l}")).unwrap()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(a.len(), 13);
    }
}
