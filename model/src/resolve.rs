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

/// The local checkpoint for `name`, looked up where [`resolve`] looks, without ever reaching the
/// network: a path that exists, else the first usable local candidate ([`candidates`]). For front
/// ends that must not download (notebooks that fall back to a random-weight model, tests).
pub fn find_local(name: &str) -> Option<PathBuf> {
    let direct = Path::new(name);
    if direct.exists() {
        return Some(direct.to_path_buf());
    }
    candidates(name).iter().find_map(|c| usable(c))
}

/// A short model name for ids, results and figures, from what the user wrote or the resolved path:
/// the hub repo name inside a Hugging Face cache path (`…/models--facebook--esm2_t12_35M_UR50D/
/// snapshots/abc` → `esm2_t12_35M_UR50D`), else the last component without its extension
/// (`…/esm2_t30_150M_UR50D.pt` → `esm2_t30_150M_UR50D`, `…/random-esm2_t6_8M_UR50D-seed7/` keeps
/// its size in the name). Part of every cache key (`name@checksum`): changing it orphans caches.
pub fn short_name(model: &str) -> String {
    let path = Path::new(model.trim_end_matches('/'));
    let comps: Vec<String> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if let Some(repo) = comps.iter().rev().find_map(|c| c.strip_prefix("models--")) {
        return repo.rsplit("--").next().unwrap_or(repo).to_owned();
    }
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
}

/// Resolves a layer index of a model with `num_layers` transformer layers: 0 is the embedding
/// layer, `num_layers` the output after the final LayerNorm, and negative values count from the end
/// (-1 = last). `None` when outside the model. The one place this convention is written down; the
/// store's cache keys and every front end use it through here.
pub fn resolve_layer(layer: i64, num_layers: i64) -> Option<i64> {
    let resolved = if layer < 0 { num_layers.checked_add(1)?.checked_add(layer)? } else { layer };
    (0..=num_layers).contains(&resolved).then_some(resolved)
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
    fn short_names_keep_the_architecture() {
        assert_eq!(short_name("esm2_t6_8M_UR50D"), "esm2_t6_8M_UR50D");
        assert_eq!(short_name("facebook/esm2_t6_8M_UR50D"), "esm2_t6_8M_UR50D");
        assert_eq!(short_name("/m/random-esm2_t6_8M_UR50D-seed7/"), "random-esm2_t6_8M_UR50D-seed7");
        assert_eq!(short_name("/h/hub/models--facebook--esm2_t12_35M_UR50D/snapshots/abc123"), "esm2_t12_35M_UR50D");
        assert_eq!(short_name("/t/checkpoints/esm2_t30_150M_UR50D.pt"), "esm2_t30_150M_UR50D");
    }

    #[test]
    fn layers_resolve_from_either_end() {
        assert_eq!(resolve_layer(-1, 6), Some(6));
        assert_eq!(resolve_layer(-7, 6), Some(0));
        assert_eq!(resolve_layer(0, 6), Some(0));
        assert_eq!(resolve_layer(6, 6), Some(6));
        assert_eq!(resolve_layer(7, 6), None);
        assert_eq!(resolve_layer(-8, 6), None);
        assert_eq!(resolve_layer(i64::MIN, 6), None);
        assert_eq!(resolve_layer(-1, i64::MAX), None);
    }

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
