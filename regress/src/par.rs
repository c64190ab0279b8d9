//! A tiny work-sharing parallel map over `0..n` on scoped threads (no thread pool dependency):
//! the work items (CV folds) are few and coarse.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Number of worker threads for `requested` (0 = all available cores).
pub(crate) fn threads(requested: usize) -> usize {
    if requested > 0 { requested } else { std::thread::available_parallelism().map_or(1, |n| n.get()) }
}

/// `(0..n).map(f).collect()`, items handed out dynamically to at most `n_threads` threads.
pub(crate) fn map<T: Send>(n: usize, n_threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let workers = n_threads.min(n).max(1);
    if workers == 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let v = f(i);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(v);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().ok().flatten())
        .collect::<Option<Vec<T>>>()
        .unwrap_or_else(|| unreachable!("every work item is computed exactly once"))
}

/// Calls `f` on every item, items handed out dynamically (in order) to at most `n_threads`
/// threads; for work that writes through `&mut` parts of a larger buffer.
pub(crate) fn for_each<I: Send>(items: Vec<I>, n_threads: usize, f: impl Fn(I) + Sync) {
    let slots: Vec<Mutex<Option<I>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    map(slots.len(), n_threads, |i| {
        if let Some(item) = slots[i].lock().ok().and_then(|mut slot| slot.take()) {
            f(item);
        }
    });
}
