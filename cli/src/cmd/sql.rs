//! `esmdb sql "SQL"`: statements run in one session over the store; the last result streams to
//! standard output (or `--out`) as it is computed, with embedding progress on stderr.
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use esmdb_sql::output::{Format, Writer};
use esmdb_sql::progress::{EmbedEvent, ProgressSink, set_progress_sink};
use esmdb_sql::{EngineConfig, Session};
use futures::StreamExt;
use indicatif::ProgressBar;

use crate::args::{SessionArgs, SqlArgs};

pub fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse()?;
    if format == Format::Parquet && args.out.is_none() {
        anyhow::bail!("--format parquet needs --out FILE");
    }
    let sql = if args.sql == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading SQL from standard input")?;
        s
    } else {
        args.sql.clone()
    };
    let started = std::time::Instant::now();
    super::store_admin::runtime()?.block_on(async {
        let session = open_session(&args.session).await?;
        let _progress = EmbedProgressBar::install();
        let Some(df) = session.run_script(&sql).await? else {
            anyhow::bail!("no SQL statement given");
        };
        match &args.out {
            None => {
                let rows = stream(df, format, std::io::BufWriter::new(std::io::stdout())).await?;
                if format == Format::Table && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!("{}", summary(rows, started));
                }
            }
            Some(path) => {
                // Written next to the target and renamed into place: never a half-written file.
                let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                let tmp = tempfile::NamedTempFile::new_in(dir)
                    .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
                let file = tmp.reopen()?;
                stream(df, format, std::io::BufWriter::new(file)).await?;
                tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Executes `df` and writes its batches as they arrive; returns the rows written.
pub async fn stream<W: Write + Send>(
    df: esmdb_sql::datafusion::dataframe::DataFrame,
    format: Format,
    out: W,
) -> anyhow::Result<usize> {
    let schema = df.schema().as_arrow().clone();
    let mut batches = df.execute_stream().await?;
    let mut writer = Writer::new(format, out);
    let mut rows = 0;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        writer.write(&batch)?;
    }
    writer.finish(&schema)?;
    Ok(rows)
}

/// `3 rows in 0.412 s`, as a result's closing line (on stderr, so piped output stays data).
pub fn summary(rows: usize, started: std::time::Instant) -> String {
    let noun = if rows == 1 { "row" } else { "rows" };
    format!("{rows} {noun} in {:.3} s", started.elapsed().as_secs_f64())
}

/// A session with the command line's settings. Without `--model`, the model that last filled the
/// store's cache (so a query goes on from where `esmdb reproduce` left the store), else the default.
pub async fn open_session(args: &SessionArgs) -> anyhow::Result<Session> {
    let model = match &args.model {
        Some(m) => m.clone(),
        None => match esmdb_engine::cache::store(&args.store.store).await?.models().await?.first() {
            Some(recorded) => recorded.source.clone(),
            None => EngineConfig::default().model,
        },
    };
    let options = EngineConfig {
        model,
        layer: i64::from(args.layer),
        device: args.device.clone(),
        precision: args.precision.clone(),
        batch_tokens: args.batch_tokens,
        threads: args.threads.unwrap_or(0),
        commit_every: args.commit_every.max(1),
        store: args.store.store.clone(),
    };
    match &args.cluster {
        Some(address) => {
            let flag = "--cluster (ESMDB_CLUSTER)";
            let scheduler = esmdb_cluster::Address::parse(flag, address)?;
            Ok(esmdb_cluster::client::connect(flag, &scheduler, options).await?)
        }
        None => Ok(Session::open(options).await?),
    }
}

/// Embedding progress on stderr: sequences embedded of those the query has found to embed so far, cache hits,
/// rate (hidden when stderr is not a terminal, so piped output has none). Removed again when dropped.
pub struct EmbedProgressBar {
    bar: Arc<ProgressBar>,
}

/// Totals over the query's embedding calls (one per UDF batch).
#[derive(Default)]
struct Totals {
    embedded: usize,
    to_embed: usize,
    hits: usize,
}

struct BarSink {
    bar: Arc<ProgressBar>,
    state: std::sync::Mutex<(Totals, Option<EmbedEvent>)>,
}

impl ProgressSink for BarSink {
    fn embedding(&self, e: &EmbedEvent) {
        let Ok(mut state) = self.state.lock() else { return };
        let (totals, last) = &mut *state;
        // Events of one call are cumulative; a call starts with an event at embedded = 0 (its plan).
        let fresh = e.embedded == 0 || last.as_ref().is_none_or(|l| e.model != l.model || e.embedded < l.embedded);
        let before = if fresh { 0 } else { last.as_ref().map_or(0, |l| l.embedded) };
        if e.embedded == 0 {
            totals.hits += e.hits;
            totals.to_embed += e.misses;
        }
        totals.embedded += e.embedded - before;
        *last = Some(e.clone());
        if self.bar.is_hidden() && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        if totals.to_embed > 0 && self.bar.length() == Some(0) {
            self.bar.set_style(bar_style());
        }
        self.bar.set_length(totals.to_embed as u64);
        self.bar.set_position(totals.embedded as u64);
        self.bar.set_message(format!("{}: {} cache hits", e.model, totals.hits));
    }
}

impl EmbedProgressBar {
    /// Installs the stderr progress display.
    pub fn install() -> Self {
        // Drawn from the first embedding event on, and only the message (cache hits) until the query has
        // sequences to embed.
        let bar = Arc::new(ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden()));
        bar.set_style(indicatif::ProgressStyle::with_template("{msg}").unwrap_or_else(|_| bar_style()));
        let sink = BarSink { bar: Arc::clone(&bar), state: std::sync::Mutex::new((Totals::default(), None)) };
        set_progress_sink(Some(Arc::new(sink)));
        EmbedProgressBar { bar }
    }
}

fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(
        "{msg}, embedded {bar:30} {pos}/{len} sequences [{elapsed_precise}, {per_sec}]",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

impl Drop for EmbedProgressBar {
    fn drop(&mut self) {
        set_progress_sink(None);
        self.bar.finish_and_clear();
    }
}
