//! Turning what the user typed (`esm2_t6_8M_UR50D`, `facebook/esm2_t6_8M_UR50D`,
//! `esm2_t6_8M_UR50D@<revision>`, `esmc_300m`, a directory, a `.pt` or `.pth` file) into a checkpoint path,
//! looking in the places where each family's weights usually live.
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hub::HubRef;

/// Where a bare model name is looked for, in order.
///
/// 1. `$ESMDB_MODELS/<name>/` (a Hugging Face directory) and `$ESMDB_MODELS/<name>.pt`;
/// 2. the Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`),
///    `models--<org>--<name>/snapshots/*` (`org` is `facebook` for a bare name, `biohub/ESMC-300M` for
///    `esmc_300m`; ESM C's 2024 release `EvolutionaryScale/esmc-300m-2024-12`'s `.pth` too);
/// 3. the torch hub cache used by fair-esm (`$TORCH_HOME/hub/checkpoints`, `~/.cache/torch/hub/checkpoints`),
///    `<name>.pt`;
///
/// and then [`resolve`] tries a download from the Hugging Face hub (see [`crate::hub`]). A name pinned
/// to a revision (`name@revision`) is only looked for in the Hugging Face cache, see [`resolve`].
pub fn candidates(name: &str) -> Vec<PathBuf> {
    let repo = HubRef::parse(name).map(|h| h.repo);
    let name = name.rsplit('/').next().unwrap_or(name);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut out = Vec::new();
    if let Some(dir) = env("ESMDB_MODELS") {
        out.push(dir.join(name));
        out.push(dir.join(format!("{name}.pt")));
        out.push(dir.join(format!("{name}.pth")));
    }
    if let Some(hf) = hf_cache() {
        let repo = repo.unwrap_or_else(|| crate::hub::default_repo(name));
        out.push(hf.join(format!("models--{}", repo.replace('/', "--"))));
        // ESM C's 2024 release: a state dict inside its repository's snapshot.
        if let Some(size) = name.strip_prefix("esmc_").filter(|s| ["300m", "600m"].contains(s)) {
            let repo = hf.join(format!("models--EvolutionaryScale--esmc-{size}-2024-12/snapshots"));
            let file = format!("data/weights/esmc_{size}_2024_12_v0.pth");
            let mut snaps: Vec<PathBuf> =
                std::fs::read_dir(&repo).into_iter().flatten().flatten().map(|e| e.path()).collect();
            snaps.sort();
            out.extend(snaps.into_iter().rev().map(|s| s.join(&file)));
        }
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
///
/// A path that exists is used as is. A name is looked for locally ([`candidates`]), then downloaded
/// from the Hugging Face hub unless `HF_HUB_OFFLINE` or `ESMDB_OFFLINE` is set (see [`crate::hub`]).
/// A name pinned to a revision, `[org/]name@revision`, is looked for only in the Hugging Face cache:
/// `snapshots/<revision>` when the revision is a commit hash, else the snapshot `refs/<revision>`
/// names (as `huggingface_hub` does offline); failing that, that revision is downloaded.
pub fn resolve(model: &str) -> Result<PathBuf> {
    let endpoint = (!crate::hub::offline()).then(crate::hub::endpoint);
    resolve_with(model, endpoint.as_deref())
}

/// [`resolve`] with the hub at `endpoint`, or without the hub when `None`.
fn resolve_with(model: &str, endpoint: Option<&str>) -> Result<PathBuf> {
    let (found, mut searched) = local(model);
    if let Some(found) = found {
        return Ok(found);
    }
    match (HubRef::parse(model), endpoint) {
        (Some(hub), None) => searched.push(format!("the Hugging Face hub ({hub}): skipped, offline")),
        (Some(hub), Some(endpoint)) => {
            let cache = hf_cache().unwrap_or_else(|| PathBuf::from(".hf-cache"));
            match crate::hub::download_from(endpoint, &hub, &cache) {
                Ok(path) => return Ok(path),
                Err(e) => searched.push(e.to_string()),
            }
        }
        (None, _) => {}
    }
    Err(Error::ModelNotFound { name: model.to_owned(), searched })
}

/// The local checkpoint for `name`, looked up where [`resolve`] looks, without ever reaching the
/// network: a path that exists, else the first usable local candidate ([`candidates`]), or for
/// `name@revision` that revision's snapshot in the Hugging Face cache. For front ends that must not
/// download (notebooks that fall back to a random-weight model, tests).
pub fn find_local(name: &str) -> Option<PathBuf> {
    local(name).0
}

/// The local lookup of [`resolve`]: what it found, and every place it looked.
fn local(model: &str) -> (Option<PathBuf>, Vec<String>) {
    let direct = Path::new(model);
    if direct.exists() {
        return (Some(direct.to_path_buf()), Vec::new());
    }
    let mut searched = vec![model.to_owned()];
    if let Some(hub) = HubRef::parse(model)
        && let Some(revision) = &hub.revision
    {
        if let Some(cache) = hf_cache() {
            let dir = hub.cache_dir(&cache);
            searched.push(format!("{}@{revision}", dir.display()));
            return (pinned_snapshot(&dir, revision), searched);
        }
        return (None, searched);
    }
    for c in candidates(model) {
        searched.push(c.display().to_string());
        if let Some(found) = usable(&c) {
            return (Some(found), searched);
        }
    }
    (None, searched)
}

/// The complete snapshot of `revision` in a Hugging Face cache repository: `snapshots/<revision>`
/// (a commit hash), else the one `refs/<revision>` (a branch or tag) names.
fn pinned_snapshot(repo_dir: &Path, revision: &str) -> Option<PathBuf> {
    let snapshots = repo_dir.join("snapshots");
    let complete = |snap: PathBuf| snap.join("config.json").is_file().then_some(snap);
    if !revision.contains('/')
        && let Some(snap) = complete(snapshots.join(revision))
    {
        return Some(snap);
    }
    let commit = std::fs::read_to_string(repo_dir.join("refs").join(revision)).ok()?;
    let commit = commit.trim();
    if commit.is_empty() || commit.contains(['/', '\\']) || commit == ".." {
        return None;
    }
    complete(snapshots.join(commit))
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
        assert_eq!(short_name("/h/hub/models--biohub--ESMC-300M/snapshots/abc"), "ESMC-300M");
    }

    #[test]
    fn bare_esmc_names_live_under_biohub() {
        assert_eq!(HubRef::parse("esmc_300m").map(|h| h.repo).as_deref(), Some("biohub/ESMC-300M"));
        assert_eq!(HubRef::parse("esmc_600m@v1").map(|h| h.repo).as_deref(), Some("biohub/ESMC-600M"));
        let esm1v = HubRef::parse("esm1v_t33_650M_UR90S_1").map(|h| h.repo);
        assert_eq!(esm1v.as_deref(), Some("facebook/esm1v_t33_650M_UR90S_1"));
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
        let err = resolve_with("esm2_t999_nothing", None).unwrap_err().to_string();
        assert!(err.starts_with("model `esm2_t999_nothing` not found; searched: esm2_t999_nothing, "), "{err}");
        assert!(
            err.contains("models--facebook--esm2_t999_nothing") && err.contains("hub/checkpoints/esm2_t999_nothing.pt"),
            "{err}"
        );
        assert!(err.ends_with("the Hugging Face hub (facebook/esm2_t999_nothing): skipped, offline"), "{err}");
    }

    #[test]
    fn a_pinned_name_is_looked_for_at_its_revision_only() {
        let err = resolve_with("me/esm2_t999_nothing@v2", None).unwrap_err().to_string();
        assert!(err.contains("models--me--esm2_t999_nothing@v2"), "{err}");
        assert!(!err.contains("hub/checkpoints"), "{err}");
        assert!(err.ends_with("(me/esm2_t999_nothing@v2): skipped, offline"), "{err}");
    }

    #[test]
    fn org_names_are_looked_for_in_their_own_cache_folder() {
        if hf_cache().is_some() {
            let c = candidates("me/esm2-ft");
            assert!(c.iter().any(|p| p.ends_with("models--me--esm2-ft")), "{c:?}");
        }
    }

    #[test]
    fn pinned_snapshots_by_commit_or_by_ref() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snap = repo.join("snapshots").join(commit);
        assert_eq!(pinned_snapshot(repo, commit), None);
        std::fs::create_dir_all(&snap).unwrap();
        assert_eq!(pinned_snapshot(repo, commit), None, "no config.json: incomplete");
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(pinned_snapshot(repo, commit), Some(snap.clone()));
        assert_eq!(pinned_snapshot(repo, "v1"), None);
        std::fs::create_dir_all(repo.join("refs/refs/pr")).unwrap();
        std::fs::write(repo.join("refs/v1"), commit).unwrap();
        std::fs::write(repo.join("refs/refs/pr/1"), format!("{commit}\n")).unwrap();
        assert_eq!(pinned_snapshot(repo, "v1"), Some(snap.clone()));
        assert_eq!(pinned_snapshot(repo, "refs/pr/1"), Some(snap));
        std::fs::write(repo.join("refs/bad"), "../..").unwrap();
        assert_eq!(pinned_snapshot(repo, "bad"), None);
    }
}
