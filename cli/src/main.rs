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
            eprintln!("esmdb: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Command::Model(m) => cmd::model::run(m),
        args::Command::Embed(e) => cmd::embed::run(e),
        args::Command::Ingest(i) => cmd::ingest::run(i),
        args::Command::Versions(v) => cmd::store_admin::versions(v),
        args::Command::Compact(c) => cmd::store_admin::compact(c),
        args::Command::Sql(s) => cmd::sql::run(s),
        args::Command::Shell(s) => cmd::shell::run(s),
        args::Command::Reproduce(r) => cmd::reproduce::run(r),
    }
}
