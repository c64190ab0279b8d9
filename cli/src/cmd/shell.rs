//! `esmdb shell`: an interactive SQL session with line editing, history (`~/.esmdb_history`),
//! multi-line statements (a statement runs once a line ends with `;`), `\?` help from the functions'
//! documentation, and Ctrl-C cancelling the running query (not the shell).
use std::process::ExitCode;

use esmdb_sql::output::Format;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::args::ShellArgs;

pub fn run(args: ShellArgs) -> anyhow::Result<ExitCode> {
    let rt = super::store_admin::runtime()?;
    let session = rt.block_on(super::sql::open_session(&args.session))?;
    let mut editor = DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".esmdb_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let config = session.config();
    eprintln!(
        "esmdb shell on {} with model {} — end statements with `;`, \\? for help, \\q to quit",
        config.store, config.model
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "esmdb> " } else { "   ..> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                // Backslash commands act at once, also in the middle of a statement (as in psql).
                if trimmed == "\\q" || (buffer.is_empty() && (trimmed == "quit" || trimmed == "exit")) {
                    break;
                }
                if let Some(topic) = trimmed.strip_prefix("\\?") {
                    let _ = editor.add_history_entry(trimmed);
                    print_help(topic.trim());
                    continue;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if !trimmed.ends_with(';') {
                    continue;
                }
                let _ = editor.add_history_entry(buffer.trim());
                let sql = std::mem::take(&mut buffer);
                let started = std::time::Instant::now();
                let result = rt.block_on(async {
                    let _progress = super::sql::EmbedProgressBar::install();
                    let query = async {
                        match session.run_script(&sql).await? {
                            Some(df) => super::sql::stream(df, Format::Table, std::io::stdout()).await.map(Some),
                            None => Ok(None),
                        }
                    };
                    // Ctrl-C drops the query (its plan and streams); work already committed to the cache stays.
                    tokio::select! {
                        result = query => result.map(Outcome::Done),
                        _ = tokio::signal::ctrl_c() => Ok(Outcome::Cancelled),
                    }
                });
                match result {
                    Ok(Outcome::Done(Some(rows))) => eprintln!("{}", super::sql::summary(rows, started)),
                    Ok(Outcome::Done(None)) => eprintln!("({:.3} s)", started.elapsed().as_secs_f64()),
                    Ok(Outcome::Cancelled) => {
                        eprintln!("cancelled after {:.3} s", started.elapsed().as_secs_f64())
                    }
                    // The chain once: a cause already in its error's message is not repeated (as `esmdb sql` prints it).
                    Err(e) => eprintln!("error: {}", crate::message(&e)),
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}

/// How a statement ended.
enum Outcome {
    /// It ran; the rows it returned, if it was a query.
    Done(Option<usize>),
    /// Ctrl-C stopped it.
    Cancelled,
}

/// `\?` (every esmdb function) or `\? NAME` (one in full).
fn print_help(topic: &str) {
    use std::io::Write;
    let text = if topic.is_empty() { Some(esmdb_sql::udf::doc::help()) } else { esmdb_sql::udf::doc::help_for(topic) };
    match text {
        // A closed stdout leaves nothing to tell.
        Some(text) => drop(std::io::stdout().write_all(text.as_bytes())),
        None => eprintln!(
            "no esmdb function `{topic}`: \\? lists them; DataFusion's own are in SHOW FUNCTIONS LIKE '{topic}%'"
        ),
    }
}
