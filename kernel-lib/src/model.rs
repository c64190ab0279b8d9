//! Choosing the model a notebook runs: real weights when they are on this machine, otherwise
//! a seeded random-weight model of the same architecture — and saying loudly which one it is.
//!
//! Why here: the shipped notebooks must run anywhere (CI has no pretrained weights and no network
//! to fetch them), yet a reader must never mistake random-weight results for the paper's.
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::display::{emit, escape, notice_html, say};
use crate::error::{Result, wrap};

/// The model a notebook uses, and where it came from.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    model: String,
    label: String,
    path: PathBuf,
    pretrained: bool,
}

impl ModelChoice {
    /// What to give `esmdb.model` (`Db::with_model`): the checkpoint's path.
    pub fn name(&self) -> &str {
        &self.model
    }

    /// A short name for tables and figures: the architecture name for pretrained weights
    /// (`esm2_t6_8M_UR50D`, as in the paper's results), `random-<arch>-seed<N>` otherwise.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The checkpoint (a Hugging Face directory or a `.pt` file).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether these are real pretrained weights.
    pub fn pretrained(&self) -> bool {
        self.pretrained
    }

    /// One paragraph saying which model this is and what its results mean.
    pub fn notice(&self) -> String {
        if self.pretrained {
            format!("Using pretrained {} weights from {}.", self.label, self.path.display())
        } else {
            format!(
                "*** NO PRETRAINED WEIGHTS FOUND: using a RANDOM-WEIGHT model ({}, {}). Every number and figure \
                 below only exercises the pipeline and says nothing about protein fitness. To use real weights, \
                 put them where esmdb looks (README, \"Models\": $ESMDB_MODELS, the Hugging Face or torch hub \
                 caches) and re-run the notebook. ***",
                self.label,
                self.path.display()
            )
        }
    }

    /// Shows the notice (red for random weights, green for pretrained).
    pub fn evcxr_display(&self) {
        let kind = if self.pretrained { "ok" } else { "warning" };
        let html = notice_html(kind, &format!("<strong>{}</strong>", escape(&self.notice())));
        emit(&[("text/html", &html), ("text/plain", &self.notice())]);
    }
}

/// Pretrained `arch` weights if they are on this machine, otherwise the seeded random-weight model
/// `<dir>/random-<arch>-seed<seed>` (written on first use, reused after). Any family
/// (`esm2_t6_8M_UR50D`, `esmc_300m`, `esm1v_t33_650M_UR90S_1`). Never downloads.
///
/// Random weights are announced on stdout as well as by the returned value's display.
pub fn model_or_random(arch: &str, seed: u64, dir: impl AsRef<Path>) -> Result<ModelChoice> {
    choose(arch, seed, None, dir.as_ref(), esmdb_model::find_local(arch))
}

/// [`model_or_random`], with a random stand-in of only the first `layers` blocks
/// (`<dir>/random-<arch>-<layers>layers-seed<seed>`): random weights only exercise the pipeline, and
/// a 2-block ESM C does that in seconds where the 30-block one takes minutes on a laptop. Pretrained
/// weights, when found, are used whole.
pub fn model_or_random_layers(arch: &str, seed: u64, layers: u32, dir: impl AsRef<Path>) -> Result<ModelChoice> {
    choose(arch, seed, Some(layers), dir.as_ref(), esmdb_model::find_local(arch))
}

/// [`model_or_random`] without the generic parameter (generic bodies compile in each notebook cell), given what
/// the lookup of pretrained weights found: the tests choose both ways on any machine.
fn choose(arch: &str, seed: u64, layers: Option<u32>, dir: &Path, pretrained: Option<PathBuf>) -> Result<ModelChoice> {
    wrap(|| {
        if let Some(path) = pretrained {
            return Ok(ModelChoice {
                model: path.display().to_string(),
                label: arch.to_owned(),
                path,
                pretrained: true,
            });
        }
        let Some(config) = esmdb_model::architecture(arch) else {
            anyhow::bail!("unknown architecture `{arch}`; known: {}", esmdb_model::architecture_names().join(", "))
        };
        let (label, config) = match layers {
            Some(n) => (format!("random-{arch}-{n}layers-seed{seed}"), config.with_layers(i64::from(n))?),
            None => (format!("random-{arch}-seed{seed}"), config),
        };
        let path = std::path::absolute(dir.join(&label)).with_context(|| format!("resolving {}", dir.display()))?;
        if !path.join("config.json").is_file() {
            esmdb_model::init::write_random(&config, seed, &path)
                .with_context(|| format!("writing a random-weight {arch} to {}", path.display()))?;
        }
        let choice = ModelChoice { model: path.display().to_string(), label, path, pretrained: false };
        say(&choice.notice());
        Ok(choice)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_model_is_written_once_and_announced() {
        let dir = tempfile::tempdir().unwrap();
        let arch = "esm2_t6_8M_UR50D-not-a-pretrained-name";
        // An unknown architecture cannot be initialised: the error says so.
        let err = choose(arch, 7, None, dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("unknown architecture") && err.contains("esmc_300m"), "{err}");
        // No pretrained weights: the random model, written once and announced.
        let choice = choose("esm2_t6_8M_UR50D", 7, None, dir.path(), None).unwrap();
        assert!(!choice.pretrained());
        assert_eq!(choice.label(), "random-esm2_t6_8M_UR50D-seed7");
        assert!(choice.path().join("config.json").is_file());
        assert!(choice.notice().contains("RANDOM-WEIGHT"));
        let written = std::fs::metadata(choice.path().join("config.json")).unwrap().modified().unwrap();
        let again = choose("esm2_t6_8M_UR50D", 7, None, dir.path(), None).unwrap();
        assert_eq!(again.name(), choice.name());
        let reused = std::fs::metadata(again.path().join("config.json")).unwrap().modified().unwrap();
        assert_eq!(written, reused, "the random model was written again");
        // Another family, shallow: 2 of ESM C 300M's 30 blocks, in the published layout.
        let esmc = choose("esmc_300m", 7, Some(2), dir.path(), None).unwrap();
        assert_eq!(esmc.label(), "random-esmc_300m-2layers-seed7");
        let config = std::fs::read_to_string(esmc.path().join("config.json")).unwrap();
        assert!(config.contains("\"model_type\": \"esmc\"") && config.contains("\"num_hidden_layers\": 2"));
        let err = choose("esmc_300m", 7, Some(31), dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("31 layers") && err.contains("1 to 30"), "{err}");
    }

    #[test]
    fn pretrained_weights_are_used_whole_and_named_by_their_architecture() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("esm2_t6_8M_UR50D");
        for layers in [None, Some(2)] {
            let choice = choose("esm2_t6_8M_UR50D", 7, layers, dir.path(), Some(weights.clone())).unwrap();
            assert!(choice.pretrained());
            assert_eq!(choice.label(), "esm2_t6_8M_UR50D");
            assert_eq!(choice.path(), weights.as_path());
            assert!(choice.notice().starts_with("Using pretrained esm2_t6_8M_UR50D weights"), "{}", choice.notice());
        }
        // Nothing random was written beside them.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_public_lookup_says_which_it_found() {
        // Whatever this machine has, the choice and its notice agree.
        let dir = tempfile::tempdir().unwrap();
        let choice = model_or_random("esm2_t6_8M_UR50D", 7, dir.path()).unwrap();
        assert_eq!(choice.pretrained(), esmdb_model::find_local("esm2_t6_8M_UR50D").is_some());
        assert_eq!(choice.notice().contains("RANDOM-WEIGHT"), !choice.pretrained());
    }
}
