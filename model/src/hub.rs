//! Downloading `facebook/esm2_*` checkpoints from the Hugging Face hub when it is reachable, into the
//! standard Hugging Face cache so that every later run (and Python tools) find them offline.
//!
//! Skipped when `HF_HUB_OFFLINE=1` or `ESMDB_OFFLINE=1`. On machines without internet the request fails
//! at name resolution within milliseconds, and the error lists it among the places searched.
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The hub endpoint (`$HF_ENDPOINT`, default `https://huggingface.co`).
fn endpoint() -> String {
    std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".into())
}

/// True when the user asked for no network access.
pub fn offline() -> bool {
    ["HF_HUB_OFFLINE", "ESMDB_OFFLINE"].iter().any(|k| std::env::var(k).is_ok_and(|v| v == "1" || v == "true"))
}

/// The hub repository for a model argument: `org/name` as given, or `facebook/<name>` for a bare name.
pub fn repo_for(model: &str) -> Option<String> {
    let parts: Vec<&str> = model.split('/').collect();
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    match parts.as_slice() {
        [name] if ok(name) => Some(format!("facebook/{name}")),
        [org, name] if ok(org) && ok(name) => Some(format!("{org}/{name}")),
        _ => None,
    }
}

/// Downloads `repo` (config.json + model.safetensors, or a sharded index and its shards) into
/// `<cache>/models--<org>--<name>/snapshots/<revision>` and points `refs/main` at it.
pub fn download(repo: &str, cache: &Path) -> Result<PathBuf> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(3600))
        .build()
        .map_err(|e| hub_err(repo, e))?;
    let url = |file: &str| format!("{}/{repo}/resolve/main/{file}", endpoint());
    let get = |file: &str| -> Result<Option<reqwest::blocking::Response>> {
        let resp = client.get(url(file)).send().map_err(|e| hub_err(repo, e))?;
        match resp.status() {
            s if s.is_success() => Ok(Some(resp)),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s => Err(hub_err(repo, format!("{file}: HTTP {s}"))),
        }
    };
    // Ask first, create directories only once the hub answered.
    let config = get("config.json")?.ok_or_else(|| hub_err(repo, "no config.json (not a model repository?)"))?;
    let repo_dir = cache.join(format!("models--{}", repo.replace('/', "--")));
    std::fs::create_dir_all(&repo_dir).map_err(|e| Error::io(&repo_dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".esmdb-download-")
        .tempdir_in(&repo_dir)
        .map_err(|e| Error::io(&repo_dir, e))?;
    let revision = config.headers().get("x-repo-commit").and_then(|v| v.to_str().ok()).unwrap_or("main").to_owned();
    save(config, &tmp.path().join("config.json"))?;
    if let Some(resp) = get("model.safetensors")? {
        save(resp, &tmp.path().join("model.safetensors"))?;
    } else {
        let index = get("model.safetensors.index.json")?
            .ok_or_else(|| hub_err(repo, "neither model.safetensors nor model.safetensors.index.json"))?;
        let index_path = tmp.path().join("model.safetensors.index.json");
        save(index, &index_path)?;
        for shard in crate::weights::shard_files(&index_path)? {
            let name = shard.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let resp = get(&name)?.ok_or_else(|| hub_err(repo, format!("shard {name} missing")))?;
            save(resp, &shard)?;
        }
    }
    let snapshot = repo_dir.join("snapshots").join(&revision);
    std::fs::create_dir_all(repo_dir.join("snapshots")).map_err(|e| Error::io(&repo_dir, e))?;
    if !snapshot.exists() {
        std::fs::rename(tmp.keep(), &snapshot).map_err(|e| Error::io(&snapshot, e))?;
    }
    std::fs::create_dir_all(repo_dir.join("refs")).map_err(|e| Error::io(&repo_dir, e))?;
    std::fs::write(repo_dir.join("refs/main"), &revision).map_err(|e| Error::io(&repo_dir, e))?;
    Ok(snapshot)
}

fn save(mut resp: reqwest::blocking::Response, path: &Path) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    resp.copy_to(&mut file).map_err(|e| Error::Weights { path: path.into(), message: format!("download: {e}") })?;
    Ok(())
}

fn hub_err(repo: &str, e: impl std::fmt::Display) -> Error {
    Error::Hub { repo: repo.to_owned(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos_for_model_arguments() {
        assert_eq!(repo_for("esm2_t6_8M_UR50D").as_deref(), Some("facebook/esm2_t6_8M_UR50D"));
        assert_eq!(repo_for("me/esm2-ft").as_deref(), Some("me/esm2-ft"));
        assert_eq!(repo_for("/abs/path"), None);
        assert_eq!(repo_for("a/b/c"), None);
    }
}
