//! Log output of the long-running commands: `log.format` text (colour only on a terminal) or
//! JSON (one object per line with `timestamp`, `level`, `target`, `message` and the event's fields).

use std::io::IsTerminal;

use herald_server::config::LogSection;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber writing to stderr (`RUST_LOG` overrides `log.level`).
pub fn init(log: &LogSection) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if log.format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}
