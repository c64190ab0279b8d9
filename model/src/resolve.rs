//! Turning what the user typed (`esm2_t6_8M_UR50D`, `facebook/esm2_t6_8M_UR50D`, a directory or a
//! `.pt` file) into a checkpoint path, looking in the places where ESM2 weights usually live.
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a bare model name is looked for, in order.
///
/// 1. `$ESMDB_MODELS/<name>/` (a Hugging Face directory) and `$ESMDB_MODELS/<name>.pt`;
/// 2. the Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`),
///    `models--facebook--<name>/snapshots/*`;
/// 3. the torch hub cache used by fair-esm (`$TORCH_HOME/hub/checkpoints`, `~/.cache/torch/hub/checkpoints`),
///    `<name>.pt`;
///
/// and then [`resolve`] tries a download from the Hugging Face hub (see [`crate::hub`]).
pub fn candidates(name: &str) -> Vec<PathBuf> {
    let name = name.rsplit('/').next().unwrap_or(name);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut out = Vec::new();
    if let Some(dir) = env("ESMDB_MODELS") {
        out.push(dir.join(name));
        out.push(dir.join(format!("{name}.pt")));
    }
    if let Some(hf) = hf_cache() {
        out.push(hf.join(format!("models--facebook--{name}")));
    }
    let torch = env("TORCH_HOME").or_else(|| home.as_ref().map(|h| h.join(".cache/torch")));
    if let Some(torch) = torch {
        out.push(torch.join("hub/checkpoints").join(format!("{name}.pt")));
    }
    out
}

/// The Hugging Face hub cache: `$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`.
pub fn hf_cache() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("HF_HUB_CACHE")
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/huggingface/hub")))
}

/// Resolves a model argument to a checkpoint path (a directory with `config.json` or a `.pt` file).
pub fn resolve(model: &str) -> Result<PathBuf> {
    let direct = Path::new(model);
    if direct.exists() {
        return Ok(direct.to_path_buf());
    }
    let mut searched = vec![model.to_owned()];
    for c in candidates(model) {
        searched.push(c.display().to_string());
        if let Some(found) = usable(&c) {
            return Ok(found);
        }
    }
    match crate::hub::repo_for(model) {
        Some(repo) if crate::hub::offline() => {
            searched.push(format!("the Hugging Face hub ({repo}): skipped, offline"))
        }
        Some(repo) => match crate::hub::download(&repo, &hf_cache().unwrap_or_else(|| PathBuf::from(".hf-cache"))) {
            Ok(path) => return Ok(path),
            Err(e) => searched.push(e.to_string()),
        },
        None => {}
    }
    Err(Error::ModelNotFound { name: model.to_owned(), searched })
}

fn usable(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    if path.join("config.json").is_file() {
        return Some(path.to_path_buf());
    }
    // A Hugging Face cache repo: prefer the snapshot `refs/main` points at, else any complete one.
    let snapshots = path.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(path.join("refs/main")) {
        let snap = snapshots.join(rev.trim());
        if snap.join("config.json").is_file() {
            return Some(snap);
        }
    }
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(&snapshots).ok()?.flatten().map(|e| e.path()).collect();
    snaps.sort();
    snaps.into_iter().rev().find(|s| s.join("config.json").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_name_lists_places_searched() {
        let err = resolve("esm2_t999_nothing").unwrap_err().to_string();
        assert!(err.starts_with("model `esm2_t999_nothing` not found; searched: esm2_t999_nothing, "), "{err}");
        assert!(
            err.contains("models--facebook--esm2_t999_nothing") && err.contains("hub/checkpoints/esm2_t999_nothing.pt"),
            "{err}"
        );
    }
}
