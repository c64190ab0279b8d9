//! The weights' checksum, remembered in a sidecar so that an unchanged checkpoint is hashed once.
//!
//! Why: the checksum names cached embeddings (`name@checksum`), so it must be a hash of the weight
//! bytes — but SHA-256 over 2.6 GB (650M) to 60 GB (15B) costs seconds to minutes on every load. The
//! digest is therefore stored in a small JSON sidecar with each weight file's identity: canonical path,
//! device, inode, size, mtime and ctime (ns). The sidecar is `<first weight file>.esmdb-sha256` or,
//! where that cannot be written, one under `$XDG_CACHE_HOME/esmdb/checksums/` (`~/.cache/...`). Any
//! difference in any recorded field, and any unreadable or corrupt sidecar, just means hashing again;
//! the value is always the same SHA-256-derived one a fresh hash gives.
//!
//! Trade-off: like `make`, rsync and `git status`, this trusts file metadata. A file rewritten in place
//! with the same size and mtime would keep a stale digest, but that takes more than restoring the mtime
//! (`touch -r`, `rsync -t`, `tar x`): doing so changes the ctime, which no system call sets back. What
//! remains is a same-size rewrite within one timestamp tick (1–10 ms on Linux, 2 s on FAT) of the state
//! that was hashed, and two guards close it: files are stat'ed before and after hashing (a file changed
//! meanwhile is not remembered), and a file whose mtime or ctime is within [`RACY_WINDOW`] of the hash is
//! not remembered either (git's "racily clean" rule), since only such a file can still change unseen.
//! Left are changes that bypass the file system's timestamps (a clock set back, bit rot); deleting the
//! sidecar forces a rehash. Whoever can edit a sidecar can edit the weights next to it, so the sidecar
//! adds no trust problem.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};

/// A file changed this recently is hashed but not remembered (see the module docs).
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Suffix of the sidecar next to the first weight file.
pub const SIDECAR_SUFFIX: &str = ".esmdb-sha256";

const SIDECAR_VERSION: u32 = 1;

/// The checksum of `files`' concatenated bytes: the first 16 hex digits of their SHA-256, read from the
/// sidecar when every file is unchanged since it was written, else computed (and remembered).
pub fn checksum(files: &[PathBuf]) -> Result<String> {
    Ok(checksum_with(files, &Policy::default())?.0)
}

/// Where [`checksum_with`] got its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Sidecar,
    Hashed,
}

/// Tunables, so that tests can hash fresh files without waiting out the racy window.
#[derive(Debug, Clone)]
struct Policy {
    racy_window: Duration,
    /// Fallback sidecar directory; `None`: only next to the weights.
    cache_dir: Option<PathBuf>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { racy_window: RACY_WINDOW, cache_dir: user_cache_dir() }
    }
}

/// `$XDG_CACHE_HOME/esmdb/checksums` (an absolute `XDG_CACHE_HOME` only, as the spec says), else
/// `~/.cache/esmdb/checksums`.
fn user_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let base =
        xdg.or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache")));
    base.map(|b| b.join("esmdb").join("checksums"))
}

fn checksum_with(files: &[PathBuf], policy: &Policy) -> Result<(String, Source)> {
    let before = file_keys(files);
    let sidecars = before.as_deref().map(|k| sidecar_paths(files, k, policy)).unwrap_or_default();
    if let Some(keys) = &before
        && let Some(digest) = sidecars.iter().find_map(|p| read_sidecar(p, keys))
    {
        return Ok((short(&digest), Source::Sidecar));
    }
    let digest = sha256_files(files)?;
    if let Some(keys) = before
        && file_keys(files).as_ref() == Some(&keys)
        && settled(&keys, policy.racy_window)
    {
        let sidecar = Sidecar { version: SIDECAR_VERSION, files: keys, sha256: digest.clone() };
        write_sidecar(&sidecars, &sidecar);
    }
    Ok((short(&digest), Source::Hashed))
}

/// The first 16 hex digits: the historical checksum length (`name@0123456789abcdef`).
fn short(digest: &str) -> String {
    digest[..16].to_owned()
}

/// SHA-256 of the files' concatenated bytes, as 64 lowercase hex digits.
fn sha256_files(files: &[PathBuf]) -> Result<String> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        let mut file = std::fs::File::open(f).map_err(|e| Error::io(f, e))?;
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io(f, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// What identifies one file's bytes without reading them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileKey {
    path: String,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    version: u32,
    files: Vec<FileKey>,
    sha256: String,
}

/// Every file's key, or `None` (nothing is remembered) when one cannot be had.
fn file_keys(files: &[PathBuf]) -> Option<Vec<FileKey>> {
    files.iter().map(|f| file_key(f)).collect()
}

#[cfg(unix)]
fn file_key(path: &Path) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let canonical = std::fs::canonicalize(path).ok()?;
    let m = std::fs::metadata(&canonical).ok()?;
    let ns = |secs: i64, nanos: i64| secs.checked_mul(1_000_000_000)?.checked_add(nanos);
    Some(FileKey {
        path: canonical.to_str()?.to_owned(),
        dev: m.dev(),
        ino: m.ino(),
        size: m.len(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec())?,
        ctime_ns: ns(m.ctime(), m.ctime_nsec())?,
    })
}

/// Without inode and ctime the key would be too weak: always hash.
#[cfg(not(unix))]
fn file_key(_: &Path) -> Option<FileKey> {
    None
}

/// True when no file changed within `window` of now (a timestamp in the future counts as recent).
fn settled(keys: &[FileKey], window: Duration) -> bool {
    let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) else { return false };
    let Ok(limit) = i64::try_from(now.saturating_sub(window).as_nanos()) else { return false };
    keys.iter().all(|k| k.mtime_ns.max(k.ctime_ns) <= limit)
}

/// Candidate sidecars, preferred first: next to the first file, then in the cache directory under a
/// name derived from the canonical paths.
fn sidecar_paths(files: &[PathBuf], keys: &[FileKey], policy: &Policy) -> Vec<PathBuf> {
    let Some(first) = files.first() else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(name) = first.file_name() {
        let mut name = name.to_owned();
        name.push(SIDECAR_SUFFIX);
        out.push(first.with_file_name(name));
    }
    if let Some(dir) = &policy.cache_dir {
        let mut h = sha2::Sha256::new();
        for k in keys {
            h.update(k.path.as_bytes());
            h.update([0]);
        }
        out.push(dir.join(format!("{}.json", &hex::encode(h.finalize())[..32])));
    }
    out
}

/// The remembered digest, if `path` is a well-formed sidecar for exactly these keys.
fn read_sidecar(path: &Path, keys: &[FileKey]) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let s: Sidecar = serde_json::from_str(&text).ok()?;
    let well_formed =
        s.sha256.len() == 64 && s.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (s.version == SIDECAR_VERSION && s.files == keys && well_formed).then_some(s.sha256)
}

/// Writes the first sidecar location that accepts it; failing everywhere only costs a hash next time.
fn write_sidecar(paths: &[PathBuf], sidecar: &Sidecar) {
    let Ok(json) = serde_json::to_string_pretty(sidecar) else { return };
    for path in paths {
        match write_atomically(path, json.as_bytes()) {
            Ok(()) => return,
            Err(e) => tracing::debug!("cannot write checksum sidecar {}: {e}", path.display()),
        }
    }
}

/// Temp file in the same directory, then rename: readers see the old sidecar or the new one, whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".esmdb-sha256-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.write_all(b"\n")?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cache: &Path) -> Policy {
        Policy { racy_window: Duration::ZERO, cache_dir: Some(cache.to_path_buf()) }
    }

    /// What the checksum must always equal: a direct SHA-256 of the bytes.
    fn direct(bytes: &[u8]) -> String {
        hex::encode(&sha2::Sha256::digest(bytes)[..8])
    }

    fn sidecar_of(file: &Path) -> PathBuf {
        PathBuf::from(format!("{}{SIDECAR_SUFFIX}", file.display()))
    }

    /// Replaces the remembered digest, leaving the keys as they are.
    fn tamper(sidecar: &Path) {
        let mut s: Sidecar = serde_json::from_str(&std::fs::read_to_string(sidecar).unwrap()).unwrap();
        s.sha256 = "0".repeat(64);
        std::fs::write(sidecar, serde_json::to_string(&s).unwrap()).unwrap();
    }

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    #[test]
    fn second_checksum_comes_from_the_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("model.safetensors");
        let data = bytes(3 << 20, 1);
        std::fs::write(&f, &data).unwrap();
        let p = policy(&dir.path().join("cache"));
        let first = checksum_with(std::slice::from_ref(&f), &p).unwrap();
        assert_eq!(first, (direct(&data), Source::Hashed));
        assert!(sidecar_of(&f).is_file());
        let second = checksum_with(std::slice::from_ref(&f), &p).unwrap();
        assert_eq!(second, (direct(&data), Source::Sidecar));
        assert!(!dir.path().join("cache").exists(), "the fallback is only used when needed");
    }

    #[test]
    fn sidecar_is_trusted_until_size_mtime_or_ctime_change() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.pt");
        let data = bytes(1 << 20, 2);
        std::fs::write(&f, &data).unwrap();
        let p = policy(&dir.path().join("cache"));
        let files = [f.clone()];
        checksum_with(&files, &p).unwrap();

        // A tampered digest under unchanged keys is returned as is: proof that the sidecar is read.
        tamper(&sidecar_of(&f));
        assert_eq!(checksum_with(&files, &p).unwrap(), ("0".repeat(16), Source::Sidecar));

        // A new mtime (same bytes, same size) invalidates it.
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        let mtime = file.metadata().unwrap().modified().unwrap();
        file.set_modified(mtime - Duration::from_secs(1)).unwrap();
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&data), Source::Hashed));

        // A new size invalidates it, even with the mtime put back.
        tamper(&sidecar_of(&f));
        let longer = [data.as_slice(), b"x"].concat();
        std::fs::write(&f, &longer).unwrap();
        std::fs::File::options().write(true).open(&f).unwrap().set_modified(mtime).unwrap();
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&longer), Source::Hashed));

        // Same size, mtime restored, new bytes: the ctime still differs. Wait out the coarse
        // timestamp clock first, or both writes could share one ctime tick (the racy case).
        tamper(&sidecar_of(&f));
        std::thread::sleep(Duration::from_millis(50));
        let other = bytes(longer.len(), 3);
        std::fs::write(&f, &other).unwrap();
        std::fs::File::options().write(true).open(&f).unwrap().set_modified(mtime).unwrap();
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&other), Source::Hashed));
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&other), Source::Sidecar));
    }

    #[test]
    fn corrupt_sidecar_means_hashing_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.safetensors");
        let data = bytes(100_000, 4);
        std::fs::write(&f, &data).unwrap();
        let p = policy(&dir.path().join("cache"));
        let files = [f.clone()];
        checksum_with(&files, &p).unwrap();
        let sidecar = sidecar_of(&f);
        let good = std::fs::read_to_string(&sidecar).unwrap();
        for bad in [
            String::new(),
            "{not json".into(),
            good.replace(&direct(&data), "not-hex!-"),
            good.replace("\"version\": 1", "\"version\": 99"),
            good[..good.len() / 2].into(),
        ] {
            std::fs::write(&sidecar, &bad).unwrap();
            assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&data), Source::Hashed), "{bad}");
            // ... and the sidecar was rewritten whole.
            assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&data), Source::Sidecar));
        }
    }

    #[test]
    fn unwritable_sidecar_falls_back_to_the_cache_dir() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.pt");
        let data = bytes(10_000, 5);
        std::fs::write(&f, &data).unwrap();
        // A directory where the sidecar would go: neither readable as one nor replaceable by rename
        // (works as root too, unlike a read-only directory).
        std::fs::create_dir(sidecar_of(&f)).unwrap();
        let cache = dir.path().join("cache");
        let p = policy(&cache);
        let files = [f.clone()];
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&data), Source::Hashed));
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&data), Source::Sidecar));
        // Nowhere to write at all: still the right answer, every time.
        let nowhere = Policy { racy_window: Duration::ZERO, cache_dir: None };
        let g = dir.path().join("g.pt");
        std::fs::write(&g, &data).unwrap();
        std::fs::create_dir(sidecar_of(&g)).unwrap();
        for _ in 0..2 {
            assert_eq!(checksum_with(std::slice::from_ref(&g), &nowhere).unwrap(), (direct(&data), Source::Hashed));
        }
    }

    #[test]
    fn recently_changed_files_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.pt");
        std::fs::write(&f, b"fresh").unwrap();
        let p = Policy { racy_window: Duration::from_secs(3600), cache_dir: None };
        for _ in 0..2 {
            assert_eq!(checksum_with(std::slice::from_ref(&f), &p).unwrap(), (direct(b"fresh"), Source::Hashed));
        }
        assert!(!sidecar_of(&f).exists());
    }

    #[test]
    fn shards_hash_as_one_stream_and_any_shard_invalidates() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("model-1.safetensors"), dir.path().join("model-2.safetensors"));
        let (da, db) = (bytes(5000, 6), bytes(7000, 7));
        std::fs::write(&a, &da).unwrap();
        std::fs::write(&b, &db).unwrap();
        let p = policy(&dir.path().join("cache"));
        let files = [a.clone(), b.clone()];
        let both = [da.as_slice(), db.as_slice()].concat();
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&both), Source::Hashed));
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&both), Source::Sidecar));
        // The same first file alone is a different key set.
        assert_eq!(checksum_with(&files[..1], &p).unwrap(), (direct(&da), Source::Hashed));
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&both), Source::Hashed));
        std::fs::write(&b, bytes(7001, 8)).unwrap();
        let both = [da.as_slice(), &bytes(7001, 8)].concat();
        assert_eq!(checksum_with(&files, &p).unwrap(), (direct(&both), Source::Hashed));
    }
}
