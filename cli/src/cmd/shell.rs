//! `esmdb shell`: an interactive SQL session with line editing, history (`~/.esmdb_history`) and
//! multi-line statements (a statement runs once a line ends with `;`).
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
    eprintln!("esmdb shell on {} with model {} — end statements with `;`, \\q to quit", config.store, config.model);
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "esmdb> " } else { "   ..> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && (trimmed == "\\q" || trimmed == "quit" || trimmed == "exit") {
                    break;
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
                    let _progress = super::sql::EmbedProgress::install();
                    match session.run_script(&sql).await? {
                        Some(df) => super::sql::stream(df, Format::Table, std::io::stdout()).await.map(Some),
                        None => Ok(None),
                    }
                });
                match result {
                    Ok(Some(rows)) => eprintln!("{}", super::sql::summary(rows, started)),
                    Ok(None) => eprintln!("({:.3} s)", started.elapsed().as_secs_f64()),
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
