//! Finding and calling the kernel library, `libesmdb_kernel_lib.so`, which the workspace build makes from
//! `kernel-lib/` (`cargo test --workspace --no-run`, run by `scripts/notebook` and `scripts/test`).
//!
//! Where it is looked for:
//! 1. the path given to [`crate::use_library`], else `$ESMDB_KERNEL_LIB`, if it exists;
//! 2. otherwise the most recently built of `$CARGO_TARGET_DIR/debug/` and `debug/deps/` (when that variable is
//!    set) and `target/debug/` and `target/debug/deps/` of the checkout this crate was compiled from. Newest,
//!    not first: `cargo test` (what `scripts/notebook` runs) rebuilds only the copy in `deps/`, so a copy an
//!    earlier `cargo build` left in `debug/` would otherwise shadow every later build.
//!
//! Every cell of a notebook is its own shared library with its own copy of this crate, but they all reach one
//! copy of the kernel library: the dynamic loader opens a path once per process. So a store opened in one cell
//! (a handle into the library) is usable in the next, and a model is loaded once per kernel, not once per cell.
#![allow(unsafe_code)] // The one place that loads a library and calls through its C ABI.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::wire::{self, Buffer, Value};

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type CallFn = unsafe extern "C" fn(*const u8, usize) -> Buffer;
type FreeFn = unsafe extern "C" fn(Buffer);

struct Library {
    path: PathBuf,
    call: CallFn,
    free: FreeFn,
    // Kept open for the life of the process (the function pointers above point into it).
    _lib: libloading::Library,
}

static LIBRARY: OnceLock<std::result::Result<Library, String>> = OnceLock::new();
static CHOSEN: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Uses the library at `path` instead of searching (before the first call only).
pub(crate) fn choose(path: &Path) -> Result<()> {
    if let Some(Ok(lib)) = LIBRARY.get() {
        if lib.path == path {
            return Ok(());
        }
        return Err(Error::msg(format!(
            "the kernel library {} is already loaded; choose another before the first esmdb call",
            lib.path.display()
        )));
    }
    *CHOSEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(path.to_path_buf());
    Ok(())
}

/// The places searched: the explicit choices, then the build outputs.
pub(crate) fn candidates() -> Vec<PathBuf> {
    let mut out = explicit();
    out.extend(built());
    out
}

/// The library chosen by [`crate::use_library`] or `$ESMDB_KERNEL_LIB`, in that order.
fn explicit() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = CHOSEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone() {
        out.push(p);
    }
    if let Some(p) = std::env::var_os("ESMDB_KERNEL_LIB").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(p));
    }
    out
}

/// Where the workspace build leaves the library.
fn built() -> Vec<PathBuf> {
    let file = format!("{}{}{}", std::env::consts::DLL_PREFIX, wire::LIBRARY_STEM, std::env::consts::DLL_SUFFIX);
    let mut out = Vec::new();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    let target = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    for dir in target.into_iter().chain([checkout.join("target")]) {
        // `cargo build` copies the library up to debug/; `cargo test` (what scripts/notebook runs, to share the
        // tests' compiled dependencies) leaves it in debug/deps/.
        out.push(dir.join("debug").join(&file));
        out.push(dir.join("debug").join("deps").join(&file));
    }
    out
}

/// The first existing explicit choice, else the newest existing build output.
fn pick() -> Option<PathBuf> {
    if let Some(p) = explicit().into_iter().find(|p| p.is_file()) {
        return Some(p);
    }
    newest(built())
}

/// The most recently modified of the existing `paths`.
fn newest(paths: Vec<PathBuf>) -> Option<PathBuf> {
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    paths.into_iter().filter(|p| p.is_file()).max_by_key(modified)
}

fn load() -> std::result::Result<Library, String> {
    let tried = candidates();
    let Some(path) = pick() else {
        let list: Vec<String> = tried.iter().map(|p| format!("  {}", p.display())).collect();
        return Err(format!(
            "the esmdb kernel library is not built; looked for\n{}\nBuild it with `scripts/notebook` (which builds, \
             then starts JupyterLab) or `cargo test --workspace --no-run` in the checkout, or set ESMDB_KERNEL_LIB \
             to the file.",
            list.join("\n")
        ));
    };
    let fail = |what: &str, e: libloading::Error| format!("{what} {}: {e}", path.display());
    // SAFETY: loading runs the library's initialisers; it is esmdb's own kernel library (found where the build
    // puts it), whose initialisers are those of Rust's std and its dependencies.
    let lib = unsafe { libloading::Library::new(&path) }.map_err(|e| fail("cannot load the kernel library", e))?;
    // SAFETY: the symbols are declared with exactly these signatures in kernel-lib/src/abi.rs; the version check
    // below refuses a library built for another contract before any other call.
    let (version, call, free) = unsafe {
        let version =
            *lib.get::<AbiVersionFn>(wire::SYMBOL_ABI_VERSION).map_err(|e| fail("not a kernel library:", e))?;
        let call = *lib.get::<CallFn>(wire::SYMBOL_CALL).map_err(|e| fail("not a kernel library:", e))?;
        let free = *lib.get::<FreeFn>(wire::SYMBOL_FREE).map_err(|e| fail("not a kernel library:", e))?;
        (version(), call, free)
    };
    if version != wire::ABI_VERSION {
        return Err(format!(
            "the kernel library {} speaks version {version} of the notebook ABI, this crate version {}: rebuild it \
             (`cargo test --workspace --no-run`) from the same checkout",
            path.display(),
            wire::ABI_VERSION
        ));
    }
    Ok(Library { path: path.clone(), call, free, _lib: lib })
}

/// The loaded library's file.
pub(crate) fn path() -> Result<PathBuf> {
    library().map(|l| l.path.clone())
}

fn library() -> Result<&'static Library> {
    LIBRARY.get_or_init(load).as_ref().map_err(|e| Error::msg(e.clone()))
}

/// Calls `op` with `args`; a library-side failure comes back as an [`Error`] with its whole message.
pub(crate) fn call(op: &str, args: Vec<Value>) -> Result<Value> {
    let lib = library()?;
    let mut request = vec![Value::Str(op.to_owned())];
    request.extend(args);
    let bytes = Value::List(request).encode();
    // SAFETY: `call` reads exactly `bytes.len()` bytes from `bytes` and returns a buffer it allocated, which we
    // read while it is alive and then hand back to the same library's `free`, once.
    let reply = unsafe {
        let buffer = (lib.call)(bytes.as_ptr(), bytes.len());
        let decoded = if buffer.ptr.is_null() {
            Err(wire::WireError("the library returned no reply".into()))
        } else {
            Value::decode(std::slice::from_raw_parts(buffer.ptr, buffer.len))
        };
        (lib.free)(buffer);
        decoded
    };
    match reply {
        Ok(Value::Error(message)) => Err(Error::msg(message)),
        Ok(value) => Ok(value),
        Err(e) => Err(Error::msg(format!("{op}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_newest_build_wins_over_a_stale_copy() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("esmdb-kernel-ext-newest-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let (stale, fresh, missing) = (dir.join("debug.so"), dir.join("deps.so"), dir.join("none.so"));
        let now = SystemTime::now();
        for (path, age) in [(&stale, 3600), (&fresh, 10)] {
            std::fs::File::create(path)?.set_modified(now - Duration::from_secs(age))?;
        }
        let picked = newest(vec![stale.clone(), fresh.clone(), missing.clone()]);
        let alone = newest(vec![missing.clone(), stale.clone()]);
        let none = newest(vec![missing]);
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(picked, Some(fresh));
        assert_eq!(alone, Some(stale));
        assert_eq!(none, None);
        Ok(())
    }
}
