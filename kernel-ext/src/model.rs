//! Choosing the model a notebook runs: real weights (any family) when they are on this machine, otherwise a seeded
//! random-weight model of the same architecture — and saying loudly which one it is.
use std::path::{Path, PathBuf};

use crate::display::{emit, escape};
use crate::error::{Error, Result};
use crate::library::call;
use crate::wire::Value;

/// The model a notebook uses, and where it came from.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    model: String,
    label: String,
    path: PathBuf,
    pretrained: bool,
    notice: String,
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
    pub fn notice(&self) -> &str {
        &self.notice
    }

    /// Shows the notice (red for random weights, green for pretrained).
    pub fn evcxr_display(&self) {
        let (border, background) = if self.pretrained { ("#2e7d32", "#edf7ed") } else { ("#c62828", "#fdecea") };
        let html = format!(
            "<div style=\"border-left:6px solid {border};background:{background};padding:8px 12px;margin:4px 0\">\
             <strong>{}</strong></div>",
            escape(&self.notice)
        );
        emit(&[("text/html", &html), ("text/plain", &self.notice)]);
    }
}

/// Pretrained `arch` weights if they are on this machine, otherwise the seeded random-weight model
/// `<dir>/random-<arch>-seed<seed>` (written on first use, reused after). Any family
/// (`esm2_t6_8M_UR50D`, `esmc_300m`, `esm1v_t33_650M_UR90S_1`). Never downloads.
///
/// Random weights are announced on stdout as well as by the returned value's display.
pub fn model_or_random(arch: &str, seed: u64, dir: impl AsRef<Path>) -> Result<ModelChoice> {
    find_or_init(arch, seed, None, dir.as_ref())
}

/// [`model_or_random`], with a random stand-in of only the first `layers` blocks
/// (`<dir>/random-<arch>-<layers>layers-seed<seed>`), which runs in seconds where the whole random
/// model would take minutes. Pretrained weights, when found, are used whole.
pub fn model_or_random_layers(arch: &str, seed: u64, layers: u32, dir: impl AsRef<Path>) -> Result<ModelChoice> {
    find_or_init(arch, seed, Some(layers), dir.as_ref())
}

fn find_or_init(arch: &str, seed: u64, layers: Option<u32>, dir: &Path) -> Result<ModelChoice> {
    let seed = i64::try_from(seed).map_err(|_| Error::msg(format!("seed {seed} is beyond i64")))?;
    let dir = Value::Str(dir.to_string_lossy().into_owned());
    let (op, args) = match layers {
        None => ("model_or_random", vec![Value::Str(arch.to_owned()), Value::I64(seed), dir]),
        Some(n) => {
            ("model_or_random_layers", vec![Value::Str(arch.to_owned()), Value::I64(seed), Value::I64(n.into()), dir])
        }
    };
    let mut f = call(op, args)?.into_list()?.into_iter();
    let mut next = || f.next().ok_or_else(|| Error::msg("model_or_random: a short reply"));
    let model = next()?.into_string()?;
    let label = next()?.into_string()?;
    let path = PathBuf::from(next()?.into_string()?);
    let pretrained = next()?.as_bool()?;
    let notice = next()?.into_string()?;
    Ok(ModelChoice { model, label, path, pretrained, notice })
}

/// Where pretrained weights named `name` are on this machine ($ESMDB_MODELS, the Hugging Face and torch hub
/// caches), if anywhere. Never downloads.
pub fn find_local(name: &str) -> Result<Option<PathBuf>> {
    Ok(call("find_local", vec![Value::Str(name.to_owned())])?.into_opt_string()?.map(PathBuf::from))
}
