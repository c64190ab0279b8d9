//! The study's files: `results.csv`, `summary.csv`, figures (`.svg` + `.png`) and `run.json`, each
//! written whole (temporary file, then rename) so an interrupted run never leaves half a file.
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use esmdb_report::{FoldRow, Summary};

use crate::error::{Error, Result};

/// What a run did, as `run.json` records it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Sequences embedded (forward passes).
    pub embedded: usize,
    /// Sequences found in the cache.
    pub cache_hits: usize,
    /// Fits computed.
    pub fits_run: usize,
    /// Fits read from finished parts.
    pub fits_reused: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What [`write_outputs`] wrote, and what it left out and why.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// Per (dataset, model, compression): folds, mean and sd of test R², mean test ρ.
    pub summary: Vec<Summary>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Figures not written, with the reason (for the front end to say).
    pub skipped: Vec<(String, String)>,
}

/// Writes the study's files into `out`. `paper`: the published per-fold results, for the
/// `ours_vs_published` figure, which is written only when some (dataset, model, compression) of
/// ours is also in the paper's rows: a random-weight stand-in (`random-esm2_…-seed0`) has no
/// published counterpart, and a figure without a point would say nothing.
pub fn write_outputs(out: &Path, rows: &[FoldRow], totals: &Totals, paper: Option<&Path>) -> Result<Outputs> {
    let mut outputs = Outputs { summary: esmdb_report::summarize(rows), ..Outputs::default() };
    esmdb_report::write_results_csv(rows, out.join("results.csv"))?;
    outputs.files.push(out.join("results.csv"));
    esmdb_report::write_summary_csv(&outputs.summary, out.join("summary.csv"))?;
    outputs.files.push(out.join("summary.csv"));
    // Zero-shot rows have no R²: they are the other figure's x axis.
    let fitted: Vec<Summary> =
        outputs.summary.iter().filter(|s| !s.compression.starts_with(esmdb_report::ZERO_SHOT)).cloned().collect();
    let mut figures = vec![("r2_by_model_size", esmdb_report::r2_by_model_size(&fitted))];
    if outputs.summary.iter().any(|s| s.compression.starts_with(esmdb_report::ZERO_SHOT)) {
        figures.push(("zero_shot_vs_supervised", esmdb_report::zero_shot_vs_supervised(&outputs.summary)));
    }
    if let Some(paper) = paper {
        let published = esmdb_report::summarize(&esmdb_report::read_results_csv(paper)?);
        match no_published_counterpart(&outputs.summary, &published) {
            None => figures.push(("ours_vs_published", esmdb_report::ours_vs_published(&outputs.summary, &published))),
            Some(why) => outputs.skipped.push(("ours_vs_published".into(), why)),
        }
    }
    for (name, svg) in &figures {
        for (ext, bytes) in [("svg", svg.as_bytes().to_vec()), ("png", esmdb_report::svg_to_png(svg)?)] {
            let path = out.join(format!("{name}.{ext}"));
            write_atomic(&path, &bytes)?;
            outputs.files.push(path);
        }
    }
    let run = format!(
        "{{\n  \"embedded\": {},\n  \"cache_hits\": {},\n  \"fits_run\": {},\n  \"fits_reused\": {},\n  \"seconds\": {}\n}}",
        totals.embedded, totals.cache_hits, totals.fits_run, totals.fits_reused, totals.seconds
    );
    write_atomic(&out.join("run.json"), run.as_bytes())?;
    outputs.files.push(out.join("run.json"));
    Ok(outputs)
}

/// Why no point of ours can be compared with the paper's, or `None` when some can.
fn no_published_counterpart(ours: &[Summary], published: &[Summary]) -> Option<String> {
    let key = |s: &Summary| (s.dataset.clone(), s.model.clone(), s.compression.clone());
    let theirs: HashSet<_> = published.iter().map(key).collect();
    if ours.iter().any(|s| theirs.contains(&key(s))) {
        return None;
    }
    let mut models: Vec<&str> = ours.iter().map(|s| s.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    let random = models.iter().any(|m| m.starts_with("random-"));
    Some(format!(
        "none of our (dataset, model, compression) results is in the paper's; models {}{}",
        models.join(", "),
        if random {
            " (random-weight stand-ins have no published counterpart: use pretrained weights to compare)"
        } else {
            " (the paper names models esm2_t6_8M_UR50D … esm2_t48_15B_UR50D)"
        }
    ))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(dataset: &str, model: &str) -> Summary {
        Summary {
            dataset: dataset.into(),
            model: model.into(),
            compression: "mean".into(),
            folds: 5,
            r2_test_mean: 0.3,
            r2_test_sd: 0.1,
            rho_test_mean: 0.5,
        }
    }

    #[test]
    fn random_weights_have_no_published_counterpart() {
        let paper = [summary("BLAT", "esm2_t6_8M_UR50D")];
        assert_eq!(no_published_counterpart(&[summary("BLAT", "esm2_t6_8M_UR50D")], &paper), None);
        let why = no_published_counterpart(&[summary("BLAT", "random-esm2_t6_8M_UR50D-seed0")], &paper).unwrap();
        assert!(why.contains("random-esm2_t6_8M_UR50D-seed0") && why.contains("random-weight"), "{why}");
    }
}
