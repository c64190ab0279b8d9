//! `esmdb reproduce`: the paper's study (datasets × models × compressions under its LassoCV
//! protocol) in one resumable command. The pipeline is `esmdb_study::run`; this file is its
//! arguments and progress bars.
use std::process::ExitCode;

use esmdb_sql::EngineConfig;
use esmdb_store::EmbedProgress;
use esmdb_study::{StudyParams, parse_compressions};
use indicatif::ProgressBar;

use crate::args::ReproduceArgs;

pub fn run(args: ReproduceArgs) -> anyhow::Result<ExitCode> {
    // Checked before any work starts (the protocol string too, by `run`).
    let compressions = parse_compressions(&args.compress)?;
    let zero_shot = args.zero_shot.as_deref().map(str::parse::<esmdb_model::ScoreMethod>).transpose()?;
    let params = StudyParams {
        store: args.store.store.clone(),
        datasets: esmdb_study::dataset_sources(&args.datasets)?,
        models: args.models.clone(),
        layer: args.layer,
        compressions,
        protocol: args.protocol.clone(),
        engine: EngineConfig {
            device: args.device.clone(),
            precision: args.precision.clone(),
            batch_tokens: args.batch_tokens,
            threads: args.threads.unwrap_or(0),
            ..EngineConfig::default()
        },
        out: args.out.clone(),
        paper: args.paper.clone(),
        zero_shot,
    };
    let report = super::store_admin::runtime()?.block_on(async {
        match &args.cluster {
            None => esmdb_study::run(&params, &mut Bars::default()).await.map_err(anyhow::Error::from),
            Some(address) => {
                let flag = "--cluster (ESMDB_CLUSTER)";
                let scheduler = esmdb_cluster::Address::parse(flag, address)?;
                let config = esmdb_study::session_config(&params);
                let session = esmdb_cluster::client::connect(flag, &scheduler, config).await?;
                Ok(esmdb_study::run_in(&session, &params, &mut Bars::default()).await?)
            }
        }
    })?;

    let mut stdout = std::io::stdout().lock();
    use std::io::Write;
    writeln!(stdout, "{}", esmdb_report::summary_table(&report.outputs.summary))?;
    for (figure, why) in &report.outputs.skipped {
        eprintln!("esmdb: {figure} not written: {why}");
    }
    let t = &report.totals;
    eprintln!(
        "esmdb: embedded {} sequences ({} cache hits); {} fits run, {} reused; {:.1}s",
        t.embedded, t.cache_hits, t.fits_run, t.fits_reused, t.seconds
    );
    eprintln!("esmdb: results in {} (results.csv, summary.csv, figures .svg/.png, run.json)", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The study's progress as terminal bars (hidden when stderr is not a terminal).
#[derive(Default)]
struct Bars {
    embedding: Option<(String, ProgressBar)>,
    fitting: Option<ProgressBar>,
}

impl esmdb_study::Progress for Bars {
    fn ingested(&mut self, dataset: &str, added: usize) {
        eprintln!("esmdb: ingested `{dataset}`: {added} new variants");
    }

    fn embedding(&mut self, dataset: &str, model: &str, p: EmbedProgress) {
        let what = format!("embedding {dataset} with {model}");
        if self.embedding.as_ref().is_none_or(|(w, _)| *w != what) {
            if let Some((_, bar)) = self.embedding.take() {
                bar.finish_and_clear();
            }
            self.embedding = Some((what.clone(), crate::progress::sequences(0, &what)));
        }
        if let Some((_, bar)) = &self.embedding {
            bar.set_length(p.misses as u64);
            bar.set_position(p.embedded as u64);
        }
    }

    fn fitting(&mut self, what: &str, done: usize, total: usize) {
        if let Some((_, bar)) = self.embedding.take() {
            bar.finish_and_clear();
        }
        let bar = self.fitting.get_or_insert_with(|| crate::progress::fits(total as u64));
        bar.set_position(done as u64);
        bar.set_message(format!("fitting {what}"));
    }

    fn fitted(&mut self) {
        if let Some((_, bar)) = self.embedding.take() {
            bar.finish_and_clear();
        }
        if let Some(bar) = self.fitting.take() {
            bar.finish_and_clear();
        }
    }
}
