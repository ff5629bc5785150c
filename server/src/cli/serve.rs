//! `herald serve`, `herald core`, `herald edge`: bind, announce, run until
//! SIGINT/SIGTERM, then drain the edge before the core.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use herald_server::config::{Config, parse_addr};
use herald_server::wiring;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// gRPC address of the core (overrides core.listen).
    #[arg(long)]
    core_listen: Option<String>,
    /// HTTP / Socket.IO address of the edge (overrides edge.listen).
    #[arg(long)]
    edge_listen: Option<String>,
}

#[derive(clap::Args)]
pub struct CoreArgs {
    /// gRPC address (overrides core.listen).
    #[arg(long)]
    listen: Option<String>,
}

#[derive(clap::Args)]
pub struct EdgeArgs {
    /// HTTP / Socket.IO address (overrides edge.listen).
    #[arg(long)]
    listen: Option<String>,
    /// The core to link to (overrides edge.core_url).
    #[arg(long)]
    core: Option<String>,
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn warn_dev_secrets(config: &Config) {
    if config.uses_dev_secrets() {
        tracing::warn!(
            "using the built-in development secret and/or service token: fine on your laptop, \
             never in production (set auth.hs256_secret and core.service_tokens)"
        );
    }
}

async fn bind(option: &str, addr: &str) -> anyhow::Result<TcpListener> {
    let addr: SocketAddr = parse_addr(option, addr)?;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{option}: cannot listen on {addr}"))
}

/// Prints the line scripts and tests wait for.
fn announce(what: &str, listener: &TcpListener) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "herald {what} listening on {addr}")?;
    out.flush()?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn serve(mut config: Config, a: ServeArgs) -> anyhow::Result<()> {
    init_logs();
    if let Some(l) = a.core_listen {
        config.core.listen = l;
    }
    if let Some(l) = a.edge_listen {
        config.edge.listen = l;
    }
    warn_dev_secrets(&config);
    let core_listener = bind("core.listen", &config.core.listen).await?;
    let edge_listener = bind("edge.listen", &config.edge.listen).await?;
    let core_addr = core_listener.local_addr()?;
    let mut edge_cfg = wiring::edge_config(&config, &format!("http://{core_addr}"))?;
    let core = herald_server::Core::start(wiring::core_config(&config)).await?;
    announce("core", &core_listener)?;
    // One process: the edge's link to the core is a queue, not a gRPC stream.
    edge_cfg.connector = Some(core.connector());

    let core_stop = CancellationToken::new();
    let edge_stop = CancellationToken::new();
    let core = tokio::spawn(core.serve(core_listener, core_stop.clone().cancelled_owned()));
    announce("edge", &edge_listener)?;
    let edge = tokio::spawn(herald_edge::run(
        edge_listener,
        edge_cfg,
        edge_stop.clone().cancelled_owned(),
    ));

    terminated().await;
    tracing::info!("shutting down: closing sockets, then the core");
    edge_stop.cancel();
    let edge_result = edge.await.context("edge task")?;
    core_stop.cancel();
    let core_result = core.await.context("core task")?;
    edge_result.context("edge")?;
    core_result.context("core")?;
    Ok(())
}

pub async fn core(mut config: Config, a: CoreArgs) -> anyhow::Result<()> {
    init_logs();
    if let Some(l) = a.listen {
        config.core.listen = l;
    }
    warn_dev_secrets(&config);
    let listener = bind("core.listen", &config.core.listen).await?;
    // Started (store, Redis) before it says it listens: a core that cannot start never does.
    let core = herald_server::Core::start(wiring::core_config(&config)).await?;
    announce("core", &listener)?;
    core.serve(listener, terminated()).await?;
    Ok(())
}

pub async fn edge(mut config: Config, a: EdgeArgs) -> anyhow::Result<()> {
    init_logs();
    if let Some(l) = a.listen {
        config.edge.listen = l;
    }
    if let Some(c) = a.core {
        config.edge.core_url = c;
    }
    config.validate()?;
    let edge_cfg = wiring::edge_config(&config, &config.edge.core_url)?;
    let listener = bind("edge.listen", &config.edge.listen).await?;
    announce("edge", &listener)?;
    herald_edge::run(listener, edge_cfg, terminated()).await?;
    Ok(())
}
