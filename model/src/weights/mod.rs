//! Checkpoint loading: Hugging Face directories (safetensors, sharded or not, both key layouts found
//! in the wild) and fair-esm `.pt` checkpoints, all mapped to one canonical naming (the Hugging Face
//! `EsmModel` keys without the `esm.` prefix) so that the model code sees a single layout.
pub mod amplify;
pub mod checksum;
pub mod esm1;
pub mod esmc;
pub mod pickle;
mod torch_zip;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use self::checksum::checksum;
use crate::config::Config;
use crate::encoder::{Family, ModelConfig};
use crate::error::{Error, Result};

/// Named tensors of one checkpoint, keyed by canonical (Hugging Face `EsmModel`) names.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    /// Where they came from, for error messages.
    path: PathBuf,
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weights").field("path", &self.path).field("tensors", &self.tensors.len()).finish()
    }
}

impl Weights {
    /// Builds from raw checkpoint names, canonicalizing each.
    pub(crate) fn new(path: PathBuf, raw: impl IntoIterator<Item = (String, Tensor)>, fair_esm: bool) -> Self {
        let tensors = raw
            .into_iter()
            .filter_map(|(name, t)| {
                let name = if fair_esm { fair_esm_to_hf(&name)? } else { canonical_hf(&name) };
                Some((name, t))
            })
            .collect();
        Weights { tensors, path }
    }

    /// Wraps tensors whose names are already canonical for their model family (ESM C and ESM-1b/1v
    /// name their tensors in [`esmc`] and [`esm1`]).
    pub(crate) fn from_canonical(path: PathBuf, tensors: HashMap<String, Tensor>) -> Self {
        Weights { tensors, path }
    }

    /// Whether the tensor `name` is present (for optional parts such as an LM head).
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The shape of the tensor `name`, if present (architectures inferred from shapes).
    pub fn shape(&self, name: &str) -> Option<Vec<i64>> {
        self.tensors.get(name).map(Tensor::size)
    }

    /// The file (or directory) these weights were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when the checkpoint held no usable tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor `name`, checked against `shape`, converted to `kind` on `device`.
    pub(crate) fn get(&self, name: &str, shape: &[i64], kind: Kind, device: tch::Device) -> Result<Tensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::MissingTensor { path: self.path.clone(), name: name.to_owned() })?;
        if t.size() != shape {
            return Err(Error::TensorShape {
                path: self.path.clone(),
                name: name.to_owned(),
                actual: t.size(),
                expected: shape.to_vec(),
            });
        }
        Ok(t.f_to_device(device)?.f_to_kind(kind)?)
    }

    /// Iterates over (canonical name, tensor).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.tensors.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// A loaded checkpoint: its architecture and its tensors.
#[derive(Debug)]
pub struct Checkpoint {
    /// The architecture (and so the family).
    pub config: ModelConfig,
    /// The tensors.
    pub weights: Weights,
    /// A short checksum of the weight bytes (sha256 of the weight files, first 16 hex digits), so that two
    /// different files with the same name never share cached embeddings. Remembered in a sidecar while
    /// the files are unchanged ([`checksum()`](checksum::checksum)), so only the first load hashes.
    pub checksum: String,
}

/// Loads a checkpoint of any family, recognized by its content rather than its name:
/// - a directory by its `config.json` ([`family_of_config`]): ESM2 or ESM-1b/1v in the transformers
///   layout, ESM C in the `esm` package's published layout;
/// - a `.pt` file by its pickle: fair-esm ESM2 (`cfg`) or fair-esm v1 ESM-1b/1v (`args`);
/// - a `.pth` file: the 2024 ESM C release's bare state dict.
pub fn load(path: &Path) -> Result<Checkpoint> {
    if path.is_dir() {
        match family_of_config(&path.join("config.json"))? {
            Family::Esm2 => load_hf_dir(path),
            Family::Esm1 => {
                let c = esm1::load_esm1_dir(path)?;
                Ok(Checkpoint { config: ModelConfig::Esm1(c.config), weights: c.weights, checksum: c.checksum })
            }
            Family::Esmc => {
                let c = esmc::load_esmc_dir(path)?;
                Ok(Checkpoint { config: ModelConfig::Esmc(c.config), weights: c.weights, checksum: c.checksum })
            }
            Family::Amplify => {
                let c = amplify::load_amplify_dir(path)?;
                Ok(Checkpoint { config: ModelConfig::Amplify(c.config), weights: c.weights, checksum: c.checksum })
            }
        }
    } else if path.extension().is_some_and(|e| e == "pth") {
        let c = esmc::load_esmc_pth(path)?;
        Ok(Checkpoint { config: ModelConfig::Esmc(c.config), weights: c.weights, checksum: c.checksum })
    } else if path.extension().is_some_and(|e| e == "pt") {
        if torch_zip::has_root_key(path, "args")? {
            let c = esm1::load_esm1_pt(path)?;
            Ok(Checkpoint { config: ModelConfig::Esm1(c.config), weights: c.weights, checksum: c.checksum })
        } else {
            load_fair_esm(path)
        }
    } else if path.is_file() {
        Err(Error::Weights {
            path: path.into(),
            message: "expected a model directory (config.json + model.safetensors: ESM2, ESM-1b/1v, ESM C, AMPLIFY), \
                      a fair-esm `.pt` checkpoint (ESM2, ESM-1b, ESM-1v) or an ESM C `.pth` state dict"
                .into(),
        })
    } else {
        Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory")))
    }
}

/// The family a `config.json` describes: `model_type` `esmc` (or the `esm` package's older
/// `d_model`/`n_layers` spelling) is ESM C; `AMPLIFY` (any case; or, without a `model_type`, a config with
/// `AMPLIFYConfig`'s own `layer_norm_before_last_layer` key) is AMPLIFY; `esm` with absolute positions is
/// ESM-1b/1v; `esm` with rotary positions (the default) is ESM2.
pub fn family_of_config(path: &Path) -> Result<Family> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::Config { path: path.into(), message: e.to_string() })?;
    let model_type = json.get("model_type").and_then(|v| v.as_str());
    if model_type == Some("esmc") || (model_type.is_none() && json.get("d_model").is_some()) {
        return Ok(Family::Esmc);
    }
    if model_type.is_some_and(|t| t.eq_ignore_ascii_case("amplify"))
        || (model_type.is_none() && json.get("layer_norm_before_last_layer").is_some())
    {
        return Ok(Family::Amplify);
    }
    if json.get("position_embedding_type").and_then(|v| v.as_str()) == Some("absolute") {
        return Ok(Family::Esm1);
    }
    Ok(Family::Esm2)
}

/// The architecture a `config.json` describes, without reading weights (planning types results
/// from it).
pub fn read_config(path: &Path) -> Result<ModelConfig> {
    Ok(match family_of_config(path)? {
        Family::Esm2 => ModelConfig::Esm2(Config::from_file(path)?),
        Family::Esm1 => ModelConfig::Esm1(crate::esm1::Esm1Config::from_json(path)?),
        Family::Esmc => ModelConfig::Esmc(crate::esmc::EsmcConfig::from_json(path)?),
        Family::Amplify => ModelConfig::Amplify(crate::amplify::AmplifyConfig::from_json(path)?),
    })
}

/// A Hugging Face directory: `config.json` plus `model.safetensors`, a sharded
/// `model.safetensors.index.json`, or (older uploads) `pytorch_model.bin`.
fn load_hf_dir(dir: &Path) -> Result<Checkpoint> {
    let config = Config::from_file(&dir.join("config.json"))?;
    let (files, raw) = hf_dir_tensors(dir)?;
    let path = if files.len() == 1 { files[0].clone() } else { dir.to_path_buf() };
    let checksum = checksum(&files)?;
    Ok(Checkpoint { config: ModelConfig::Esm2(config), weights: Weights::new(path, raw, false), checksum })
}

/// Tensors under the names their file gives them.
type RawTensors = Vec<(String, Tensor)>;

/// The weight files of a Hugging Face directory and their tensors under their file names:
/// `model.safetensors`, the shards of `model.safetensors.index.json`, or `pytorch_model.bin`.
fn hf_dir_tensors(dir: &Path) -> Result<(Vec<PathBuf>, RawTensors)> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    let bin = dir.join("pytorch_model.bin");
    if single.is_file() {
        Ok((vec![single.clone()], read_safetensors(&single)?))
    } else if index.is_file() {
        let files = shard_files(&index)?;
        let mut raw = Vec::new();
        for f in &files {
            raw.extend(read_safetensors(f)?);
        }
        Ok((files, raw))
    } else if bin.is_file() {
        let state = torch_zip::read(&bin)?;
        Ok((vec![bin.clone()], state.tensors))
    } else {
        Err(Error::Weights {
            path: dir.into(),
            message: "no model.safetensors, model.safetensors.index.json or pytorch_model.bin".into(),
        })
    }
}

fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    Tensor::read_safetensors(path).map_err(|e| Error::Weights { path: path.into(), message: e.to_string() })
}

pub(crate) fn shard_files(index: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
    let bad = |message: String| Error::Weights { path: index.into(), message };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let map = json.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| bad("no `weight_map` object".into()))?;
    let mut files: Vec<PathBuf> = Vec::new();
    for v in map.values() {
        let name = v.as_str().ok_or_else(|| bad("`weight_map` values must be file names".into()))?;
        let f = index.with_file_name(name);
        if !files.contains(&f) {
            files.push(f);
        }
    }
    files.sort();
    Ok(files)
}

/// A fair-esm checkpoint (`torch.save({"model": ..., "cfg": {"model": Namespace}})`).
fn load_fair_esm(path: &Path) -> Result<Checkpoint> {
    let state = torch_zip::read(path)?;
    let bad = |message: &str| Error::Config { path: path.into(), message: message.into() };
    let cfg = state.root.get("cfg").and_then(|c| c.get("model").or_else(|| c.attr("model")));
    let cfg = cfg.ok_or_else(|| bad("no cfg.model in the checkpoint (is this a fair-esm ESM2 file?)"))?;
    let int = |key: &str| {
        cfg.attr(key).and_then(pickle::Value::as_int).ok_or_else(|| bad(&format!("cfg.model has no integer `{key}`")))
    };
    let mut config = Config::new(int("encoder_layers")?, int("encoder_embed_dim")?, int("encoder_attention_heads")?);
    if let Ok(ffn) = int("encoder_ffn_embed_dim") {
        config.intermediate_size = ffn;
    }
    if let Some(td) = cfg.attr("token_dropout").and_then(pickle::Value::as_int) {
        config.token_dropout = td != 0;
    }
    config.validate(path)?;
    let checksum = checksum(&[path.to_path_buf()])?;
    Ok(Checkpoint {
        config: ModelConfig::Esm2(config),
        weights: Weights::new(path.into(), state.tensors, true),
        checksum,
    })
}

/// Maps a Hugging Face key (either layout) to the canonical `EsmModel` name.
///
/// Hub files (`EsmForMaskedLM`) prefix everything with `esm.`; some `save_pretrained` versions write
/// LayerNorms as legacy `gamma`/`beta`. Per-layer and shared rotary `inv_freq` buffers are dropped: they
/// are a fixed function of the head dimension, recomputed by the model.
fn canonical_hf(name: &str) -> String {
    let name = name.strip_prefix("esm.").unwrap_or(name);
    if let Some(stem) = name.strip_suffix(".gamma")
        && (stem.ends_with("LayerNorm") || stem.ends_with("layer_norm") || stem.ends_with("emb_layer_norm_after"))
    {
        return format!("{stem}.weight");
    }
    if let Some(stem) = name.strip_suffix(".beta")
        && (stem.ends_with("LayerNorm") || stem.ends_with("layer_norm") || stem.ends_with("emb_layer_norm_after"))
    {
        return format!("{stem}.bias");
    }
    name.to_owned()
}

/// Maps a fair-esm `ESM2` state-dict key to the canonical name; `None` for keys inference never uses
/// (contact head, rotary buffers).
///
/// fair-esm's `upgrade_state_dict` strips `encoder.sentence_encoder.` / `encoder.`; the rest follows
/// transformers' `convert_esm.py`.
fn fair_esm_to_hf(name: &str) -> Option<String> {
    let name = name.strip_prefix("encoder.sentence_encoder.").or_else(|| name.strip_prefix("encoder.")).unwrap_or(name);
    if name == "embed_tokens.weight" {
        return Some("embeddings.word_embeddings.weight".into());
    }
    if let Some(rest) = name.strip_prefix("emb_layer_norm_after.") {
        return Some(format!("encoder.emb_layer_norm_after.{rest}"));
    }
    // `RobertaLMHead`: its `weight` is the tied decoder (the token embedding).
    match name {
        "lm_head.weight" => return Some("lm_head.decoder.weight".into()),
        "lm_head.bias" => return Some(name.into()),
        _ => {}
    }
    if name.starts_with("lm_head.dense.") || name.starts_with("lm_head.layer_norm.") {
        return Some(name.into());
    }
    let rest = name.strip_prefix("layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let mapped = match rest.rsplit_once('.')? {
        ("self_attn.q_proj", p) => format!("attention.self.query.{p}"),
        ("self_attn.k_proj", p) => format!("attention.self.key.{p}"),
        ("self_attn.v_proj", p) => format!("attention.self.value.{p}"),
        ("self_attn.out_proj", p) => format!("attention.output.dense.{p}"),
        ("self_attn_layer_norm", p) => format!("attention.LayerNorm.{p}"),
        ("fc1", p) => format!("intermediate.dense.{p}"),
        ("fc2", p) => format!("output.dense.{p}"),
        ("final_layer_norm", p) => format!("LayerNorm.{p}"),
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{mapped}"))
}

/// Converts canonical names back to the fair-esm layout (used to write test checkpoints).
pub fn hf_to_fair_esm(name: &str) -> Option<String> {
    if name == "embeddings.word_embeddings.weight" {
        return Some("encoder.sentence_encoder.embed_tokens.weight".into());
    }
    if let Some(rest) = name.strip_prefix("encoder.emb_layer_norm_after.") {
        return Some(format!("encoder.sentence_encoder.emb_layer_norm_after.{rest}"));
    }
    if name == "lm_head.decoder.weight" {
        return Some("encoder.lm_head.weight".into());
    }
    if name == "lm_head.bias" || name.starts_with("lm_head.dense.") || name.starts_with("lm_head.layer_norm.") {
        return Some(format!("encoder.{name}"));
    }
    let rest = name.strip_prefix("encoder.layer.")?;
    let (layer, rest) = rest.split_once('.')?;
    let mapped = match rest.rsplit_once('.')? {
        ("attention.self.query", p) => format!("self_attn.q_proj.{p}"),
        ("attention.self.key", p) => format!("self_attn.k_proj.{p}"),
        ("attention.self.value", p) => format!("self_attn.v_proj.{p}"),
        ("attention.output.dense", p) => format!("self_attn.out_proj.{p}"),
        ("attention.LayerNorm", p) => format!("self_attn_layer_norm.{p}"),
        ("intermediate.dense", p) => format!("fc1.{p}"),
        ("output.dense", p) => format!("fc2.{p}"),
        ("LayerNorm", p) => format!("final_layer_norm.{p}"),
        _ => return None,
    };
    Some(format!("encoder.sentence_encoder.layers.{layer}.{mapped}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_layouts_canonicalize() {
        assert_eq!(
            canonical_hf("esm.encoder.layer.3.attention.LayerNorm.gamma"),
            "encoder.layer.3.attention.LayerNorm.weight"
        );
        assert_eq!(canonical_hf("encoder.emb_layer_norm_after.beta"), "encoder.emb_layer_norm_after.bias");
        assert_eq!(canonical_hf("esm.embeddings.word_embeddings.weight"), "embeddings.word_embeddings.weight");
    }

    #[test]
    fn fair_esm_names_round_trip() {
        for name in [
            "embeddings.word_embeddings.weight",
            "encoder.emb_layer_norm_after.weight",
            "encoder.layer.5.attention.self.query.bias",
            "encoder.layer.0.attention.output.dense.weight",
            "encoder.layer.2.attention.LayerNorm.bias",
            "encoder.layer.11.intermediate.dense.weight",
            "encoder.layer.1.output.dense.bias",
            "encoder.layer.4.LayerNorm.weight",
            "lm_head.dense.weight",
            "lm_head.layer_norm.bias",
            "lm_head.decoder.weight",
            "lm_head.bias",
        ] {
            let fair = hf_to_fair_esm(name).unwrap();
            assert_eq!(fair_esm_to_hf(&fair).as_deref(), Some(name), "{fair}");
        }
        assert_eq!(fair_esm_to_hf("encoder.lm_head.weight").as_deref(), Some("lm_head.decoder.weight"));
        assert_eq!(fair_esm_to_hf("encoder.sentence_encoder.contact_head.regression.weight"), None);
        assert_eq!(fair_esm_to_hf("encoder.sentence_encoder.layers.0.self_attn.rot_emb.inv_freq"), None);
    }
}
