//! Session settings under the `esmdb.` prefix: `SET esmdb.model = 'esm2_t12_35M_UR50D'`.
//!
//! [`EngineConfig`] lives in DataFusion's config as an extension, so the settings travel with every
//! plan (and, later, to Ballista executors) as plain strings and numbers; functions read them where
//! they run. It is listed in `information_schema.df_settings` as `esmdb.<name>`.
use std::any::Any;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::{config_datafusion_err, config_err};
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

/// esmdb's settings: what a function needs to run, as a small serializable value. Functions carry
/// this, never a live model or store handle, so a plan can be shipped to another process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Default model of `esm2_embed` (a name, a Hugging Face directory or a fair-esm `.pt`).
    pub model: String,
    /// Default layer (0 = embeddings, negative counts from the end; -1 = last).
    pub layer: i64,
    /// Device for inference: cpu, cuda or cuda:N.
    pub device: String,
    /// Precision: fp32, bf16 or fp16 (CUDA).
    pub precision: String,
    /// Token budget per forward pass, padding included.
    pub batch_tokens: usize,
    /// libtorch CPU threads (0 = libtorch's default: all cores).
    pub threads: usize,
    /// Sequences per cache commit: the most an interrupted query loses.
    pub commit_every: usize,
    /// The store whose tables and embedding cache the session uses.
    pub store: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            model: "esm2_t6_8M_UR50D".to_owned(),
            layer: -1,
            device: "cpu".to_owned(),
            precision: "fp32".to_owned(),
            batch_tokens: 4096,
            threads: 0,
            commit_every: 256,
            store: esmdb_store::DEFAULT_STORE.to_owned(),
        }
    }
}

impl EngineConfig {
    /// The engine's registry key for `model` under these settings (device, precision, threads).
    pub fn model_key(&self, model: &str) -> esmdb_engine::ModelKey {
        esmdb_engine::ModelKey {
            model: model.to_owned(),
            device: self.device.clone(),
            precision: self.precision.clone(),
            threads: self.threads,
        }
    }

    /// The settings in `config`, or the defaults when the extension is not registered.
    pub fn from_config(config: &datafusion::config::ConfigOptions) -> Self {
        config.extensions.get::<EngineConfig>().cloned().unwrap_or_default()
    }
}

const KEYS: &str = "model, layer, device, precision, batch_tokens, threads, commit_every, store";

/// The most libtorch threads a session may ask for (the engine's bound).
pub use esmdb_engine::MAX_THREADS;

fn bad(key: &str, value: &str, expected: &str) -> DataFusionError {
    config_datafusion_err!("esmdb.{key} = '{value}': expected {expected}")
}

fn number<T>(key: &str, value: &str, min: T) -> Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.trim().parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(bad(key, value, &format!("an integer ≥ {min}"))),
    }
}

fn number_at_most(key: &str, value: &str, min: usize, max: usize) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(bad(key, value, &format!("an integer from {min} to {max}"))),
    }
}

/// A non-empty value (a model or store named by the empty string is never what was meant).
fn non_empty(key: &str, value: &str) -> Result<String> {
    match value.trim() {
        "" => Err(bad(key, value, "a non-empty name or path")),
        v => Ok(v.to_owned()),
    }
}

/// `cpu`, `cuda` or `cuda:N`. Only the form is checked here; whether the device exists is checked
/// where the model is loaded, on the machine that runs the plan.
fn device(key: &str, value: &str) -> Result<String> {
    let v = value.trim().to_ascii_lowercase();
    let ok = v == "cpu" || v == "cuda" || v.strip_prefix("cuda:").is_some_and(|i| i.parse::<usize>().is_ok());
    if ok { Ok(v) } else { Err(bad(key, value, "cpu, cuda or cuda:N")) }
}

fn precision(key: &str, value: &str) -> Result<String> {
    match value.trim().parse::<esmdb_model::Precision>() {
        Ok(_) => Ok(value.trim().to_ascii_lowercase()),
        Err(_) => Err(bad(key, value, "fp32, bf16 or fp16")),
    }
}

impl ConfigExtension for EngineConfig {
    const PREFIX: &'static str = "esmdb";
}

impl ExtensionOptions for EngineConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "model" => self.model = non_empty(key, value)?,
            "layer" => self.layer = number(key, value, i64::MIN)?,
            "device" => self.device = device(key, value)?,
            "precision" => self.precision = precision(key, value)?,
            "batch_tokens" => self.batch_tokens = number(key, value, 1)?,
            "threads" => self.threads = number_at_most(key, value, 0, MAX_THREADS)?,
            "commit_every" => self.commit_every = number(key, value, 1)?,
            "store" => self.store = non_empty(key, value)?,
            other => {
                return config_err!("unknown setting esmdb.{other}; known: {KEYS}");
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        let entry = |key: &str, value: String, description: &'static str| ConfigEntry {
            key: format!("esmdb.{key}"),
            value: Some(value),
            description,
        };
        vec![
            entry("model", self.model.clone(), "Default model of esm2_embed (name, HF directory or .pt)"),
            entry("layer", self.layer.to_string(), "Default layer (negative counts from the end)"),
            entry("device", self.device.clone(), "Inference device: cpu, cuda or cuda:N"),
            entry("precision", self.precision.clone(), "Precision: fp32, bf16 or fp16 (CUDA)"),
            entry("batch_tokens", self.batch_tokens.to_string(), "Token budget per forward pass"),
            entry("threads", self.threads.to_string(), "libtorch CPU threads (0 = all cores)"),
            entry("commit_every", self.commit_every.to_string(), "Sequences per embedding-cache commit"),
            entry("store", self.store.clone(), "The store of the session"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_refused_and_change_nothing() {
        let mut c = EngineConfig::default();
        let bad = [
            ("threads", "100000"),
            ("threads", "-1"),
            ("batch_tokens", "0"),
            ("commit_every", "18446744073709551616"),
            ("layer", "last"),
            ("device", "gpu"),
            ("device", "cuda:x"),
            ("precision", "fp64"),
            ("model", " "),
            ("store", ""),
            ("nope", "1"),
        ];
        for (key, value) in bad {
            let e = c.set(key, value).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(&format!("esmdb.{key}")), "{key} = {value}: {e}");
        }
        assert_eq!(c, EngineConfig::default());
    }

    #[test]
    fn good_values_are_normalized() -> Result<()> {
        let mut c = EngineConfig::default();
        c.set("device", " CUDA:1 ")?;
        c.set("precision", "BF16")?;
        c.set("threads", "1024")?;
        c.set("layer", "-9223372036854775808")?;
        assert_eq!((c.device.as_str(), c.precision.as_str(), c.threads, c.layer), ("cuda:1", "bf16", 1024, i64::MIN));
        Ok(())
    }
}
