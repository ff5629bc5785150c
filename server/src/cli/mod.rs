//! Command-line parsing and dispatch to one module per subcommand.

mod emit;
mod serve;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herald_server::config::Config;

#[derive(Parser)]
#[command(name = "herald", version, about = "Herald: a real-time event backbone")]
struct Cli {
    /// Configuration file (TOML); `HERALD_*` variables override it.
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the core and the edge in one process (embedded defaults).
    Serve(serve::ServeArgs),
    /// Run only the core (gRPC API).
    Core(serve::CoreArgs),
    /// Run only an edge linked to a core.
    Edge(serve::EdgeArgs),
    /// Print a development JWT signed with the configured HS256 secret.
    Token(token::TokenArgs),
    /// Call Emit and print the response as JSON.
    Emit(emit::EmitArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("herald: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Token(a) => token::run(&config, a),
        Command::Serve(a) => runtime().and_then(|rt| rt.block_on(serve::serve(config, a))),
        Command::Core(a) => runtime().and_then(|rt| rt.block_on(serve::core(config, a))),
        Command::Edge(a) => runtime().and_then(|rt| rt.block_on(serve::edge(config, a))),
        Command::Emit(a) => runtime().and_then(|rt| rt.block_on(emit::run(&config, a))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
