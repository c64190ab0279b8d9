//! Zero-shot scores of variants from a model's masked-LM head, through the store's `log_probs`
//! cache: what SQL's `esm_score`, `esmdb reproduce --zero-shot` and the notebooks share.
//!
//! Each variant's wild type is its sequence with its mutations reverted (`esmdb-seq`); the distinct
//! wild types of a call are looked up in the cache, the missing ones computed (one forward pass for
//! `wt-marginals`, one per position for `masked-marginals`) and committed, and every score is then
//! a sum of lookups. A dataset has one wild type, so scoring it costs one table, once.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use esmdb_model::{LogProbs, ScoreMethod};
use esmdb_store::{Store, TokenTable};

use crate::error::{Error, Result};
use crate::registry::Model;
use crate::stats::stats;

/// One variant to score: its sequence (normalized) and its mutant in the paper's notation.
#[derive(Debug, Clone, Copy)]
pub struct Variant<'a> {
    /// The variant's sequence.
    pub sequence: &'a str,
    /// `Q2C`, `Q2C:A5G`; empty or `WT` for the wild type itself (score 0).
    pub mutant: &'a str,
}

/// What a scoring call did, beyond the scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoreReport {
    /// Distinct wild types among the variants.
    pub wild_types: usize,
    /// Of those, found in the cache.
    pub cached: usize,
    /// Forward passes run (one sequence each).
    pub forward_passes: usize,
}

/// Variants parsed and checked, ready to score: each one's wild type (by hash) and mutations.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Per variant: its wild type's hash and mutations; `None` for the wild type itself (score 0).
    variants: Vec<Option<(String, Vec<esmdb_store::Mutation>)>>,
    /// Distinct wild types: hash → sequence.
    wild_types: HashMap<String, String>,
    /// Names of the variants, for errors found while scoring.
    labels: Vec<String>,
}

impl Prepared {
    /// Variants.
    pub fn len(&self) -> usize {
        self.variants.len()
    }

    /// True when there is no variant.
    pub fn is_empty(&self) -> bool {
        self.variants.is_empty()
    }

    /// Distinct wild types among the variants.
    pub fn wild_types(&self) -> usize {
        self.wild_types.len()
    }
}

/// Parses each variant's mutant and reverts it to its wild type, before any model work: a mutant
/// that does not parse or does not fit its sequence is an error naming the variant (`label(i)`:
/// `row 12`, an id).
pub fn prepare(variants: &[Variant<'_>], label: &dyn Fn(usize) -> String) -> Result<Prepared> {
    let mut prepared = Prepared::default();
    for (i, v) in variants.iter().enumerate() {
        let bad = |e: esmdb_store::MutantError| Error::Variant { variant: label(i), message: e.to_string() };
        let mutations = esmdb_store::parse_mutant(v.mutant).map_err(bad)?;
        prepared.labels.push(label(i));
        if mutations.is_empty() {
            prepared.variants.push(None);
            continue;
        }
        let wt = esmdb_store::wild_type(v.sequence, v.mutant, &mutations).map_err(bad)?;
        // A reverted residue is the notation's letter (`J2C`): the wild type must pass the same input
        // policy as any sequence, or the model would refuse it later without naming the variant.
        esmdb_store::normalize(&wt).map_err(|refusal| Error::Variant {
            variant: label(i),
            message: format!("mutant `{}`: its wild type {}", v.mutant, refusal),
        })?;
        let hash = esmdb_store::seq_hash(&wt);
        prepared.wild_types.entry(hash.clone()).or_insert(wt);
        prepared.variants.push(Some((hash, mutations)));
    }
    Ok(prepared)
}

/// Scores `variants` with `model` by `method` ([`prepare`], then [`score_prepared`]).
pub async fn score_variants(
    store: &Store,
    model: &Arc<Model>,
    method: ScoreMethod,
    batch_tokens: usize,
    variants: &[Variant<'_>],
    label: &dyn Fn(usize) -> String,
) -> Result<(Vec<f64>, ScoreReport)> {
    score_prepared(store, model, method, batch_tokens, &prepare(variants, label)?).await
}

/// Scores prepared variants: the wild types' tables from the cache or computed (and stored), then a
/// sum of lookups per variant. Runs forward passes on the calling thread: call it where
/// [`crate::fill::fill`] runs (the engine thread, or a CLI's blocking context).
pub async fn score_prepared(
    store: &Store,
    model: &Arc<Model>,
    method: ScoreMethod,
    batch_tokens: usize,
    prepared: &Prepared,
) -> Result<(Vec<f64>, ScoreReport)> {
    let (tables, mut report) = log_prob_tables(store, model, method, batch_tokens, &prepared.wild_types).await?;
    report.wild_types = prepared.wild_types.len();
    let mut scores = Vec::with_capacity(prepared.variants.len());
    for (p, label) in prepared.variants.iter().zip(&prepared.labels) {
        let Some((hash, mutations)) = p else {
            scores.push(0.0);
            continue;
        };
        let table = &tables[hash];
        let mut score = 0.0;
        for m in mutations {
            score += table
                .log_odds(m.position, m.wt, m.mt)
                .map_err(|e| Error::Variant { variant: label.clone(), message: format!("`{m}`: {e}") })?;
        }
        scores.push(score);
    }
    Ok((scores, report))
}

/// The tables of `wild_types` (hash → sequence): cached ones read, the others computed and stored.
async fn log_prob_tables(
    store: &Store,
    model: &Arc<Model>,
    method: ScoreMethod,
    batch_tokens: usize,
    wild_types: &HashMap<String, String>,
) -> Result<(HashMap<String, LogProbs>, ScoreReport)> {
    let store_error = |source| Error::Store { model: model.id.clone(), source: Box::new(source) };
    let hashes: Vec<String> = wild_types.keys().cloned().collect();
    let found = store.lookup_log_probs(&model.id, method.name(), &hashes).await.map_err(store_error)?;
    let mut report = ScoreReport { cached: found.len(), ..Default::default() };
    let mut tables = HashMap::with_capacity(hashes.len());
    for (hash, t) in found {
        let lp = LogProbs::new(t.length, t.width, t.values).map_err(|e| Error::Engine {
            model: model.id.clone(),
            message: format!("cached log-probabilities of {hash} ({method}): {e}"),
        })?;
        tables.insert(hash, lp);
    }
    let mut computed = Vec::new();
    for hash in &hashes {
        if tables.contains_key(hash) {
            continue;
        }
        let lp = model.log_probs(&wild_types[hash], method, batch_tokens)?;
        report.forward_passes += method.forward_passes(lp.length);
        computed.push((hash.clone(), TokenTable { length: lp.length, width: lp.width, values: lp.values.clone() }));
        tables.insert(hash.clone(), lp);
    }
    if !computed.is_empty() {
        store.insert_log_probs(&model.id, method.name(), &computed).await.map_err(store_error)?;
    }
    stats().score_tables_cached.fetch_add(report.cached, Ordering::Relaxed);
    Ok((tables, report))
}
