//! [`Encoder`]: the model families esmdb runs, behind the one interface that embedding and scoring need.
//!
//! Each family is a one-file port (`esm2.rs`, `esmc.rs`, `esm1.rs`, `amplify.rs`) with the same `forward`
//! contract (layer 0 = the embedding stage, layer i = the output of block i, the last layer after the final
//! norm: for AMPLIFY the LayerNorm its paper pooled, see `amplify.rs`); this enum only dispatches. The three
//! ESM families share the ESM token ids of every residue and of `<cls>`/`<pad>`/`<eos>`/`<mask>`, so one
//! tokenizer serves them; AMPLIFY has its own 27-token vocabulary with `<bos>`/`<eos>`, so tokenizing and
//! framing go through [`Encoder::tokenize`] and [`Encoder::specials`]. They differ too in the vocabulary
//! width (ESM C's head is 64 wide, AMPLIFY's 27), in how long a sequence may be (ESM-1b/1v's learned
//! positions end at 1022 residues, AMPLIFY's rotary table at 2046) and in where their weights come from.
use tch::{Device, Kind, Tensor};

use crate::amplify::{Amplify, AmplifyConfig};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::esm1::{Esm1, Esm1Config};
use crate::esm2::Esm2;
use crate::esmc::{Esmc, EsmcConfig};

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// ESM2 (fair-esm `ESM2`, transformers `EsmModel`).
    Esm2,
    /// ESM C (EvolutionaryScale's `esm` package).
    Esmc,
    /// ESM-1b and ESM-1v (fair-esm `ProteinBertModel`).
    Esm1,
    /// AMPLIFY (chandar-lab's `AMPLIFY`).
    Amplify,
}

impl Family {
    /// `esm2`, `esmc`, `esm1` or `amplify`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Esm2 => "esm2",
            Family::Esmc => "esmc",
            Family::Esm1 => "esm1",
            Family::Amplify => "amplify",
        }
    }
}

/// The token ids a family frames and masks sequences with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    /// Prepended to every sequence: ESM's `<cls>` (0), AMPLIFY's `<bos>` (3).
    pub bos: i64,
    /// Appended to every sequence: `<eos>` (ESM 2, AMPLIFY 4).
    pub eos: i64,
    /// Fills batches to one width: `<pad>` (ESM 1, AMPLIFY 0).
    pub pad: i64,
    /// Masks a position for masked marginals: `<mask>` (ESM 32, AMPLIFY 2).
    pub mask: i64,
}

impl Specials {
    /// The ESM alphabet's ([`crate::alphabet`]), shared by ESM2, ESM-1b/1v and ESM C.
    pub const ESM: Specials = Specials {
        bos: crate::alphabet::CLS,
        eos: crate::alphabet::EOS,
        pad: crate::alphabet::PAD,
        mask: crate::alphabet::MASK,
    };
    /// AMPLIFY's ([`crate::amplify::TOKENS`]).
    pub const AMPLIFY: Specials = Specials {
        bos: crate::amplify::BOS,
        eos: crate::amplify::EOS,
        pad: crate::amplify::PAD,
        mask: crate::amplify::MASK,
    };
}

/// The published architecture called `name` (`esm2_t6_8M_UR50D`, `esmc_300m`, `esm1v_t33_650M_UR90S_1`,
/// `amplify_120m`, …) in any family, without touching the disk: planning types results from it.
pub fn architecture(name: &str) -> Option<ModelConfig> {
    if let Ok(c) = Config::for_architecture(name) {
        return Some(ModelConfig::Esm2(c));
    }
    if let Ok(c) = EsmcConfig::for_architecture(name) {
        return Some(ModelConfig::Esmc(c));
    }
    if let Ok(c) = AmplifyConfig::for_architecture(name) {
        return Some(ModelConfig::Amplify(c));
    }
    Esm1Config::for_architecture(name).ok().map(ModelConfig::Esm1)
}

/// The published architectures' names, every family, for messages listing what is known.
pub fn architecture_names() -> Vec<String> {
    let mut names: Vec<String> = crate::config::ARCHITECTURES.iter().map(|a| a.0.to_owned()).collect();
    names.extend(crate::esmc::ESMC_ARCHITECTURES.iter().map(|a| a.0.to_owned()));
    names.push("esm1b_t33_650M_UR50S".into());
    names.extend((1..=5).map(|i| format!("esm1v_t33_650M_UR90S_{i}")));
    names.extend(crate::amplify::AMPLIFY_ARCHITECTURES.iter().map(|a| a.0.to_owned()));
    names
}

/// The architecture of a checkpoint, per family.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfig {
    /// ESM2.
    Esm2(Config),
    /// ESM C.
    Esmc(EsmcConfig),
    /// ESM-1b / ESM-1v.
    Esm1(Esm1Config),
    /// AMPLIFY.
    Amplify(AmplifyConfig),
}

impl ModelConfig {
    /// The family.
    pub fn family(&self) -> Family {
        match self {
            ModelConfig::Esm2(_) => Family::Esm2,
            ModelConfig::Esmc(_) => Family::Esmc,
            ModelConfig::Esm1(_) => Family::Esm1,
            ModelConfig::Amplify(_) => Family::Amplify,
        }
    }

    /// Width of the residual stream.
    pub fn hidden_size(&self) -> i64 {
        match self {
            ModelConfig::Esm2(c) => c.hidden_size,
            ModelConfig::Esmc(c) => c.hidden_size,
            ModelConfig::Esm1(c) => c.hidden_size,
            ModelConfig::Amplify(c) => c.hidden_size,
        }
    }

    /// Transformer blocks.
    pub fn num_hidden_layers(&self) -> i64 {
        match self {
            ModelConfig::Esm2(c) => c.num_hidden_layers,
            ModelConfig::Esmc(c) => c.num_hidden_layers,
            ModelConfig::Esm1(c) => c.num_hidden_layers,
            ModelConfig::Amplify(c) => c.num_hidden_layers,
        }
    }

    /// The same architecture with only its first `layers` blocks: a shallower model of the same width,
    /// for random-weight stand-ins that must run in seconds (tests, the notebooks without pretrained
    /// weights). An error for 0 or more blocks than the architecture has.
    pub fn with_layers(mut self, layers: i64) -> Result<Self> {
        let full = self.num_hidden_layers();
        if !(1..=full).contains(&layers) {
            return Err(Error::Option(format!("{layers} layers: this architecture has 1 to {full}")));
        }
        match &mut self {
            ModelConfig::Esm2(c) => c.num_hidden_layers = layers,
            ModelConfig::Esmc(c) => c.num_hidden_layers = layers,
            ModelConfig::Esm1(c) => c.num_hidden_layers = layers,
            ModelConfig::Amplify(c) => c.num_hidden_layers = layers,
        }
        Ok(self)
    }

    /// Rows of the token embedding and columns of the LM head's logits.
    pub fn vocab_size(&self) -> i64 {
        match self {
            ModelConfig::Esm2(c) => c.vocab_size,
            ModelConfig::Esmc(c) => c.vocab_size,
            ModelConfig::Esm1(c) => c.vocab_size,
            ModelConfig::Amplify(c) => c.vocab_size,
        }
    }
}

/// A loaded model of any family.
pub enum Encoder {
    /// ESM2.
    Esm2(Esm2),
    /// ESM C.
    Esmc(Esmc),
    /// ESM-1b / ESM-1v.
    Esm1(Esm1),
    /// AMPLIFY.
    Amplify(Amplify),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encoder::Esm2(m) => m.fmt(f),
            Encoder::Esmc(m) => f.debug_struct("Esmc").field("config", m.config()).finish(),
            Encoder::Esm1(m) => f.debug_struct("Esm1").field("config", m.config()).finish(),
            Encoder::Amplify(m) => m.fmt(f),
        }
    }
}

impl Encoder {
    /// Builds the model `config` describes from canonical `weights`.
    pub fn load(config: &ModelConfig, weights: &crate::weights::Weights, device: Device, kind: Kind) -> Result<Self> {
        Ok(match config {
            ModelConfig::Esm2(c) => Encoder::Esm2(Esm2::load(c, weights, device, kind)?),
            ModelConfig::Esmc(c) => Encoder::Esmc(Esmc::load(c, weights, device, kind)?),
            ModelConfig::Esm1(c) => Encoder::Esm1(Esm1::load(c, weights, device, kind)?),
            ModelConfig::Amplify(c) => Encoder::Amplify(Amplify::load(c, weights, device, kind)?),
        })
    }

    /// The family.
    pub fn family(&self) -> Family {
        match self {
            Encoder::Esm2(_) => Family::Esm2,
            Encoder::Esmc(_) => Family::Esmc,
            Encoder::Esm1(_) => Family::Esm1,
            Encoder::Amplify(_) => Family::Amplify,
        }
    }

    /// The token ids of `sequence`'s residues, without the framing specials, in this model's vocabulary:
    /// [`crate::alphabet::tokenize`] for the ESM families, [`crate::amplify::tokenize`] for AMPLIFY.
    pub fn tokenize(&self, id: &str, sequence: &str) -> Result<Vec<i64>> {
        match self {
            Encoder::Amplify(_) => crate::amplify::tokenize(id, sequence),
            _ => crate::alphabet::tokenize(id, sequence),
        }
    }

    /// The ids this model frames, pads and masks with.
    pub fn specials(&self) -> Specials {
        match self {
            Encoder::Amplify(_) => Specials::AMPLIFY,
            _ => Specials::ESM,
        }
    }

    /// Width of the residual stream (of every embedding).
    pub fn hidden_size(&self) -> i64 {
        match self {
            Encoder::Esm2(m) => m.config().hidden_size,
            Encoder::Esmc(m) => m.config().hidden_size,
            Encoder::Esm1(m) => m.config().hidden_size,
            Encoder::Amplify(m) => m.config().hidden_size,
        }
    }

    /// Transformer blocks (layers are 0..=this).
    pub fn num_layers(&self) -> i64 {
        match self {
            Encoder::Esm2(m) => m.config().num_hidden_layers,
            Encoder::Esmc(m) => m.config().num_hidden_layers,
            Encoder::Esm1(m) => m.config().num_hidden_layers,
            Encoder::Amplify(m) => m.config().num_hidden_layers,
        }
    }

    /// Columns of the logits (33, 64 for ESM C, 27 for AMPLIFY), in the model's own token order.
    pub fn vocab_size(&self) -> i64 {
        match self {
            Encoder::Esm2(m) => m.config().vocab_size,
            Encoder::Esmc(m) => m.config().vocab_size,
            Encoder::Esm1(m) => m.config().vocab_size,
            Encoder::Amplify(m) => m.config().vocab_size,
        }
    }

    /// The longest sequence (residues) the model can embed at all: ESM-1b/1v's learned positions end
    /// at 1022; AMPLIFY's reference stops at its 2048-row rotary table (2046 residues); ESM2's and ESM C's
    /// rotary positions have no limit.
    pub fn max_residues(&self) -> Option<usize> {
        match self {
            Encoder::Esm1(m) => usize::try_from(m.config().max_residues()).ok(),
            Encoder::Amplify(m) => usize::try_from(m.config().max_residues()).ok(),
            _ => None,
        }
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        match self {
            Encoder::Esm2(m) => m.device(),
            Encoder::Esmc(m) => m.device(),
            Encoder::Esm1(m) => m.device(),
            Encoder::Amplify(m) => m.device(),
        }
    }

    /// Whether the checkpoint carried the masked-LM head.
    pub fn has_lm_head(&self) -> bool {
        match self {
            Encoder::Esm2(m) => m.has_lm_head(),
            Encoder::Esmc(m) => m.has_lm_head(),
            Encoder::Esm1(m) => m.has_lm_head(),
            Encoder::Amplify(m) => m.has_lm_head(),
        }
    }

    /// Hidden states of each requested layer (see the module doc).
    pub fn forward(&self, tokens: &Tensor, layers: &[i64]) -> Result<Vec<Tensor>> {
        match self {
            Encoder::Esm2(m) => m.forward(tokens, layers),
            Encoder::Esmc(m) => m.forward(tokens, layers),
            Encoder::Esm1(m) => m.forward(tokens, layers),
            Encoder::Amplify(m) => m.forward(tokens, layers),
        }
    }

    /// The masked-LM head's logits, [batch, seq, vocab].
    pub fn logits(&self, tokens: &Tensor) -> Result<Tensor> {
        match self {
            Encoder::Esm2(m) => m.logits(tokens),
            Encoder::Esmc(m) => m.logits(tokens),
            Encoder::Esm1(m) => m.logits(tokens),
            Encoder::Amplify(m) => m.logits(tokens),
        }
    }

    /// [`Encoder::forward`] and, when `logits`, the logits of [`Encoder::logits`], from one pass. The ESM
    /// families' heads read the last layer `forward` returns (`layers` must then hold the last layer, as
    /// [`crate::Embedder::outputs`] makes sure); AMPLIFY's reads the last block before the norm its last
    /// layer applies, so it computes both itself.
    pub(crate) fn forward_with_logits(
        &self,
        tokens: &Tensor,
        layers: &[i64],
        logits: bool,
    ) -> Result<(Vec<Tensor>, Option<Tensor>)> {
        if let Encoder::Amplify(m) = self {
            return m.forward_with_logits(tokens, layers, logits);
        }
        let hidden = self.forward(tokens, layers)?;
        if !logits {
            return Ok((hidden, None));
        }
        let n = self.num_layers();
        let last = layers
            .iter()
            .position(|&l| l == n)
            .ok_or_else(|| Error::Option(format!("logits need the last layer ({n}) among the layers computed")))?;
        let head = self.head(&hidden[last])?;
        Ok((hidden, Some(head)))
    }

    /// The head applied to last-layer hidden states already computed (the ESM families). AMPLIFY's head
    /// reads what its last layer no longer holds: an error pointing to [`Encoder::forward_with_logits`].
    pub(crate) fn head(&self, last: &Tensor) -> Result<Tensor> {
        match self {
            Encoder::Esm2(m) => m.head(last),
            Encoder::Esmc(m) => m.head(last),
            Encoder::Esm1(m) => m.head(last),
            Encoder::Amplify(_) => Err(Error::Option(
                "AMPLIFY's logits read the last block before the LayerNorm of its last layer: \
                 use forward_with_logits"
                    .into(),
            )),
        }
    }
}

impl From<Esm2> for Encoder {
    fn from(m: Esm2) -> Self {
        Encoder::Esm2(m)
    }
}

impl From<Esmc> for Encoder {
    fn from(m: Esmc) -> Self {
        Encoder::Esmc(m)
    }
}

impl From<Esm1> for Encoder {
    fn from(m: Esm1) -> Self {
        Encoder::Esm1(m)
    }
}

impl From<Amplify> for Encoder {
    fn from(m: Amplify) -> Self {
        Encoder::Amplify(m)
    }
}
