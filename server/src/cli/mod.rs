//! Command-line parsing and dispatch to one module per subcommand.

mod admin;
mod config;
mod emit;
mod logs;
mod serve;
mod tasks;
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
    /// Check a configuration file, or print the defaults.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print the core's counts: connections, users and rooms per namespace, edges, subscribers.
    Stats(admin::StatsArgs),
    /// Print who is in a room, or whether users are online.
    Presence(admin::PresenceArgs),
    /// Close a connection, or every connection of a user.
    Disconnect(admin::DisconnectArgs),
    /// List, look at, cancel or retry tasks.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = cli.config.as_deref();
    let result = match cli.command {
        // Checks the file itself: it must not be loaded (and refused) first.
        Command::Config(cmd) => config::run(path, cmd),
        command => match load(path) {
            Ok(config) => dispatch(config, command),
            Err(e) => {
                eprintln!("herald: {e}");
                return ExitCode::from(2);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {}", causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once (transport errors repeat their source in their own
/// message: "transport error: transport error: ...").
fn causes(e: &anyhow::Error) -> String {
    let mut kept: Vec<String> = Vec::new();
    for cause in e.chain() {
        // A status is already said by the client error that wraps it.
        if cause.downcast_ref::<tonic::Status>().is_some() {
            continue;
        }
        let msg = cause.to_string();
        if !kept
            .iter()
            .any(|k| k == &msg || k.ends_with(&format!(": {msg}")))
        {
            kept.push(msg);
        }
    }
    kept.join(": ")
}

/// The configuration, warning on stderr about what it ignores.
fn load(path: Option<&std::path::Path>) -> Result<Config, herald_server::config::ConfigError> {
    let (config, warnings) = Config::load_with_warnings(path, std::env::vars())?;
    for w in warnings {
        eprintln!("herald: warning: {w}");
    }
    Ok(config)
}

fn dispatch(config: Config, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Token(a) => token::run(&config, a),
        Command::Serve(a) => runtime().and_then(|rt| rt.block_on(serve::serve(config, a))),
        Command::Core(a) => runtime().and_then(|rt| rt.block_on(serve::core(config, a))),
        Command::Edge(a) => runtime().and_then(|rt| rt.block_on(serve::edge(config, a))),
        Command::Emit(a) => runtime().and_then(|rt| rt.block_on(emit::run(&config, a))),
        Command::Config(cmd) => config::run(None, cmd),
        Command::Stats(a) => runtime().and_then(|rt| rt.block_on(admin::stats(&config, a))),
        Command::Presence(a) => runtime().and_then(|rt| rt.block_on(admin::presence(&config, a))),
        Command::Disconnect(a) => {
            runtime().and_then(|rt| rt.block_on(admin::disconnect(&config, a)))
        }
        Command::Tasks(cmd) => runtime().and_then(|rt| rt.block_on(tasks::run(&config, cmd))),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
