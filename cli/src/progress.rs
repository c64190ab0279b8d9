//! Progress bars on stderr, hidden automatically when stderr is not a terminal.
use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting sequences, with rate and ETA.
pub fn sequences(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg} {bar:30} {pos}/{len} sequences [{elapsed_precise} < {eta_precise}, {per_sec}]",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// A bar counting fits.
pub fn fits(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} fits [{elapsed_precise} < {eta_precise}]")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
