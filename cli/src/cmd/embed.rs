//! `esmdb embed --fasta`: FASTA in, Parquet out (`id`, the normalized `sequence`, one column per layer × pooling;
//! `--pool logits` adds `logits`, the masked-LM head's per-residue logits over the 33-token alphabet).
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use esmdb_model::{EmbedOptions, Embeddings, LoadOptions, Pooling};

use crate::args::{EmbedArgs, RuntimeArgs};

pub fn run(args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let fasta = match (&args.fasta, &args.dataset) {
        (Some(_), Some(_)) => anyhow::bail!(
            "give either --fasta FILE (write Parquet) or --dataset NAME (fill the store's cache), not both"
        ),
        (None, None) => anyhow::bail!("give --fasta FILE (write Parquet) or --dataset NAME (fill the store's cache)"),
        (None, Some(_)) => return super::embed_dataset::run(args),
        (Some(f), None) => f.clone(),
    };
    // Every sequence is checked (esmdb-seq's policy, as ingest and SQL apply it) and normalized before
    // anything heavy is loaded or anything written.
    let records = esmdb_seq::fasta::read(&fasta)?;
    let options = embed_options(&args.layers, &args.pool, &args.runtime)?;
    let loaded = esmdb_model::load(&args.model, &load_options(&args.runtime)?)?;
    let out = args.out.clone().unwrap_or_else(|| fasta.with_extension("parquet"));
    let pairs: Vec<(&str, &str)> = records.iter().map(|r| (r.id.as_str(), r.sequence.as_str())).collect();

    let bar = crate::progress::sequences(pairs.len() as u64, "embedding");
    let started = std::time::Instant::now();
    let embeddings = loaded.embedder.embed_with_progress(&pairs, &options, |n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    let tokens: usize = embeddings.lengths.iter().map(|l| l + 2).sum();
    let secs = started.elapsed().as_secs_f64();

    let batch = to_record_batch(&records, &embeddings)?;
    write_parquet_atomically(&out, &batch)?;
    eprintln!(
        "esmdb: embedded {} sequences ({} tokens) with {} in {:.1}s ({:.0} tokens/s) → {}",
        pairs.len(),
        tokens,
        loaded.id,
        secs,
        tokens as f64 / secs.max(1e-9),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn load_options(rt: &RuntimeArgs) -> anyhow::Result<LoadOptions> {
    Ok(LoadOptions {
        device: Some(esmdb_model::parse_device(&rt.device)?),
        precision: rt.precision.parse()?,
        threads: rt.threads,
    })
}

pub fn embed_options(layers: &[i64], pool: &[String], rt: &RuntimeArgs) -> anyhow::Result<EmbedOptions> {
    let pooling = pool.iter().map(|p| p.parse::<Pooling>()).collect::<Result<Vec<_>, _>>()?;
    if rt.batch_tokens == 0 {
        anyhow::bail!("--batch-tokens must be positive");
    }
    if rt.truncate == Some(0) {
        anyhow::bail!("--truncate must be positive");
    }
    Ok(EmbedOptions {
        layers: if layers.is_empty() { vec![-1] } else { layers.to_vec() },
        pooling,
        batch_tokens: rt.batch_tokens,
        truncate: rt.truncate,
    })
}

fn to_record_batch(records: &[esmdb_seq::fasta::Record], e: &Embeddings) -> anyhow::Result<RecordBatch> {
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("id".into(), Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.id.as_str())))),
        ("sequence".into(), Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.sequence.as_str())))),
    ];
    for ((spec, values), &width) in e.specs.iter().zip(&e.values).zip(&e.widths) {
        let array: ArrayRef = if spec.pooling.per_residue() {
            let mut b = ListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), width as i32));
            let mut offset = 0;
            for &len in &e.lengths {
                for t in 0..len {
                    let row = &values[(offset + t) * width..(offset + t + 1) * width];
                    b.values().values().append_slice(row);
                    b.values().append(true);
                }
                offset += len;
                b.append(true);
            }
            Arc::new(b.finish())
        } else {
            let mut b = FixedSizeListBuilder::new(Float32Builder::new(), width as i32);
            for row in values.chunks(width) {
                b.values().append_slice(row);
                b.append(true);
            }
            Arc::new(b.finish())
        };
        columns.push((spec.column_name(), array));
    }
    Ok(RecordBatch::try_from_iter(columns)?)
}

/// Writes to a temporary file beside `out` and renames it into place: no half-written output.
fn write_parquet_atomically(out: &Path, batch: &RecordBatch) -> anyhow::Result<()> {
    let dir: PathBuf =
        out.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| ".".into());
    let tmp = tempfile::Builder::new()
        .prefix(".esmdb-")
        .suffix(".parquet.tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(tmp.as_file().try_clone()?, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    tmp.persist(out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
