//! The content-addressed embedding cache.
//!
//! A vector is stored once per (model id, layer, pooling, seq_hash), in the table for its width
//! (`embeddings_d{dim}`). The model id carries a checksum of the weights, so two checkpoints that share
//! a name never share rows. Embedding computes only misses and commits batch by batch, so an
//! interrupted run keeps its finished batches and the next run resumes where it stopped.
//!
//! Each batch is committed as a merge on the key (see [`crate::keyed`]), not an append: writers
//! running at once — notebooks, the CLI, executors — may compute the same vector, but only the
//! first commit of a key adds a row, so every key is stored exactly once.
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use arrow_array::{Array, FixedSizeListArray, Float32Array, StringArray};
use lance::deps::datafusion::prelude::{Expr, col, lit};

use crate::error::{BoxError, Error, Result};
use crate::schema::{self, VARIANTS};
use crate::store::{Store, sql_literal};

/// Pooled outputs that the cache stores (per-token outputs are not cached).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pooling {
    /// Mean over residue positions (fair-esm extract.py `mean`).
    Mean,
    /// The `<cls>` vector (extract.py `bos`).
    Bos,
}

impl Pooling {
    /// `mean` or `bos`, as stored in the `pooling` column.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Bos => "bos",
        }
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pooling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mean" => Ok(Pooling::Mean),
            "bos" | "cls" => Ok(Pooling::Bos),
            other => Err(Error::Option(format!("pooling `{other}` cannot be cached; expected mean or bos"))),
        }
    }
}

/// One cached output: a layer (resolved to `0..=num_layers`) and a pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputKey {
    /// Layer index, 0 = embeddings, `num_layers` = after the final LayerNorm.
    pub layer: i32,
    /// Pooling.
    pub pooling: Pooling,
}

/// What the store needs from a protein language model. Implemented for ESM2 in the CLI
/// (`cli/src/embedder.rs`), and by counting mocks in tests; the store never depends on tch.
pub trait Embedder: Send + Sync {
    /// Stable identity: name plus a checksum of the weights (`esm2_t6_8M_UR50D@ab12…`).
    fn model_id(&self) -> &str;
    /// Vector width.
    fn dim(&self) -> usize;
    /// Number of transformer layers (for resolving negative layer indices).
    fn num_layers(&self) -> i32;
    /// `layer` as a cache key's layer (negative counts from the end), `None` when outside the model.
    /// The model owns the convention (`esmdb_model::resolve_layer`); the store only asks.
    fn resolve_layer(&self, layer: i32) -> Option<i32>;
    /// Embeds `sequences` (normalized) once, returning one flat row-major `[sequences.len(), dim]`
    /// buffer per entry of `outputs`, in order.
    fn embed(&self, sequences: &[&str], outputs: &[OutputKey]) -> Result<Vec<Vec<f32>>, BoxError>;
}

/// How to fill the cache.
#[derive(Debug, Clone)]
pub struct EmbedParams {
    /// Layers (negative counts from the end: -1 = last) × poolings to compute. Default: last layer, mean.
    pub outputs: Vec<(i32, Pooling)>,
    /// Sequences per embedder call and per commit (default 256): the unit an interrupted run loses at most.
    pub batch_sequences: usize,
}

impl Default for EmbedParams {
    fn default() -> Self {
        EmbedParams { outputs: vec![(-1, Pooling::Mean)], batch_sequences: 256 }
    }
}

/// Progress of a cache fill, reported after planning and after each committed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedProgress {
    /// Distinct sequences requested.
    pub unique: usize,
    /// Of those, already fully cached.
    pub hits: usize,
    /// Sequences that need the model.
    pub misses: usize,
    /// Misses embedded and committed so far.
    pub embedded: usize,
}

/// What a cache fill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedReport {
    /// Rows requested (variants of the dataset, or input sequences).
    pub requested: usize,
    /// Distinct sequences among them.
    pub unique: usize,
    /// Distinct sequences already cached for every requested output.
    pub hits: usize,
    /// Sequences embedded by the model (one forward pass each).
    pub embedded: usize,
    /// Embedder calls (= commits to the cache).
    pub batches: usize,
    /// Vectors this run added to the cache.
    pub vectors_written: usize,
    /// Vectors this run computed but did not write, because a concurrent writer committed the same
    /// keys first (0 with a single writer).
    pub vectors_already_written: usize,
}

impl Store {
    /// Embeds every distinct sequence of `dataset` that is not yet cached for all requested outputs.
    pub async fn embed_dataset(
        &self,
        dataset: &str,
        embedder: &dyn Embedder,
        params: &EmbedParams,
        progress: &mut (dyn FnMut(EmbedProgress) + Send),
    ) -> Result<EmbedReport> {
        let batch = self.variants_columns(dataset, &["seq_hash", "sequence"]).await?;
        let seqs = schema::column::<StringArray>(&batch, VARIANTS, "sequence")?;
        let sequences: Vec<&str> = (0..batch.num_rows()).map(|i| seqs.value(i)).collect();
        self.embed_sequences(&sequences, embedder, params, progress).await
    }

    /// Embeds the cache misses among `sequences` (normalized; see [`esmdb_seq::normalize`]).
    pub async fn embed_sequences(
        &self,
        sequences: &[&str],
        embedder: &dyn Embedder,
        params: &EmbedParams,
        progress: &mut (dyn FnMut(EmbedProgress) + Send),
    ) -> Result<EmbedReport> {
        if params.batch_sequences == 0 {
            return Err(Error::Option("batch size must be positive".into()));
        }
        let outputs = resolve_outputs(embedder, &params.outputs)?;
        let model = embedder.model_id();
        let dim = embedder.dim();
        let mut unique: HashMap<String, &str> = HashMap::new();
        for s in sequences {
            unique.entry(esmdb_seq::seq_hash(s)).or_insert(s);
        }
        let asked: Vec<&str> = unique.keys().map(String::as_str).collect();
        let mut cached: Vec<HashSet<String>> = Vec::with_capacity(outputs.len());
        for key in &outputs {
            cached.push(self.cached_among(model, dim, *key, &asked).await?);
        }
        let mut misses: Vec<(&String, &str)> =
            unique.iter().filter(|(h, _)| cached.iter().any(|c| !c.contains(*h))).map(|(h, s)| (h, *s)).collect();
        // Similar lengths batch together (less padding); ties by hash for a deterministic order.
        misses.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| a.0.cmp(b.0)));
        let mut report = EmbedReport {
            requested: sequences.len(),
            unique: unique.len(),
            hits: unique.len() - misses.len(),
            ..Default::default()
        };
        let mut state = EmbedProgress { unique: report.unique, hits: report.hits, misses: misses.len(), embedded: 0 };
        progress(state);
        let table = schema::embeddings_table(dim);
        for chunk in misses.chunks(params.batch_sequences) {
            let seqs: Vec<&str> = chunk.iter().map(|(_, s)| *s).collect();
            let values = embedder
                .embed(&seqs, &outputs)
                .map_err(|source| Error::Embedder { model: model.to_owned(), source })?;
            check_output(model, &values, outputs.len(), seqs.len(), dim)?;
            let mut rows: Vec<(i32, &str, &str)> = Vec::new();
            let mut flat: Vec<f32> = Vec::new();
            for ((key, done), vectors) in outputs.iter().zip(&cached).zip(&values) {
                for (i, (hash, _)) in chunk.iter().enumerate() {
                    if !done.contains(*hash) {
                        rows.push((key.layer, key.pooling.name(), hash.as_str()));
                        flat.extend_from_slice(&vectors[i * dim..(i + 1) * dim]);
                    }
                }
            }
            let batch = schema::embeddings_batch(dim, model, &rows, &flat)?;
            let written = self.insert_new_keys(&table, &schema::EMBEDDINGS_KEY, batch).await?;
            let inserted = usize::try_from(written.inserted).unwrap_or(rows.len()).min(rows.len());
            report.batches += 1;
            report.embedded += seqs.len();
            report.vectors_written += inserted;
            report.vectors_already_written += rows.len() - inserted;
            state.embedded = report.embedded;
            progress(state);
        }
        Ok(report)
    }

    /// One vector per input sequence (in input order) for (`layer`, `pooling`): the cached ones are
    /// read, the misses embedded and committed in batches of `batch_sequences`, then read back.
    /// Reads O(sequences) rows of the cache through its key index, whatever the cache holds.
    /// `progress` hears the plan and every committed batch, as for [`Store::embed_sequences`].
    pub async fn get_or_embed(
        &self,
        sequences: &[&str],
        embedder: &dyn Embedder,
        layer: i32,
        pooling: Pooling,
        batch_sequences: usize,
        progress: &mut (dyn FnMut(EmbedProgress) + Send),
    ) -> Result<(Vec<Vec<f32>>, EmbedReport)> {
        let params = EmbedParams { outputs: vec![(layer, pooling)], batch_sequences };
        let key = resolve_outputs(embedder, &params.outputs)?[0];
        let (model, dim) = (embedder.model_id(), embedder.dim());
        let hashes: Vec<String> = sequences.iter().map(|s| esmdb_seq::seq_hash(s)).collect();
        let mut unique: HashMap<&str, &str> = HashMap::new();
        for (h, s) in hashes.iter().zip(sequences) {
            unique.entry(h.as_str()).or_insert(s);
        }
        let asked: Vec<&str> = unique.keys().copied().collect();
        let mut found = self.lookup(model, dim, key, &asked).await?;
        let misses: Vec<&str> = unique.iter().filter(|(h, _)| !found.contains_key(**h)).map(|(_, s)| *s).collect();
        let mut report = EmbedReport {
            requested: sequences.len(),
            unique: unique.len(),
            hits: unique.len() - misses.len(),
            ..Default::default()
        };
        if misses.is_empty() {
            progress(EmbedProgress { unique: report.unique, hits: report.hits, misses: 0, embedded: 0 });
        } else {
            let filled = self
                .embed_sequences(&misses, embedder, &params, &mut |p| {
                    // Hits of this fill are sequences another writer committed since the lookup.
                    progress(EmbedProgress { unique: report.unique, hits: report.hits + p.hits, ..p })
                })
                .await?;
            report.hits += filled.hits;
            report.embedded = filled.embedded;
            report.batches = filled.batches;
            report.vectors_written = filled.vectors_written;
            report.vectors_already_written = filled.vectors_already_written;
            let missed: Vec<&str> = unique.iter().filter(|(h, _)| !found.contains_key(**h)).map(|(h, _)| *h).collect();
            found.extend(self.lookup(model, dim, key, &missed).await?);
        }
        let vectors = hashes
            .iter()
            .map(|h| {
                found.get(h.as_str()).cloned().ok_or_else(|| Error::Schema {
                    table: schema::embeddings_table(dim),
                    message: format!("vector for {h} missing right after it was written"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((vectors, report))
    }

    /// Every seq_hash cached for (model, output): reads the whole key's rows (for tools and
    /// tests; lookups of given sequences use [`Store::lookup`], which reads only theirs).
    pub async fn cached_hashes(&self, model_id: &str, dim: usize, key: OutputKey) -> Result<HashSet<String>> {
        let table = schema::embeddings_table(dim);
        let filter = key_filter(model_id, key);
        let Some(batch) = self.scan(&table, Some(&filter), Some(&["seq_hash"]), None).await? else {
            return Ok(HashSet::new());
        };
        let hashes = schema::column::<StringArray>(&batch, &table, "seq_hash")?;
        Ok(hashes.iter().flatten().map(str::to_owned).collect())
    }

    /// Which of `hashes` are cached for (model, output), read through the key index: O(hashes)
    /// rows of the key column, no vectors.
    pub async fn cached_among(
        &self,
        model_id: &str,
        dim: usize,
        key: OutputKey,
        hashes: &[&str],
    ) -> Result<HashSet<String>> {
        let table = schema::embeddings_table(dim);
        let mut out = HashSet::new();
        self.scan_keys(&table, key_expr(model_id, key), hashes, &["seq_hash"], &mut |batch| {
            let found = schema::column::<StringArray>(batch, &table, "seq_hash")?;
            out.extend(found.iter().flatten().map(str::to_owned));
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Cached vectors for (model, output) among `hashes`, read through the key index (O(hashes)
    /// rows); absent hashes are absent from the map.
    pub async fn lookup(
        &self,
        model_id: &str,
        dim: usize,
        key: OutputKey,
        hashes: &[&str],
    ) -> Result<HashMap<String, Vec<f32>>> {
        let table = schema::embeddings_table(dim);
        let mut out: HashMap<String, Vec<f32>> = HashMap::new();
        self.scan_keys(&table, key_expr(model_id, key), hashes, &["seq_hash", "vector"], &mut |batch| {
            let seq_hashes = schema::column::<StringArray>(batch, &table, "seq_hash")?;
            let vectors = schema::column::<FixedSizeListArray>(batch, &table, "vector")?;
            let values = vectors
                .values()
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or_else(|| Error::Schema { table: table.clone(), message: "vector is not Float32".into() })?;
            if vectors.value_length() as usize != dim {
                return Err(Error::Schema {
                    table: table.clone(),
                    message: format!("vectors are {} wide, not {dim}", vectors.value_length()),
                });
            }
            for i in 0..batch.num_rows() {
                let start = vectors.value_offset(i) as usize;
                out.entry(seq_hashes.value(i).to_owned())
                    .or_insert_with(|| values.values()[start..start + dim].to_vec());
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn variants_columns(&self, dataset: &str, columns: &[&str]) -> Result<arrow_array::RecordBatch> {
        let filter = format!("dataset = {}", sql_literal(dataset));
        match self.scan(VARIANTS, Some(&filter), Some(columns), None).await? {
            Some(batch) if batch.num_rows() > 0 => Ok(batch),
            _ => Err(self.unknown_dataset(dataset).await),
        }
    }
}

fn key_filter(model_id: &str, key: OutputKey) -> String {
    format!(
        "model_id = {} AND layer = {} AND pooling = {}",
        sql_literal(model_id),
        key.layer,
        sql_literal(key.pooling.name())
    )
}

/// [`key_filter`] as an expression.
fn key_expr(model_id: &str, key: OutputKey) -> Expr {
    col("model_id")
        .eq(lit(model_id))
        .and(col("layer").eq(lit(key.layer)))
        .and(col("pooling").eq(lit(key.pooling.name())))
}

/// Resolves negative layers, checks ranges, removes duplicates (keeping order).
pub fn resolve_outputs(embedder: &dyn Embedder, outputs: &[(i32, Pooling)]) -> Result<Vec<OutputKey>> {
    let n = embedder.num_layers();
    let mut keys: Vec<OutputKey> = Vec::new();
    for &(layer, pooling) in outputs {
        let Some(resolved) = embedder.resolve_layer(layer) else {
            return Err(Error::Option(format!(
                "layer {layer} out of range for a {n}-layer model (0..={n} or -1..=-{})",
                n + 1
            )));
        };
        let key = OutputKey { layer: resolved, pooling };
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(Error::Option("no outputs requested".into()));
    }
    Ok(keys)
}

fn check_output(model: &str, values: &[Vec<f32>], outputs: usize, n: usize, dim: usize) -> Result<()> {
    let ok = values.len() == outputs && values.iter().all(|v| v.len() == n * dim);
    if ok {
        return Ok(());
    }
    let got: Vec<usize> = values.iter().map(Vec::len).collect();
    Err(Error::Embedder {
        model: model.to_owned(),
        source: format!("expected {outputs} outputs of {n}×{dim} floats, got lengths {got:?}").into(),
    })
}
