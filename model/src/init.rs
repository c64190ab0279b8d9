//! Seeded random-weight models of the real architectures: ESM2 in the Hugging Face hub layout, ESM C in
//! the `esm` package's published layout (`biohub/ESMC-*`), AMPLIFY in its authors' (`chandar-lab/AMPLIFY_*`).
//!
//! Why: no pretrained weights can be downloaded on our machines, so tests and benchmarks run real
//! architectures with random weights through the same loading path as real checkpoints. Every tensor
//! is random (LayerNorm scales and shifts too), so a mis-mapped or transposed tensor cannot hide in
//! a parity test.
use std::path::Path;

use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};
use tch::Tensor;

use crate::amplify::AmplifyConfig;
use crate::config::Config;
use crate::encoder::ModelConfig;
use crate::error::{Error, Result};
use crate::esm1::Esm1Config;
use crate::esmc::EsmcConfig;

/// Writes a random model of any family in its native layout: [`write_random_model`] (ESM2),
/// [`write_random_esmc`], [`write_random_esm1`], [`write_random_amplify`].
pub fn write_random(config: &ModelConfig, seed: u64, out: &Path) -> Result<()> {
    match config {
        ModelConfig::Esm2(c) => write_random_model(c, seed, out),
        ModelConfig::Esmc(c) => write_random_esmc(c, seed, out),
        ModelConfig::Esm1(c) => write_random_esm1(c, seed, out),
        ModelConfig::Amplify(c) => write_random_amplify(c, seed, out),
    }
}

/// Writes `config.json` + `model.safetensors` (keys as in the `facebook/esm2_*` hub files:
/// `esm.`-prefixed, per-layer rotary `inv_freq`, LM and contact heads) into `out`.
///
/// The directory is written under a temporary name and renamed into place, so a failure leaves
/// nothing half-written. `out` must not exist yet or be an empty directory.
pub fn write_random_model(config: &Config, seed: u64, out: &Path) -> Result<()> {
    write_dir(out, random_tensors(config, seed)?, &config.to_hf_json())
}

/// Writes a random ESM C as `EsmcForMaskedLM.save_pretrained` does (`config.json` with `model_type`
/// `esmc`, `model.safetensors` with `esmc.`-prefixed names and the untied LM head) into `out`, with
/// the same all-tensors-random scheme and the same atomic write as [`write_random_model`].
pub fn write_random_esmc(config: &EsmcConfig, seed: u64, out: &Path) -> Result<()> {
    let json = serde_json::json!({
        "architectures": ["EsmcForMaskedLM"],
        "model_type": "esmc",
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
        "pad_token_id": config.pad_token_id,
        "mask_token_id": config.mask_token_id,
        "layer_norm_eps": config.layer_norm_eps,
        "torch_dtype": "float32",
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Option(e.to_string()))?;
    write_dir(out, random_esmc_tensors(config, seed)?, &text)
}

/// The tensors of a random ESM C, published names, f32.
pub fn random_esmc_tensors(config: &EsmcConfig, seed: u64) -> Result<Vec<(String, Tensor)>> {
    let (d, h, v) = (config.hidden_size, config.intermediate_size, config.vocab_size);
    let mut w = Draw { rng: rand::rngs::StdRng::seed_from_u64(seed), out: Vec::new() };
    w.normal("esmc.embed_tokens.weight".into(), &[v, d], (d as f32).powf(-0.5))?;
    for i in 0..config.num_hidden_layers {
        let p = format!("esmc.layers.{i}");
        w.layer_norm(&format!("{p}.input_layernorm"), d)?;
        for name in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            w.normal(format!("{p}.self_attn.{name}.weight"), &[d, d], (d as f32).powf(-0.5))?;
        }
        w.scale(format!("{p}.self_attn.q_norm.weight"), d)?;
        w.scale(format!("{p}.self_attn.k_norm.weight"), d)?;
        w.layer_norm(&format!("{p}.post_attention_layernorm"), d)?;
        w.normal(format!("{p}.mlp.gate_proj.weight"), &[h, d], (d as f32).powf(-0.5))?;
        w.normal(format!("{p}.mlp.up_proj.weight"), &[h, d], (d as f32).powf(-0.5))?;
        w.normal(format!("{p}.mlp.down_proj.weight"), &[d, h], (h as f32).powf(-0.5))?;
    }
    w.scale("esmc.norm.weight".into(), d)?;
    w.linear("lm_head.dense", d, d)?;
    w.layer_norm("lm_head.layer_norm", d)?;
    w.linear("lm_head.decoder", v, d)?;
    Ok(w.out)
}

/// Writes a random ESM-1b (`emb_layer_norm_before`) or ESM-1v as a transformers `EsmForMaskedLM`
/// directory, the layout of the `facebook/esm1b_t33_650M_UR50S` and `facebook/esm1v_t33_650M_UR90S_*`
/// hub repositories (learned `absolute` positions, `max_position_embeddings` = 1026). The `<mask>` row
/// of the token embedding (and of the tied decoder) is zero and so is the position table's padding
/// row, as fair-esm's loader and `nn.Embedding(padding_idx)` leave them.
pub fn write_random_esm1(config: &Esm1Config, seed: u64, out: &Path) -> Result<()> {
    let json = serde_json::json!({
        "architectures": ["EsmForMaskedLM"],
        "model_type": "esm",
        "position_embedding_type": "absolute",
        "emb_layer_norm_before": config.emb_layer_norm_before,
        "token_dropout": config.token_dropout,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "max_position_embeddings": config.max_positions + config.pad_token_id + 1,
        "vocab_size": config.vocab_size,
        "pad_token_id": config.pad_token_id,
        "mask_token_id": config.mask_token_id,
        "layer_norm_eps": config.layer_norm_eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "is_folding_model": false,
        "torch_dtype": "float32",
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Option(e.to_string()))?;
    write_dir(out, random_esm1_tensors(config, seed)?, &text)
}

/// The tensors of a random ESM-1b/1v, transformers names, f32.
pub fn random_esm1_tensors(config: &Esm1Config, seed: u64) -> Result<Vec<(String, Tensor)>> {
    let (d, f, v) = (config.hidden_size, config.intermediate_size, config.vocab_size);
    let positions = config.max_positions + config.pad_token_id + 1;
    let mut w = Draw { rng: rand::rngs::StdRng::seed_from_u64(seed), out: Vec::new() };
    w.normal("esm.embeddings.word_embeddings.weight".into(), &[v, d], (d as f32).powf(-0.5))?;
    w.normal("esm.embeddings.position_embeddings.weight".into(), &[positions, d], (d as f32).powf(-0.5))?;
    if config.emb_layer_norm_before {
        w.layer_norm("esm.embeddings.layer_norm", d)?;
    }
    w.esm_blocks(config.num_hidden_layers, d, f)?;
    w.layer_norm("esm.encoder.emb_layer_norm_after", d)?;
    w.linear("lm_head.dense", d, d)?;
    w.layer_norm("lm_head.layer_norm", d)?;
    w.normal("lm_head.bias".into(), &[v], 0.05)?;
    let mut out = w.out;
    for (name, t) in out.iter_mut() {
        let row = match name.as_str() {
            "esm.embeddings.word_embeddings.weight" => config.mask_token_id,
            "esm.embeddings.position_embeddings.weight" => config.pad_token_id,
            _ => continue,
        };
        *t = t.f_index_fill(0, &Tensor::f_from_slice(&[row])?, 0.0)?;
    }
    if let Some(emb) = out.iter().find(|(n, _)| n == "esm.embeddings.word_embeddings.weight").map(|(_, t)| t.copy()) {
        out.push(("lm_head.decoder.weight".into(), emb));
    }
    Ok(out)
}

/// Writes a random AMPLIFY in its authors' published layout (`chandar-lab/AMPLIFY_*`): `config.json` written
/// by hand ([`AmplifyConfig::to_config_json`]: transformers 5 refuses `save_pretrained` on the upstream config
/// class, so no Python tool writes it either) and `model.safetensors` under the upstream state-dict names,
/// which the authors' `AMPLIFY` loads with a strict `load_state_dict`. The same all-tensors-random scheme and
/// atomic write as [`write_random_model`].
pub fn write_random_amplify(config: &AmplifyConfig, seed: u64, out: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(&config.to_config_json()).map_err(|e| Error::Option(e.to_string()))?;
    write_dir(out, random_amplify_tensors(config, seed)?, &text)
}

/// The tensors of a random AMPLIFY, published names, f32, in the upstream state dict's order. The SwiGLU's
/// fused `w12` is drawn whole ([2h, d], gate rows then up rows), its width derived as upstream does
/// ([`AmplifyConfig::ffn_hidden_size`]).
pub fn random_amplify_tensors(config: &AmplifyConfig, seed: u64) -> Result<Vec<(String, Tensor)>> {
    let (d, h, v) = (config.hidden_size, config.ffn_hidden_size(), config.vocab_size);
    let mut w = Draw { rng: rand::rngs::StdRng::seed_from_u64(seed), out: Vec::new() };
    w.normal("encoder.weight".into(), &[v, d], (d as f32).powf(-0.5))?;
    for i in 0..config.num_hidden_layers {
        let p = format!("transformer_encoder.{i}");
        for name in ["q", "k", "v", "wo"] {
            w.normal(format!("{p}.{name}.weight"), &[d, d], (d as f32).powf(-0.5))?;
        }
        w.normal(format!("{p}.ffn.w12.weight"), &[2 * h, d], (d as f32).powf(-0.5))?;
        w.normal(format!("{p}.ffn.w3.weight"), &[d, h], (h as f32).powf(-0.5))?;
        w.scale(format!("{p}.attention_norm.weight"), d)?;
        w.scale(format!("{p}.ffn_norm.weight"), d)?;
    }
    w.scale("layer_norm_2.weight".into(), d)?;
    w.linear("decoder", v, d)?;
    Ok(w.out)
}

/// Writes `tensors` and `config_json` into `out` through a temporary sibling directory.
fn write_dir(out: &Path, tensors: Vec<(String, Tensor)>, config_json: &str) -> Result<()> {
    if out.exists() && std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_some() {
        return Err(Error::io(out, std::io::Error::new(std::io::ErrorKind::AlreadyExists, "exists and is not empty")));
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new().prefix(".esmdb-init-").tempdir_in(parent).map_err(|e| Error::io(parent, e))?;

    let st = tmp.path().join("model.safetensors");
    Tensor::write_safetensors(&tensors, &st)
        .map_err(|e| Error::Weights { path: st.clone(), message: e.to_string() })?;
    let cfg = tmp.path().join("config.json");
    std::fs::write(&cfg, config_json).map_err(|e| Error::io(&cfg, e))?;

    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| Error::io(out, e))?;
    }
    let tmp = tmp.keep();
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    Ok(())
}

/// Draws tensors from one seeded generator, in a fixed order, so a seed always gives the same model.
struct Draw {
    rng: rand::rngs::StdRng,
    out: Vec<(String, Tensor)>,
}

impl Draw {
    fn normal(&mut self, name: String, shape: &[i64], std: f32) -> Result<()> {
        let dist = Normal::new(0.0f32, std).map_err(|e| Error::Option(e.to_string()))?;
        let n: i64 = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| dist.sample(&mut self.rng)).collect();
        self.out.push((name, Tensor::f_from_slice(&data)?.f_view(shape)?));
        Ok(())
    }

    /// Weight ~ N(0, 1/fan_in) keeps activations O(1) through depth; bias ~ N(0, 0.05).
    fn linear(&mut self, prefix: &str, out_dim: i64, in_dim: i64) -> Result<()> {
        self.normal(format!("{prefix}.weight"), &[out_dim, in_dim], (in_dim as f32).powf(-0.5))?;
        self.normal(format!("{prefix}.bias"), &[out_dim], 0.05)
    }

    /// Scale ~ U(0.5, 1.5), shift ~ N(0, 0.1): far from the 1/0 defaults.
    fn layer_norm(&mut self, prefix: &str, dim: i64) -> Result<()> {
        self.scale(format!("{prefix}.weight"), dim)?;
        self.normal(format!("{prefix}.bias"), &[dim], 0.1)
    }

    /// The transformers `EsmLayer` blocks ESM2 and ESM-1b/1v share (`esm.encoder.layer.N.…`).
    fn esm_blocks(&mut self, n: i64, d: i64, f: i64) -> Result<()> {
        for i in 0..n {
            let p = format!("esm.encoder.layer.{i}");
            for name in ["query", "key", "value"] {
                self.linear(&format!("{p}.attention.self.{name}"), d, d)?;
            }
            self.linear(&format!("{p}.attention.output.dense"), d, d)?;
            self.layer_norm(&format!("{p}.attention.LayerNorm"), d)?;
            self.linear(&format!("{p}.intermediate.dense"), f, d)?;
            self.linear(&format!("{p}.output.dense"), d, f)?;
            self.layer_norm(&format!("{p}.LayerNorm"), d)?;
        }
        Ok(())
    }

    /// A norm's scale alone (ESM C's bias-free norms): U(0.5, 1.5).
    fn scale(&mut self, name: String, dim: i64) -> Result<()> {
        let scale = Uniform::new(0.5f32, 1.5).map_err(|e| Error::Option(e.to_string()))?;
        let w: Vec<f32> = (0..dim).map(|_| scale.sample(&mut self.rng)).collect();
        self.out.push((name, Tensor::f_from_slice(&w)?));
        Ok(())
    }
}

/// The tensors of a random model, hub-layout names, f32.
pub fn random_tensors(config: &Config, seed: u64) -> Result<Vec<(String, Tensor)>> {
    let (d, f, v) = (config.hidden_size, config.intermediate_size, config.vocab_size);
    let mut w = Draw { rng: rand::rngs::StdRng::seed_from_u64(seed), out: Vec::new() };
    // N(0, d^-1/2), fairseq's embedding init: the LM head's decoder is this matrix (tied), and with
    // N(0, 1) its logits reached ±60 (log-probabilities −100), where fp32 rounding alone is ~1e-4.
    w.normal("esm.embeddings.word_embeddings.weight".into(), &[v, d], (d as f32).powf(-0.5))?;
    w.esm_blocks(config.num_hidden_layers, d, f)?;
    w.layer_norm("esm.encoder.emb_layer_norm_after", d)?;
    w.linear("lm_head.dense", d, d)?;
    w.layer_norm("lm_head.layer_norm", d)?;
    w.normal("lm_head.bias".into(), &[v], 0.05)?;
    w.linear("esm.contact_head.regression", 1, config.num_hidden_layers * config.num_attention_heads)?;
    let mut out = w.out;
    // The tied decoder and the fixed rotary buffers, as the hub files carry them.
    if let Some(emb) = out.iter().find(|(n, _)| n == "esm.embeddings.word_embeddings.weight").map(|(_, t)| t.copy()) {
        out.push(("lm_head.decoder.weight".into(), emb));
    }
    let hd = config.head_dim();
    let inv_freq: Vec<f32> = (0..hd / 2).map(|i| 1.0 / 10000f32.powf(2.0 * i as f32 / hd as f32)).collect();
    for i in 0..config.num_hidden_layers {
        out.push((
            format!("esm.encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq"),
            Tensor::f_from_slice(&inv_freq)?,
        ));
    }
    Ok(out)
}
