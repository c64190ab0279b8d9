//! Downloading checkpoints (`facebook/esm2_*` or any `org/name`) from the Hugging Face hub when it is
//! reachable, into the standard Hugging Face cache so that every later run (and Python tools) find them
//! offline.
//!
//! Skipped when `HF_HUB_OFFLINE=1` or `ESMDB_OFFLINE=1`. On machines without internet the request fails
//! at name resolution within milliseconds, and the error lists it among the places searched.
//!
//! # What a download does
//!
//! - **Revision.** A model argument `[org/]name@revision` (a branch, tag or commit hash; see
//!   [`HubRef::parse`]) asks the hub for `/{repo}/resolve/{revision}/config.json`; without `@` the
//!   revision is `main`. The hub answers with the commit it resolved (`X-Repo-Commit`), and every other
//!   file is then fetched at that commit, so that a branch moving during the download cannot mix two
//!   revisions.
//! - **Layout.** The one `huggingface_hub` writes: each file's bytes in
//!   `<cache>/models--<org>--<name>/blobs/<etag>`, linked from `snapshots/<commit>/<file>` (a relative
//!   symlink, as `huggingface_hub` makes), and `refs/<revision>` holding the commit when the revision is
//!   a branch or tag. `config.json` is linked last, so a snapshot is never taken for complete
//!   ([`crate::resolve`] requires `config.json`) while its weights are missing. Blobs are shared between
//!   snapshots: a new revision that changes only `config.json` does not download the weights again.
//! - **Integrity.** For a file stored with Git LFS (the weights), the hub sends the SHA-256 of its
//!   content as the ETag (`X-Linked-Etag`, else `ETag`). The bytes are hashed while they are written, and
//!   a mismatch deletes the download and fails with [`Error::HubChecksum`], naming the file and both
//!   hashes. Files whose ETag is not 64 hex digits (small files kept in git, such as `config.json`,
//!   whose ETag is a git object id) are not hash-checked, only their announced size is.
//! - **Resume.** A file is written to `blobs/<etag>.incomplete`, which survives an interruption (a
//!   dropped connection, a stall of 60 s, a killed process). The next try sends `Range: bytes=<len>-`
//!   and appends when the server answers `206 Partial Content` at that offset; on `200` (or `416`) it
//!   starts again from 0. The hash covers the whole file: the part already on disk is read again first.
//!   Two processes downloading the same file take turns on `<cache>/.locks/models--<org>--<name>/
//!   <etag>.lock` (an exclusive `flock`, on the lock file `huggingface_hub` uses), so two esmdb runs,
//!   or esmdb and `huggingface_hub`, do not write one file at the same time.
//!
//! # Why our own downloader and not the `hf-hub` crate
//!
//! The workspace keeps one copy of each dependency and one HTTP/TLS stack: the blocking `reqwest` 0.12
//! with rustls (ring, the system's root certificates) that lance already brings. What adding `hf-hub` to
//! this crate would add to `Cargo.lock` (measured with `cargo tree` on this workspace, November 2026):
//!
//! - 0.4.3, default features: 25 crates; a second HTTP client (ureq 2) and a second TLS stack
//!   (native-tls, openssl), indicatif 0.17 beside our 0.18, webpki-roots;
//! - 0.4.3, only `ureq` (its blocking API): 12 crates; ureq 2 with its own rustls set-up and compiled-in
//!   root certificates (webpki-roots), indicatif 0.17;
//! - 0.4.3, only `tokio` + `rustls-tls` (the reqwest we have): 10 crates, indicatif 0.17, and an async
//!   API: this crate would need a tokio runtime;
//! - 0.5.0, only `ureq`: 9 crates; ureq 3, webpki-roots;
//! - 1.0.0, `blocking` + `rustls-tls`: 84 crates; reqwest 0.13 beside 0.12, aws-lc-rs beside ring, hf-xet.
//!
//! And the blocking API of 0.4/0.5 does less than we need: it resumes with `Range` but appends whatever
//! comes back, so a server that answers `200` to a range request leaves a corrupt file; it never checks
//! the SHA-256 (`sha2` is only a dev-dependency of its tests); sharded checkpoints are left to the
//! caller. What it would give us, pinned revisions and the cache layout, is the smaller part of the
//! ~300 lines here, which are tested against a loopback server.
use std::fmt;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, LOCATION, RANGE};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The hub endpoint (`$HF_ENDPOINT`, default `https://huggingface.co`).
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into())
        .trim_end_matches('/')
        .to_owned()
}

/// True when the user asked for no network access.
pub fn offline() -> bool {
    ["HF_HUB_OFFLINE", "ESMDB_OFFLINE"].iter().any(|k| std::env::var(k).is_ok_and(|v| v == "1" || v == "true"))
}

/// A model argument that names a hub repository: `[org/]name[@revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRef {
    /// `org/name`; `facebook/<name>` for a bare name.
    pub repo: String,
    /// The branch, tag or commit hash after `@`; `None` for the default branch, `main`.
    pub revision: Option<String>,
}

impl HubRef {
    /// Parses `name`, `org/name`, `name@revision` or `org/name@revision`. Names and the organisation
    /// are ASCII letters, digits and `-_.` (not `.` or `..` alone); a revision may also hold `/` between
    /// such parts (`refs/pr/1`). `None` for anything else (a path, an empty part).
    pub fn parse(model: &str) -> Option<HubRef> {
        let (name, revision) = match model.split_once('@') {
            Some((name, revision)) => (name, Some(revision)),
            None => (model, None),
        };
        if revision.is_some_and(|r| !valid_revision(r)) {
            return None;
        }
        let ok = |s: &str| {
            !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let repo = match name.split('/').collect::<Vec<_>>().as_slice() {
            [name] if ok(name) => default_repo(name),
            [org, name] if ok(org) && ok(name) => format!("{org}/{name}"),
            _ => return None,
        };
        Some(HubRef { repo, revision: revision.map(str::to_owned) })
    }

    /// The revision to download: the one asked for, else `main`.
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// This repository's folder in a Hugging Face cache: `<cache>/models--<org>--<name>`.
    pub fn cache_dir(&self, cache: &Path) -> PathBuf {
        cache.join(self.folder())
    }

    fn folder(&self) -> String {
        format!("models--{}", self.repo.replace('/', "--"))
    }
}

impl fmt::Display for HubRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.revision {
            Some(rev) => write!(f, "{}@{rev}", self.repo),
            None => f.write_str(&self.repo),
        }
    }
}

/// A branch, tag or commit: `/`-separated parts of ASCII letters, digits and `-_.`, none `.` or `..`.
fn valid_revision(rev: &str) -> bool {
    rev.split('/').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    })
}

/// Downloads `hub`'s checkpoint (config.json + model.safetensors, or a sharded index and its shards)
/// from `$HF_ENDPOINT` (see [`endpoint`]) into `cache`, and returns its snapshot directory,
/// `<cache>/models--<org>--<name>/snapshots/<commit>`. See the module documentation for the layout,
/// the hash check and resuming.
pub fn download(hub: &HubRef, cache: &Path) -> Result<PathBuf> {
    download_from(&endpoint(), hub, cache)
}

/// [`download`] from an explicit endpoint (`http://127.0.0.1:PORT` in tests).
pub(crate) fn download_from(endpoint: &str, hub: &HubRef, cache: &Path) -> Result<PathBuf> {
    let dl = Downloader::new(endpoint, hub, cache)?;
    // Ask first, create directories only once the hub answered.
    let config = dl.remote("config.json", hub.revision())?.ok_or_else(|| {
        dl.err(format!(
            "no config.json at revision `{}` (not a model repository, or no such revision?)",
            hub.revision()
        ))
    })?;
    let commit = match &config.commit {
        Some(commit) if valid_revision(commit) && !commit.contains('/') => commit.clone(),
        Some(commit) => return Err(dl.err(format!("unusable X-Repo-Commit `{commit}`"))),
        None => hub.revision().to_owned(),
    };
    let config = dl.fetch(&config)?;
    let mut files = Vec::new();
    if let Some(weights) = dl.remote("model.safetensors", &commit)? {
        files.push(dl.fetch(&weights)?);
    } else {
        let index = dl
            .remote("model.safetensors.index.json", &commit)?
            .ok_or_else(|| dl.err("neither model.safetensors nor model.safetensors.index.json"))?;
        let index = dl.fetch(&index)?;
        for shard in crate::weights::shard_files(&index.path)? {
            let name = shard.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let remote = dl.remote(&name, &commit)?.ok_or_else(|| dl.err(format!("shard {name} missing")))?;
            files.push(dl.fetch(&remote)?);
        }
        files.push(index);
    }
    files.push(config);
    dl.snapshot(&commit, &files)
}

/// One file as the hub describes it, before downloading.
struct Remote {
    /// The file's name in the repository.
    file: String,
    /// Where its bytes are: the hub's `resolve` URL, or where it redirects to (a CDN).
    url: Url,
    /// `X-Repo-Commit`: the commit the revision resolved to.
    commit: Option<String>,
    /// The ETag without quotes and `W/`: a SHA-256 for LFS files, a git object id for others.
    etag: String,
    /// `X-Linked-Size`, or `Content-Length` of a direct answer.
    size: Option<u64>,
}

impl Remote {
    /// The SHA-256 the content must have, when the ETag is one (64 hex digits).
    fn sha256(&self) -> Option<String> {
        (self.etag.len() == 64 && self.etag.chars().all(|c| c.is_ascii_hexdigit())).then(|| self.etag.to_lowercase())
    }
}

/// A downloaded file: its name in the repository and its blob.
struct Blob {
    file: String,
    etag: String,
    path: PathBuf,
}

struct Downloader<'a> {
    endpoint: &'a str,
    hub: &'a HubRef,
    cache: &'a Path,
    repo_dir: PathBuf,
    /// Follows redirects: fetches the bytes.
    client: Client,
    /// Follows none: reads the hub's own answer, which carries the commit, ETag and size.
    no_redirect: Client,
}

impl<'a> Downloader<'a> {
    fn new(endpoint: &'a str, hub: &'a HubRef, cache: &'a Path) -> Result<Self> {
        // The blocking client's timeout bounds each read, not the whole body: a stall of 60 s fails
        // (and the next run resumes), a slow but moving download of any size does not.
        let builder = || Client::builder().connect_timeout(Duration::from_secs(10)).timeout(Duration::from_secs(60));
        let err = |e: reqwest::Error| Error::Hub { repo: hub.repo.clone(), message: e.to_string() };
        Ok(Downloader {
            endpoint: endpoint.trim_end_matches('/'),
            hub,
            cache,
            repo_dir: hub.cache_dir(cache),
            client: builder().build().map_err(err)?,
            no_redirect: builder().redirect(reqwest::redirect::Policy::none()).build().map_err(err)?,
        })
    }

    fn err(&self, message: impl fmt::Display) -> Error {
        Error::Hub { repo: self.hub.repo.clone(), message: message.to_string() }
    }

    /// Asks the hub about `file` at `revision` (a `HEAD` request, as `huggingface_hub` does); `None`
    /// when it has no such file. Relative redirects (a renamed repository) are followed; an absolute
    /// one (to the CDN holding LFS files) ends the walk, its target is where the bytes are.
    fn remote(&self, file: &str, revision: &str) -> Result<Option<Remote>> {
        let rev = revision.replace('/', "%2F");
        let mut url = Url::parse(&format!("{}/{}/resolve/{rev}/{file}", self.endpoint, self.hub.repo))
            .map_err(|e| self.err(format!("{file}: {e}")))?;
        for _ in 0..10 {
            let resp = self
                .no_redirect
                .head(url.clone())
                .header(ACCEPT_ENCODING, "identity")
                .send()
                .map_err(|e| self.err(format!("{file}: {e}")))?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if status.is_redirection() {
                let location = header(resp.headers(), LOCATION.as_str())
                    .ok_or_else(|| self.err(format!("{file}: HTTP {status} without Location")))?;
                match Url::parse(location) {
                    Ok(target) => return self.describe(file, target, resp.headers(), true).map(Some),
                    Err(_) => url = url.join(location).map_err(|e| self.err(format!("{file}: {e}")))?,
                }
                continue;
            }
            if !status.is_success() {
                return Err(self.err(format!("{file}: HTTP {status}")));
            }
            return self.describe(file, url, resp.headers(), false).map(Some);
        }
        Err(self.err(format!("{file}: too many redirects")))
    }

    fn describe(&self, file: &str, url: Url, headers: &HeaderMap, redirected: bool) -> Result<Remote> {
        let etag = header(headers, "x-linked-etag")
            .or_else(|| header(headers, "etag"))
            .map(|e| e.trim().trim_start_matches("W/").trim_matches('"').to_owned())
            .ok_or_else(|| self.err(format!("{file}: no ETag in the answer (not a Hugging Face hub?)")))?;
        if etag.is_empty() || !etag.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
            return Err(self.err(format!("{file}: unusable ETag `{etag}`")));
        }
        // A redirect's Content-Length is the redirect's own body, not the file's.
        let size = header(headers, "x-linked-size")
            .or_else(|| if redirected { None } else { header(headers, CONTENT_LENGTH.as_str()) })
            .and_then(|s| s.trim().parse().ok());
        let commit = header(headers, "x-repo-commit").map(str::to_owned);
        Ok(Remote { file: file.to_owned(), url, commit, etag, size })
    }

    /// The blob of `remote`, downloaded unless an earlier run completed it.
    fn fetch(&self, remote: &Remote) -> Result<Blob> {
        let blobs = self.repo_dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::io(&blobs, e))?;
        let path = blobs.join(&remote.etag);
        if !path.is_file() {
            let locks = self.cache.join(".locks").join(self.hub.folder());
            std::fs::create_dir_all(&locks).map_err(|e| Error::io(&locks, e))?;
            let lock_path = locks.join(format!("{}.lock", remote.etag));
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| Error::io(&lock_path, e))?;
            lock.lock().map_err(|e| Error::io(&lock_path, e))?;
            // Another process may have finished it while we waited.
            if !path.is_file() {
                self.download(remote, &path)?;
            }
        }
        Ok(Blob { file: remote.file.clone(), etag: remote.etag.clone(), path })
    }

    /// Downloads `remote` into `<blob>.incomplete` (resuming what is there), checks it and renames it
    /// to `blob`.
    fn download(&self, remote: &Remote, blob: &Path) -> Result<()> {
        let file_name = &remote.file;
        let part = blob.with_file_name(format!("{}.incomplete", remote.etag));
        let io = |e| Error::io(&part, e);
        let mut out = OpenOptions::new().read(true).append(true).create(true).open(&part).map_err(io)?;
        let mut have = out.metadata().map_err(io)?.len();
        if remote.size.is_some_and(|size| have > size) {
            out.set_len(0).map_err(io)?;
            have = 0;
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        if have > 0 {
            // Hash what an earlier try left, so that the check covers the whole file.
            out.seek(SeekFrom::Start(0)).map_err(io)?;
            let mut left = have;
            while left > 0 {
                let n = out.read(&mut buf[..left.min(1 << 20) as usize]).map_err(io)?;
                if n == 0 {
                    return Err(Error::io(&part, std::io::ErrorKind::UnexpectedEof.into()));
                }
                hasher.update(&buf[..n]);
                left -= n as u64;
            }
        }
        if have == 0 || remote.size != Some(have) {
            let mut resp = self.get(remote, have)?;
            match resp.status() {
                StatusCode::PARTIAL_CONTENT if have > 0 && range_starts_at(resp.headers(), have) => {}
                StatusCode::OK => {
                    // The whole file again: the server ignored the range.
                    if have > 0 {
                        out.set_len(0).map_err(io)?;
                        hasher = Sha256::new();
                        have = 0;
                    }
                }
                StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                    // Not the range we asked for: start again from 0.
                    out.set_len(0).map_err(io)?;
                    hasher = Sha256::new();
                    have = 0;
                    resp = self.get(remote, 0)?;
                    if resp.status() != StatusCode::OK {
                        return Err(self.err(format!("{file_name}: HTTP {}", resp.status())));
                    }
                }
                status => return Err(self.err(format!("{file_name}: HTTP {status}"))),
            }
            loop {
                let n = match resp.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(self.err(format!(
                            "{file_name}: download interrupted after {have} bytes ({e}); run again to resume"
                        )));
                    }
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io)?;
                have += n as u64;
            }
        }
        if let Some(size) = remote.size.filter(|&size| size != have) {
            if have > size {
                drop(out);
                std::fs::remove_file(&part).map_err(io)?;
            }
            return Err(self.err(format!("{file_name}: got {have} of {size} bytes; run again to resume")));
        }
        let actual = hex::encode(hasher.finalize());
        if let Some(expected) = remote.sha256().filter(|expected| *expected != actual) {
            drop(out);
            std::fs::remove_file(&part).map_err(io)?;
            return Err(Error::HubChecksum { repo: self.hub.repo.clone(), file: file_name.clone(), expected, actual });
        }
        drop(out);
        std::fs::rename(&part, blob).map_err(|e| Error::io(blob, e))
    }

    /// `GET` of `remote`'s bytes from offset `from`.
    fn get(&self, remote: &Remote, from: u64) -> Result<Response> {
        let mut req = self.client.get(remote.url.clone()).header(ACCEPT_ENCODING, "identity");
        if from > 0 {
            req = req.header(RANGE, format!("bytes={from}-"));
        }
        req.send().map_err(|e| self.err(format!("{}: {e}", remote.file)))
    }

    /// Links `files` into `snapshots/<commit>` in their order (config.json last) and writes
    /// `refs/<revision>` when the revision was not the commit itself.
    fn snapshot(&self, commit: &str, files: &[Blob]) -> Result<PathBuf> {
        let snapshot = self.repo_dir.join("snapshots").join(commit);
        std::fs::create_dir_all(&snapshot).map_err(|e| Error::io(&snapshot, e))?;
        for blob in files {
            let link = snapshot.join(&blob.file);
            if link.is_file() {
                continue;
            }
            if link.symlink_metadata().is_ok() {
                // A dangling link from an earlier, cleaned-up cache.
                std::fs::remove_file(&link).map_err(|e| Error::io(&link, e))?;
            }
            link_blob(&blob.etag, &blob.path, &link).map_err(|e| Error::io(&link, e))?;
        }
        let revision = self.hub.revision();
        if revision != commit {
            let reference = self.repo_dir.join("refs").join(revision);
            if let Some(dir) = reference.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            std::fs::write(&reference, commit).map_err(|e| Error::io(&reference, e))?;
        }
        Ok(snapshot)
    }
}

/// `snapshots/<commit>/<file>` → `../../blobs/<etag>`, relative as `huggingface_hub` makes it.
#[cfg(unix)]
fn link_blob(etag: &str, _blob: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(Path::new("../../blobs").join(etag), link)
}

#[cfg(not(unix))]
fn link_blob(_etag: &str, blob: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::hard_link(blob, link)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// True when `Content-Range` says the body starts at byte `from`.
fn range_starts_at(headers: &HeaderMap, from: u64) -> bool {
    header(headers, CONTENT_RANGE.as_str())
        .and_then(|r| r.trim().strip_prefix("bytes "))
        .and_then(|r| r.split('-').next())
        .and_then(|start| start.parse::<u64>().ok())
        == Some(from)
}

/// The hub repository of a bare model name: ESM C's published weights live under `biohub`
/// (`esmc_300m` → `biohub/ESMC-300M`), AMPLIFY's under `chandar-lab` (`amplify_120m` →
/// `chandar-lab/AMPLIFY_120M`), every other ESM under `facebook` (`facebook/esm2_t6_8M_UR50D`,
/// `facebook/esm1v_t33_650M_UR90S_1`).
pub fn default_repo(name: &str) -> String {
    match name {
        "esmc_300m" => "biohub/ESMC-300M".into(),
        "esmc_600m" => "biohub/ESMC-600M".into(),
        "esmc_6b" => "biohub/ESMC-6B".into(),
        // The authors' own repositories (chandar-lab), not NVIDIA's TransformerEngine re-exports.
        "amplify_120m" => "chandar-lab/AMPLIFY_120M".into(),
        "amplify_350m" => "chandar-lab/AMPLIFY_350M".into(),
        _ => format!("facebook/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A canned answer of the loopback hub.
    #[derive(Clone, Default)]
    struct Route {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        /// Serve `Range: bytes=N-` with 206 (else ignore it and send 200).
        ranges: bool,
        /// On the first GET, send only this many bytes of the body, then drop the connection.
        cut_first_get: Option<usize>,
    }

    /// A request the loopback hub saw: method, path and `Range` header.
    #[derive(Debug, Clone, PartialEq)]
    struct Seen {
        method: String,
        path: String,
        range: Option<String>,
    }

    /// A hub on 127.0.0.1: `routes` gets the base URL (for absolute redirects) and returns the routes
    /// by path. Never reaches the network.
    struct Hub {
        base: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Hub {
        fn start(routes: impl FnOnce(&str) -> HashMap<String, Route>) -> Hub {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let routes = routes(&base);
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            std::thread::spawn(move || {
                let mut cut = HashMap::new();
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let mut range = None;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("range")
                        {
                            range = Some(v.trim().to_owned());
                        }
                    }
                    let mut words = line.split_whitespace();
                    let (method, path) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
                    log.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), range: range.clone() });
                    let route = routes.get(&path).cloned().unwrap_or(Route { status: 404, ..Route::default() });
                    let from = range
                        .as_deref()
                        .and_then(|r| r.strip_prefix("bytes="))
                        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
                        .filter(|_| route.ranges && route.status == 200);
                    let (status, mut body, mut extra) = match from {
                        Some(from) if from < route.body.len() => (
                            206,
                            route.body[from..].to_vec(),
                            format!("Content-Range: bytes {from}-{}/{}\r\n", route.body.len() - 1, route.body.len()),
                        ),
                        Some(_) => (416, Vec::new(), String::new()),
                        None => (route.status, route.body.clone(), String::new()),
                    };
                    for (k, v) in &route.headers {
                        extra.push_str(&format!("{k}: {v}\r\n"));
                    }
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).unwrap();
                    if method == "GET" {
                        if let Some(n) = route.cut_first_get.filter(|_| cut.insert(path.clone(), ()).is_none()) {
                            body.truncate(n);
                        }
                        let _ = stream.write_all(&body);
                    }
                }
            });
            Hub { base, seen }
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
    const CONFIG: &[u8] = br#"{"model_type": "esm"}"#;

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// `org/m` as the hub serves it: config.json in git (answered at `revision` and at the commit),
    /// model.safetensors in LFS (a redirect that announces `announced` as its SHA-256, to a CDN path
    /// that serves `weights`).
    fn repo(base: &str, revision: &str, weights: &[u8], announced: &str) -> HashMap<String, Route> {
        let commit = ("X-Repo-Commit".to_owned(), COMMIT.to_owned());
        let config = Route {
            status: 200,
            headers: vec![commit.clone(), ("ETag".into(), "\"2f9ad1c6e2d1fb7d0b4d7c6d3c5b4a3928171605\"".into())],
            body: CONFIG.to_vec(),
            ..Route::default()
        };
        let lfs = Route {
            status: 302,
            headers: vec![
                commit,
                ("Location".into(), format!("{base}/cdn/weights")),
                ("X-Linked-Etag".into(), format!("\"{announced}\"")),
                ("X-Linked-Size".into(), weights.len().to_string()),
                ("ETag".into(), "W/\"not-the-content-hash\"".into()),
            ],
            ..Route::default()
        };
        let cdn = Route {
            status: 200,
            headers: vec![("ETag".into(), "\"s3-etag-1\"".into())],
            body: weights.to_vec(),
            ranges: true,
            ..Route::default()
        };
        HashMap::from([
            (format!("/org/m/resolve/{revision}/config.json"), config.clone()),
            (format!("/org/m/resolve/{COMMIT}/config.json"), config),
            (format!("/org/m/resolve/{COMMIT}/model.safetensors"), lfs),
            ("/cdn/weights".to_owned(), cdn),
        ])
    }

    fn weights() -> Vec<u8> {
        (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn leftovers(repo_dir: &Path) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(repo_dir.join("blobs")) else { return Vec::new() };
        dir.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".incomplete"))
            .collect()
    }

    #[test]
    fn model_arguments_name_repositories_and_revisions() {
        let parse = |s: &str| HubRef::parse(s).map(|h| (h.repo, h.revision));
        assert_eq!(parse("esm2_t6_8M_UR50D"), Some(("facebook/esm2_t6_8M_UR50D".into(), None)));
        assert_eq!(parse("me/esm2-ft"), Some(("me/esm2-ft".into(), None)));
        assert_eq!(parse("me/esm2-ft@v1.0"), Some(("me/esm2-ft".into(), Some("v1.0".into()))));
        assert_eq!(
            parse("esm2_t6_8M_UR50D@refs/pr/1"),
            Some(("facebook/esm2_t6_8M_UR50D".into(), Some("refs/pr/1".into())))
        );
        for bad in ["/abs/path", "a/b/c", "../x", "./x", "..", "a@", "a@../x", "a@b/", "a@b@c", "@main", "a b"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let pinned = HubRef::parse(&format!("esm2_t6_8M_UR50D@{COMMIT}")).unwrap();
        assert_eq!(pinned.revision(), COMMIT);
        assert_eq!(pinned.to_string(), format!("facebook/esm2_t6_8M_UR50D@{COMMIT}"));
        assert_eq!(HubRef::parse("x").unwrap().revision(), "main");
        assert_eq!(pinned.cache_dir(Path::new("/c")), Path::new("/c/models--facebook--esm2_t6_8M_UR50D"));
    }

    #[test]
    fn downloads_into_the_hf_cache_and_checks_the_sha256() {
        let w = weights();
        let hub = Hub::start(|base| repo(base, "main", &w, &sha256(&w)));
        let cache = tempfile::tempdir().unwrap();
        let model = HubRef::parse("org/m").unwrap();
        let snapshot = download_from(&hub.base, &model, cache.path()).unwrap();
        let repo_dir = cache.path().join("models--org--m");
        assert_eq!(snapshot, repo_dir.join("snapshots").join(COMMIT));
        assert_eq!(std::fs::read(snapshot.join("model.safetensors")).unwrap(), w);
        assert_eq!(std::fs::read(snapshot.join("config.json")).unwrap(), CONFIG);
        assert_eq!(std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(), COMMIT);
        assert!(repo_dir.join("blobs").join(sha256(&w)).is_file());
        assert!(leftovers(&repo_dir).is_empty());
        let seen: Vec<(String, String)> = hub.seen().into_iter().map(|s| (s.method, s.path)).collect();
        let at = |rev: &str, file: &str| format!("/org/m/resolve/{rev}/{file}");
        assert_eq!(
            seen,
            [
                ("HEAD".into(), at("main", "config.json")),
                ("GET".into(), at("main", "config.json")),
                ("HEAD".into(), at(COMMIT, "model.safetensors")),
                ("GET".into(), "/cdn/weights".into()),
            ]
        );
        // A second download reuses the blobs: only the hub's metadata is asked for.
        download_from(&hub.base, &model, cache.path()).unwrap();
        assert!(hub.seen()[4..].iter().all(|s| s.method == "HEAD"), "{:?}", hub.seen());
    }

    #[test]
    fn a_sha256_mismatch_fails_and_leaves_nothing_in_the_snapshot() {
        let w = weights();
        let announced = sha256(b"other bytes");
        let hub = Hub::start(|base| repo(base, "main", &w, &announced));
        let cache = tempfile::tempdir().unwrap();
        let err = download_from(&hub.base, &HubRef::parse("org/m").unwrap(), cache.path()).unwrap_err();
        assert!(matches!(err, Error::HubChecksum { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("model.safetensors") && msg.contains(&announced) && msg.contains(&sha256(&w)), "{msg}");
        let repo_dir = cache.path().join("models--org--m");
        assert!(!repo_dir.join("snapshots").exists());
        assert!(!repo_dir.join("blobs").join(&announced).exists());
        assert!(leftovers(&repo_dir).is_empty());
    }

    #[test]
    fn an_interrupted_download_resumes_with_a_range_request() {
        let w = weights();
        let cut = 100_000;
        let hub = Hub::start(|base| {
            let mut routes = repo(base, "main", &w, &sha256(&w));
            routes.get_mut("/cdn/weights").unwrap().cut_first_get = Some(cut);
            routes
        });
        let cache = tempfile::tempdir().unwrap();
        let model = HubRef::parse("org/m").unwrap();
        let err = download_from(&hub.base, &model, cache.path()).unwrap_err().to_string();
        assert!(err.contains("run again to resume"), "{err}");
        let repo_dir = cache.path().join("models--org--m");
        let part = repo_dir.join("blobs").join(format!("{}.incomplete", sha256(&w)));
        assert_eq!(std::fs::metadata(&part).unwrap().len(), cut as u64);
        assert!(!repo_dir.join("snapshots").exists());

        let snapshot = download_from(&hub.base, &model, cache.path()).unwrap();
        assert_eq!(std::fs::read(snapshot.join("model.safetensors")).unwrap(), w);
        let gets: Vec<Seen> = hub.seen().into_iter().filter(|s| s.path == "/cdn/weights").collect();
        assert_eq!(gets.len(), 2);
        assert_eq!(gets[0].range, None);
        assert_eq!(gets[1].range.as_deref(), Some(format!("bytes={cut}-").as_str()));
        assert!(!part.exists());
    }

    #[test]
    fn a_server_ignoring_the_range_restarts_from_zero() {
        let w = weights();
        let hub = Hub::start(|base| {
            let mut routes = repo(base, "main", &w, &sha256(&w));
            routes.get_mut("/cdn/weights").unwrap().ranges = false;
            routes
        });
        let cache = tempfile::tempdir().unwrap();
        let blobs = cache.path().join("models--org--m/blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join(format!("{}.incomplete", sha256(&w))), &w[..5000]).unwrap();
        let snapshot = download_from(&hub.base, &HubRef::parse("org/m").unwrap(), cache.path()).unwrap();
        assert_eq!(std::fs::read(snapshot.join("model.safetensors")).unwrap(), w);
        let get = hub.seen().into_iter().find(|s| s.path == "/cdn/weights").unwrap();
        assert_eq!(get.range.as_deref(), Some("bytes=5000-"));
    }

    #[test]
    fn a_pinned_revision_is_asked_for_and_recorded() {
        let w = weights();
        let hub = Hub::start(|base| repo(base, "v1", &w, &sha256(&w)));
        let cache = tempfile::tempdir().unwrap();
        let repo_dir = cache.path().join("models--org--m");

        let snapshot = download_from(&hub.base, &HubRef::parse("org/m@v1").unwrap(), cache.path()).unwrap();
        assert_eq!(snapshot, repo_dir.join("snapshots").join(COMMIT));
        assert_eq!(hub.seen()[0].path, "/org/m/resolve/v1/config.json");
        assert_eq!(std::fs::read_to_string(repo_dir.join("refs/v1")).unwrap(), COMMIT);
        assert!(!repo_dir.join("refs/main").exists());

        // A commit hash: the snapshot is named by it, and no ref is written for it.
        let snapshot =
            download_from(&hub.base, &HubRef::parse(&format!("org/m@{COMMIT}")).unwrap(), cache.path()).unwrap();
        assert_eq!(snapshot, repo_dir.join("snapshots").join(COMMIT));
        assert!(hub.seen().iter().any(|s| s.path == format!("/org/m/resolve/{COMMIT}/config.json")));
        assert!(!repo_dir.join("refs").join(COMMIT).exists());
    }

    #[test]
    fn a_branch_with_slashes_is_one_url_segment() {
        let w = weights();
        let hub = Hub::start(|base| repo(base, "refs%2Fpr%2F1", &w, &sha256(&w)));
        let cache = tempfile::tempdir().unwrap();
        download_from(&hub.base, &HubRef::parse("org/m@refs/pr/1").unwrap(), cache.path()).unwrap();
        assert_eq!(hub.seen()[0].path, "/org/m/resolve/refs%2Fpr%2F1/config.json");
        let reference = cache.path().join("models--org--m/refs/refs/pr/1");
        assert_eq!(std::fs::read_to_string(reference).unwrap(), COMMIT);
    }

    #[test]
    fn sharded_checkpoints_download_every_shard() {
        let shards = [b"first shard".to_vec(), b"second shard".to_vec()];
        let index = br#"{"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors"}}"#.to_vec();
        let hub = Hub::start(|base| {
            let mut routes = repo(base, "main", b"", &sha256(b""));
            routes.remove(&format!("/org/m/resolve/{COMMIT}/model.safetensors"));
            let file = |body: &[u8]| Route {
                status: 200,
                headers: vec![("ETag".into(), format!("\"{}\"", sha256(body)))],
                body: body.to_vec(),
                ..Route::default()
            };
            routes.insert(format!("/org/m/resolve/{COMMIT}/model.safetensors.index.json"), file(&index));
            for (i, shard) in shards.iter().enumerate() {
                routes.insert(format!("/org/m/resolve/{COMMIT}/model-{}.safetensors", i + 1), file(shard));
            }
            routes
        });
        let cache = tempfile::tempdir().unwrap();
        let snapshot = download_from(&hub.base, &HubRef::parse("org/m").unwrap(), cache.path()).unwrap();
        assert_eq!(std::fs::read(snapshot.join("model-1.safetensors")).unwrap(), shards[0]);
        assert_eq!(std::fs::read(snapshot.join("model-2.safetensors")).unwrap(), shards[1]);
        assert_eq!(std::fs::read(snapshot.join("model.safetensors.index.json")).unwrap(), index);
    }
}
