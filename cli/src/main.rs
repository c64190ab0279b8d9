//! `esmdb`: the command line of esmdb. Thin by design: argument parsing here, the work in the
//! library crates; errors are printed once, with their chain.
mod args;
mod cmd;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ESMDB_LOG").unwrap_or_else(|_| "warn,usvg=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args::Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("esmdb: error: {}", message(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Command::Model(m) => cmd::model::run(m),
        args::Command::Embed(e) => cmd::embed::run(e),
        args::Command::Ingest(i) => cmd::ingest::run(i),
        args::Command::Import(i) => cmd::import::run(i),
        args::Command::Versions(v) => cmd::store_admin::versions(v),
        args::Command::Compact(c) => cmd::store_admin::compact(c),
        args::Command::Sql(s) => cmd::sql::run(s),
        args::Command::Shell(s) => cmd::shell::run(s),
        args::Command::Reproduce(r) => cmd::reproduce::run(r),
        args::Command::Scheduler(s) => cmd::cluster::scheduler(s),
        args::Command::Executor(e) => cmd::cluster::executor(e),
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message already
/// ends with: our error types put their source in their own message (so they read well alone)
/// and also expose it as `source()`, which `{:#}` would print a second time.
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        // DataFusion's wrapper of our errors adds only its kind.
        let text = cause.to_string();
        let text = text.strip_prefix("External error: ").map(str::to_owned).unwrap_or(text);
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::message;

    /// Shaped like the store's `Error::Io`: the source in the message and as `source()`.
    #[derive(Debug)]
    struct Io {
        path: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Io {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for Io {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn causes_already_in_the_message_are_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = anyhow::Error::new(Io { path: "a.csv".into(), source: io }).context("ingesting `BLAT`");
        assert_eq!(message(&err), "ingesting `BLAT`: a.csv: No such file");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(message(&plain), "outer: inner");
    }
}
