//! `herald config check [FILE]` and `herald config defaults`: validate a configuration the way
//! start-up does, and print every option with its default.

use std::path::{Path, PathBuf};

use herald_server::config::Config;
use herald_server::wiring;

/// The documented default configuration (a test keeps it equal to `Config::default()`).
const DEFAULTS: &str = include_str!("../../../herald.example.toml");

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file (and the `HERALD_*` variables) as start-up would; prints each
    /// problem with the option's full name, exits non-zero when there is one.
    Check {
        /// The file to check (default: --config / HERALD_CONFIG, else only the defaults and the
        /// environment).
        file: Option<PathBuf>,
    },
    /// Print the full default configuration (the same as herald.example.toml).
    Defaults,
}

pub fn run(global: Option<&Path>, cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Defaults => {
            print!("{DEFAULTS}");
            Ok(())
        }
        ConfigCommand::Check { file } => {
            let file = file.as_deref().or(global);
            let what = file.map_or_else(
                || "the defaults and HERALD_* variables".to_owned(),
                |f| f.display().to_string(),
            );
            // Load errors name the file themselves.
            let (config, warnings) = Config::load_with_warnings(file, std::env::vars())?;
            for w in &warnings {
                eprintln!("herald: warning: {w}");
            }
            wiring::preflight(&config).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
            println!("{what}: ok");
            Ok(())
        }
    }
}
