//! `esmdb model init|info`.
use std::process::ExitCode;

use anyhow::Context;
use esmdb_model::LoadOptions;

use crate::args::ModelCommand;

pub fn run(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModelCommand::Init { arch, seed, layers, out } => {
            let Some(config) = esmdb_model::architecture(&arch) else {
                anyhow::bail!("unknown architecture `{arch}`; known: {}", esmdb_model::architecture_names().join(", "))
            };
            let config = match layers {
                Some(n) => config.with_layers(n).with_context(|| format!("--layers for {arch}"))?,
                None => config,
            };
            let blocks = config.num_hidden_layers();
            esmdb_model::init::write_random(&config, seed, &out)
                .with_context(|| format!("writing random {arch} (seed {seed}) to {}", out.display()))?;
            eprintln!("esmdb: wrote random-weight {arch} ({blocks} blocks, seed {seed}) to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Info { model } => {
            let loaded = esmdb_model::load(&model, &LoadOptions::default())?;
            let m = loaded.embedder.model();
            let info = serde_json::json!({
                "id": loaded.id,
                "path": loaded.path,
                "family": m.family().name(),
                "num_hidden_layers": m.num_layers(),
                "hidden_size": m.hidden_size(),
                "vocab_size": m.vocab_size(),
                "lm_head": m.has_lm_head(),
                "max_residues": m.max_residues(),
            });
            #[allow(clippy::print_stdout)]
            {
                println!("{}", serde_json::to_string_pretty(&info)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
