//! Progress of embedding work inside queries, for a front end to show (the CLI draws a bar on
//! stderr). Functions report to a process-wide sink because they carry no live handles.
use std::sync::{Arc, OnceLock, RwLock};

/// One step of an embedding call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedEvent {
    /// Model id.
    pub model: String,
    /// Distinct sequences in this call.
    pub unique: usize,
    /// Of those, already cached.
    pub hits: usize,
    /// Sequences that need the model.
    pub misses: usize,
    /// Misses embedded so far in this call.
    pub embedded: usize,
    /// Residues of this call's distinct sequences (what the model reads for the misses, and what
    /// the cache saved for the hits).
    pub residues: usize,
}

/// Receives [`EmbedEvent`]s.
pub trait ProgressSink: Send + Sync {
    /// Called after planning a call and after each committed batch.
    fn embedding(&self, event: &EmbedEvent);
}

fn sink() -> &'static RwLock<Option<Arc<dyn ProgressSink>>> {
    static SINK: OnceLock<RwLock<Option<Arc<dyn ProgressSink>>>> = OnceLock::new();
    SINK.get_or_init(|| RwLock::new(None))
}

/// Installs (or with `None` removes) the process-wide progress sink.
pub fn set_progress_sink(s: Option<Arc<dyn ProgressSink>>) {
    if let Ok(mut g) = sink().write() {
        *g = s;
    }
}

pub(crate) fn report(event: &EmbedEvent) {
    if let Ok(g) = sink().read()
        && let Some(s) = g.as_ref()
    {
        s.embedding(event);
    }
}
