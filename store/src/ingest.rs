//! Ingest: validated records into `variants` as one commit, then the dataset's row in `datasets`.
//!
//! Idempotent by id: rows already stored with the same sequence and target are skipped, so ingesting
//! a file twice adds nothing, and a crash between the two commits is repaired by re-running (the
//! second run finds every variant present and only rewrites the `datasets` row).
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Float64Array, StringArray};
use lance::dataset::{MergeInsertBuilder, WhenMatched, WhenNotMatched};

use crate::error::{Error, Result};
use crate::input::{self, ReadParams, VariantRecord};
use crate::schema::{self, DATASETS, DatasetInfo, VARIANTS};
use crate::store::{Store, check_dataset_name, sql_literal};

/// How to ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestParams {
    /// How to read the input files.
    pub read: ReadParams,
    /// Overwrite stored variants whose sequence or target differ (default false: that is an error).
    pub replace: bool,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Dataset name.
    pub dataset: String,
    /// Records read from the input.
    pub input_rows: usize,
    /// New variants written.
    pub added: usize,
    /// Existing variants overwritten (`--replace`).
    pub replaced: usize,
    /// Variants already stored identically.
    pub unchanged: usize,
    /// Variants of the dataset after the ingest.
    pub total_rows: usize,
    /// The `variants` version written, or `None` when nothing needed writing.
    pub version: Option<u64>,
}

impl Store {
    /// Reads `files`, validates everything, and adds the new variants of `dataset` in one commit.
    /// On any error nothing is written.
    pub async fn ingest(&self, dataset: &str, files: &[PathBuf], params: &IngestParams) -> Result<IngestReport> {
        check_dataset_name(dataset)?;
        let records = input::read(files, &params.read)?;
        let sources = files
            .iter()
            .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()).to_string_lossy().into_owned())
            .collect();
        self.ingest_records(dataset, &records, sources, params.replace).await
    }

    /// Adds already-validated records (see [`input::read`]) to `dataset`, recording `sources`.
    pub async fn ingest_records(
        &self,
        dataset: &str,
        records: &[VariantRecord],
        sources: Vec<String>,
        replace: bool,
    ) -> Result<IngestReport> {
        check_dataset_name(dataset)?;
        let stored = self.stored_variants(dataset).await?;
        let mut new = Vec::new();
        let mut changed = Vec::new();
        for r in records {
            match stored.get(r.id.as_str()) {
                None => new.push(r),
                Some((seq, target)) => {
                    let conflict = if *seq != r.sequence {
                        Some(("sequence", seq.clone(), r.sequence.clone()))
                    } else if r.target.is_some() && target.map(f64::to_bits) != r.target.map(f64::to_bits) {
                        // A missing target (e.g. a FASTA-only ingest) adds no information, so it never conflicts.
                        Some(("target", fmt_target(*target), fmt_target(r.target)))
                    } else {
                        None
                    };
                    match conflict {
                        None => {}
                        Some(_) if replace => changed.push(r),
                        Some((field, stored, new)) => {
                            return Err(Error::Conflict {
                                dataset: dataset.into(),
                                id: r.id.clone(),
                                field,
                                stored,
                                new,
                            });
                        }
                    }
                }
            }
        }
        let (added, replaced) = (new.len(), changed.len());
        let version = if !changed.is_empty() {
            new.extend(changed);
            Some(self.upsert_variants(dataset, &new).await?)
        } else if !new.is_empty() {
            Some(self.append(VARIANTS, schema::variants_batch(dataset, &new)?).await?)
        } else {
            None
        };
        let total_rows = stored.len() + added;

        let previous = self.dataset_info(dataset).await?;
        let needs_info = version.is_some() || previous.as_ref().is_none_or(|p| p.rows != total_rows as i64);
        if needs_info {
            let variants_version = match version {
                Some(v) => v,
                None => self.open_table(VARIANTS).await?.map(|d| d.version_id()).unwrap_or(0),
            };
            let mut all_sources = previous.map(|p| p.sources).unwrap_or_default();
            for s in sources {
                if !all_sources.contains(&s) {
                    all_sources.push(s);
                }
            }
            let info = DatasetInfo {
                name: dataset.to_owned(),
                sources: all_sources,
                rows: total_rows as i64,
                ingested_at: now_micros(),
                version: variants_version,
            };
            self.upsert_dataset_info(info).await?;
        }
        Ok(IngestReport {
            dataset: dataset.to_owned(),
            input_rows: records.len(),
            added,
            replaced,
            unchanged: records.len() - added - replaced,
            total_rows,
            version,
        })
    }

    /// The stored (sequence, target) of each id of `dataset`.
    async fn stored_variants(&self, dataset: &str) -> Result<HashMap<String, (String, Option<f64>)>> {
        let filter = format!("dataset = {}", sql_literal(dataset));
        let Some(batch) = self.scan(VARIANTS, Some(&filter), Some(&["id", "sequence", "target"]), None).await? else {
            return Ok(HashMap::new());
        };
        let ids = schema::column::<StringArray>(&batch, VARIANTS, "id")?;
        let seqs = schema::column::<StringArray>(&batch, VARIANTS, "sequence")?;
        let targets = schema::column::<Float64Array>(&batch, VARIANTS, "target")?;
        Ok((0..batch.num_rows())
            .map(|i| {
                let t = (!arrow_array::Array::is_null(targets, i)).then(|| targets.value(i));
                (ids.value(i).to_owned(), (seqs.value(i).to_owned(), t))
            })
            .collect())
    }

    async fn upsert_variants(&self, dataset: &str, records: &[&VariantRecord]) -> Result<u64> {
        let batch = schema::variants_batch(dataset, records)?;
        let Some(ds) = self.open_table(VARIANTS).await? else {
            return self.append(VARIANTS, batch).await;
        };
        let (ds, _) = merge(ds, VARIANTS, &["dataset", "id"], batch).await?;
        let version = ds.version_id();
        self.maybe_compact(VARIANTS, Arc::unwrap_or_clone(ds)).await;
        Ok(version)
    }

    async fn upsert_dataset_info(&self, info: DatasetInfo) -> Result<()> {
        let batch = schema::datasets_batch(&[info])?;
        match self.open_table(DATASETS).await? {
            None => {
                self.append(DATASETS, batch).await?;
            }
            Some(ds) => {
                let (ds, _) = merge(ds, DATASETS, &["name"], batch).await?;
                self.maybe_compact(DATASETS, Arc::unwrap_or_clone(ds)).await;
            }
        }
        Ok(())
    }

    /// Every dataset in the store, by name.
    pub async fn datasets(&self) -> Result<Vec<DatasetInfo>> {
        let Some(batch) = self.scan(DATASETS, None, None, None).await? else { return Ok(vec![]) };
        let mut infos = schema::dataset_infos(&batch)?;
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    /// One dataset's catalogue row, if it exists.
    pub async fn dataset_info(&self, name: &str) -> Result<Option<DatasetInfo>> {
        let filter = format!("name = {}", sql_literal(name));
        let Some(batch) = self.scan(DATASETS, Some(&filter), None, None).await? else { return Ok(None) };
        Ok(schema::dataset_infos(&batch)?.into_iter().next())
    }

    /// The variants of `dataset` (all columns, input order within each ingest), at `version` or the
    /// latest. Unknown datasets are an [`Error::UnknownDataset`].
    pub async fn variants(&self, dataset: &str, version: Option<u64>) -> Result<arrow_array::RecordBatch> {
        let filter = format!("dataset = {}", sql_literal(dataset));
        match self.scan(VARIANTS, Some(&filter), None, version).await? {
            Some(batch) if batch.num_rows() > 0 => Ok(batch),
            _ => Err(self.unknown_dataset(dataset).await),
        }
    }

    pub(crate) async fn unknown_dataset(&self, name: &str) -> Error {
        let known = match self.datasets().await {
            Ok(d) if !d.is_empty() => d.into_iter().map(|d| d.name).collect::<Vec<_>>().join(", "),
            _ => "none".into(),
        };
        Error::UnknownDataset { name: name.to_owned(), known }
    }
}

async fn merge(
    ds: lance::Dataset,
    table: &str,
    on: &[&str],
    batch: arrow_array::RecordBatch,
) -> Result<(Arc<lance::Dataset>, lance::dataset::MergeStats)> {
    let mut builder = MergeInsertBuilder::try_new(Arc::new(ds), on.iter().map(|s| s.to_string()).collect())
        .map_err(Error::lance(table, "merge_insert"))?;
    builder.when_matched(WhenMatched::UpdateAll).when_not_matched(WhenNotMatched::InsertAll);
    let job = builder.try_build().map_err(Error::lance(table, "merge_insert"))?;
    job.execute_batches(vec![batch]).await.map_err(Error::lance(table, "merge_insert"))
}

fn fmt_target(t: Option<f64>) -> String {
    t.map_or_else(|| "null".into(), |v| v.to_string())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}
