//! Protein language model inference on libtorch (tch): ESM2, ESM C, ESM-1b/1v and AMPLIFY.
//!
//! What this crate knows: the ESM alphabet's tokens, the families' architectures (ESM2 identical to fair-esm's
//! `ESM2` and transformers' `EsmModel`; ESM C to EvolutionaryScale's `esm`; ESM-1b/1v to fair-esm's
//! `ProteinBertModel`; AMPLIFY to its authors' `AMPLIFY`, with its own tokens), how to read their checkpoints
//! (Hugging Face directories, fair-esm `.pt` files, names resolved from local caches), how to embed many
//! sequences with pooling on the device, and the masked-LM head's per-position log-probabilities that
//! zero-shot scores read.
//! What it must not know: storage, SQL, regression — those crates use it through
//! [`Embedder`] — nor which sequences a user may give: that policy (and the FASTA reader) is
//! `esmdb-seq`'s, applied by every front end before a sequence gets here.
//!
//! ```no_run
//! use esmdb_model::{EmbedOptions, LoadOptions, Pooling};
//! let model = esmdb_model::load("esm2_t6_8M_UR50D", &LoadOptions::default())?;
//! let seqs = [("P1", "MKTAYIAKQR")];
//! let out = model.embedder.embed(&seqs, &EmbedOptions { pooling: vec![Pooling::Mean], ..Default::default() })?;
//! assert_eq!(out.values[0].len(), model.embedder.dim());
//! # Ok::<(), esmdb_model::Error>(())
//! ```
#![deny(missing_docs)]

pub mod alphabet;
pub mod amplify;
mod config;
mod embed;
mod encoder;
mod error;
// The four families, one file each, behind `encoder::Encoder` (which `load()` picks from the checkpoint's
// content): ESM-1b/1v (`esm1`), ESM2 (`esm2`), ESM C (`esmc`) and AMPLIFY (`amplify`, declared above beside
// `alphabet`: it brings its own tokenizer).
pub mod esm1;
mod esm2;
pub mod esmc;
pub mod hub;
pub mod init;
// The blocks the families share (layers, norms, rotary positions, attention over padded rows).
mod nn;
pub mod resolve;
mod score;
pub mod weights;

use std::path::PathBuf;
use std::str::FromStr;

pub use config::{ARCHITECTURES, Config};
pub use embed::{BatchEmbeddings, EmbedOptions, Embedder, Embeddings, OutputSpec, Pooling, TRAINING_MAX_RESIDUES};
pub use encoder::{Encoder, Family, ModelConfig, Specials, architecture, architecture_names};
pub use error::{Error, Result};
pub use esm2::Esm2;
pub use resolve::{find_local, resolve_layer, short_name};
pub use score::{LogProbs, ScoreMethod};
pub use tch::{Device, Kind};

/// Numeric precision of inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// float32 (default; the parity reference).
    #[default]
    F32,
    /// bfloat16, on CPU (AVX512-BF16 where available) and CUDA.
    Bf16,
    /// float16, CUDA only.
    F16,
}

impl Precision {
    /// The libtorch dtype.
    pub fn kind(self) -> Kind {
        match self {
            Precision::F32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            Precision::F16 => Kind::Half,
        }
    }
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "fp16" | "f16" | "float16" | "half" => Ok(Precision::F16),
            other => Err(Error::Option(format!("unknown precision `{other}`; expected fp32, bf16 or fp16"))),
        }
    }
}

/// Parses `cpu`, `cuda` or `cuda:N`, checking that the device exists.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim().to_ascii_lowercase();
    if s == "cpu" {
        return Ok(Device::Cpu);
    }
    let index = match s.as_str() {
        "cuda" => 0,
        _ => s
            .strip_prefix("cuda:")
            .and_then(|i| i.parse::<usize>().ok())
            .ok_or_else(|| Error::Device(format!("unknown device `{s}`; expected cpu, cuda or cuda:N")))?,
    };
    let count = tch::Cuda::device_count() as usize;
    if index >= count {
        return Err(Error::Device(format!(
            "`{s}` requested but {count} CUDA device(s) are visible to libtorch (is libtorch_cuda linked and a GPU present?)"
        )));
    }
    Ok(Device::Cuda(index))
}

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Device; default CPU.
    pub device: Option<Device>,
    /// Precision; default fp32. fp16 is refused on CPU.
    pub precision: Precision,
    /// libtorch intra-op CPU threads; default: libtorch's own choice (all cores).
    pub threads: Option<usize>,
}

/// A loaded model and its identity.
#[derive(Debug)]
pub struct LoadedModel {
    /// Ready-to-use embedder.
    pub embedder: Embedder,
    /// The checkpoint path it came from.
    pub path: PathBuf,
    /// A stable identity: `<name>@<checksum of the weight bytes>`, so that two files named alike but
    /// different never share cached embeddings.
    pub id: String,
}

/// Resolves `model` (name, directory or `.pt` file), reads it and builds the model.
pub fn load(model: &str, options: &LoadOptions) -> Result<LoadedModel> {
    let path = resolve::resolve(model)?;
    let checkpoint = weights::load(&path)?;
    let device = options.device.unwrap_or(Device::Cpu);
    if options.precision == Precision::F16 && device == Device::Cpu {
        return Err(Error::Device("fp16 is only supported on CUDA; use bf16 on CPU".into()));
    }
    if let Some(n) = options.threads {
        tch::set_num_threads(n.max(1) as i32);
    }
    let encoder = Encoder::load(&checkpoint.config, &checkpoint.weights, device, options.precision.kind())?;
    let name = resolve::short_name(&path.to_string_lossy());
    Ok(LoadedModel { embedder: Embedder::new(encoder), id: format!("{name}@{}", checkpoint.checksum), path })
}
