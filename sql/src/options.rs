//! Session settings under the `esmdb.` prefix: `SET esmdb.model = 'esm2_t12_35M_UR50D'`.
//!
//! [`EngineConfig`] lives in DataFusion's config as an extension, so the settings travel with every
//! plan (and, later, to Ballista executors) as plain strings and numbers; functions read them where
//! they run. It is listed in `information_schema.df_settings` as `esmdb.<name>`.
use std::any::Any;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
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
    /// The settings in `config`, or the defaults when the extension is not registered.
    pub fn from_config(config: &datafusion::config::ConfigOptions) -> Self {
        config.extensions.get::<EngineConfig>().cloned().unwrap_or_default()
    }
}

const KEYS: &str = "model, layer, device, precision, batch_tokens, threads, commit_every, store";

fn number<T>(key: &str, value: &str, min: T) -> Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.trim().parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(DataFusionError::Configuration(format!("esmdb.{key} = '{value}': expected an integer ≥ {min}"))),
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
        let text = value.trim().to_owned();
        match key {
            "model" => self.model = text,
            "layer" => self.layer = number(key, value, i64::MIN)?,
            "device" => self.device = text,
            "precision" => self.precision = text,
            "batch_tokens" => self.batch_tokens = number(key, value, 1)?,
            "threads" => self.threads = number(key, value, 0)?,
            "commit_every" => self.commit_every = number(key, value, 1)?,
            "store" => self.store = text,
            other => {
                return Err(DataFusionError::Configuration(format!("unknown setting esmdb.{other}; known: {KEYS}")));
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
