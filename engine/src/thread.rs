//! Where model work runs: the process's one engine thread for forward passes, plain scoped threads
//! for loading.
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Runs `f` on the process's one engine thread ("esmdb-engine") and waits for its result without
/// blocking the async runtime. Forward passes (and the cache fills around them) run here; a panic
/// in `f` becomes an [`Error::Engine`] naming `model`.
///
/// Why one long-lived thread rather than tokio's blocking pool: libtorch allocates from the calling
/// thread's glibc malloc arena, and forward passes hopping between pool threads left an arena per
/// thread holding freed activations. A 5,000-variant `lasso_cv_eval(compress_mean(esm2_embed(…)))`
/// query peaked at 2.2 GiB that way and at 1.0 GiB with a single arena. Running the passes one at a
/// time costs nothing: each already uses every core through libtorch's own thread pool.
pub async fn on_engine_thread<T: Send + 'static>(model: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    type Job = Box<dyn FnOnce() + Send>;
    // `Sender` is `Sync`: every caller sends on the one channel without a lock.
    static ENGINE: OnceLock<std::sync::mpsc::Sender<Job>> = OnceLock::new();
    let sender = ENGINE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        // If the thread cannot be spawned, `rx` is dropped and every send below reports it.
        let _ = std::thread::Builder::new().name("esmdb-engine".into()).spawn(move || {
            for job in rx {
                job();
            }
        });
        tx
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    let gone = || Error::Engine { model: model.to_owned(), message: "the esmdb-engine thread is not running".into() };
    sender.send(job).map_err(|_| gone())?;
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => Err(panicked(model, "embedding", panic.as_ref())),
        Err(_) => Err(gone()),
    }
}

/// Runs `f` on a plain thread and waits for it: model resolution may download from the hub with a
/// blocking HTTP client, which must not run (or be dropped) on a thread inside a tokio runtime. A
/// panic there (a malformed checkpoint the loader did not foresee) becomes an error naming `model`
/// instead of unwinding through the caller.
pub fn off_runtime<T: Send>(model: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| s.spawn(f).join()).map_err(|panic| panicked(model, "loading", panic.as_ref()))
}

fn panicked(model: &str, during: &str, panic: &(dyn std::any::Any + Send)) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::Engine { model: model.to_owned(), message: format!("{during} panicked: {what}") }
}
