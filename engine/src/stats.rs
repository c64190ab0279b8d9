//! Counters of engine work, for progress reports and for tests that assert what was (not) computed.
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counters of engine work.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Models loaded into the registry (each once per process and key).
    pub models_loaded: AtomicUsize,
    /// Sequences passed through a model (one forward pass each).
    pub forward_passes: AtomicUsize,
    /// Sequences whose per-token output was computed (`esm2_embed` without pooling).
    pub per_token_sequences: AtomicUsize,
    /// Pooled vectors found in the store's cache.
    pub cache_hits: AtomicUsize,
    /// Zero-shot log-probability tables found in the store's cache.
    pub score_tables_cached: AtomicUsize,
}

/// A snapshot of [`EngineStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`EngineStats::models_loaded`].
    pub models_loaded: usize,
    /// See [`EngineStats::forward_passes`].
    pub forward_passes: usize,
    /// See [`EngineStats::per_token_sequences`].
    pub per_token_sequences: usize,
    /// See [`EngineStats::cache_hits`].
    pub cache_hits: usize,
    /// See [`EngineStats::score_tables_cached`].
    pub score_tables_cached: usize,
}

/// The process-wide engine counters.
pub fn stats() -> &'static EngineStats {
    static STATS: OnceLock<EngineStats> = OnceLock::new();
    STATS.get_or_init(EngineStats::default)
}

impl EngineStats {
    /// Current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            models_loaded: self.models_loaded.load(Ordering::Relaxed),
            forward_passes: self.forward_passes.load(Ordering::Relaxed),
            per_token_sequences: self.per_token_sequences.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            score_tables_cached: self.score_tables_cached.load(Ordering::Relaxed),
        }
    }
}
