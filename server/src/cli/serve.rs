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
    /// The core to link to (overrides edge.core_url and edge.core_urls).
    #[arg(long)]
    core: Option<String>,
}

fn init_logs(config: &Config) {
    crate::cli::logs::init(&config.log);
}

/// The core's settings with its TLS files read.
fn core_config(config: &Config) -> anyhow::Result<herald_server::CoreConfig> {
    let mut c = wiring::core_config(config);
    c.tls = wiring::server_tls(config)?;
    Ok(c)
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
    init_logs(&config);
    if let Some(l) = a.core_listen {
        config.core.listen = l;
    }
    if let Some(l) = a.edge_listen {
        config.edge.listen = l;
    }
    warn_dev_secrets(&config);
    // Every configuration error (and an unreachable store) is reported before anything listens.
    config.validate()?;
    wiring::preflight(&config)?;
    let core = herald_server::Core::start(core_config(&config)?).await?;
    let core_listener = bind("core.listen", &config.core.listen).await?;
    let edge_listener = bind("edge.listen", &config.edge.listen).await?;
    let core_addr = core_listener.local_addr()?;
    announce("core", &core_listener)?;
    let scheme = if config.core.tls_cert_file.is_empty() {
        "http"
    } else {
        "https"
    };
    let mut edge_cfg = wiring::edge_config(&config, &format!("{scheme}://{core_addr}"))?;
    // One process: the edge's link to the core is a queue, not a gRPC stream, and the edge's
    // /metrics shows the core's own.
    edge_cfg.connector = Some(core.connector());
    edge_cfg.extra_metrics = Some(core.metrics());

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
    init_logs(&config);
    if let Some(l) = a.listen {
        config.core.listen = l;
    }
    warn_dev_secrets(&config);
    config.validate()?;
    wiring::preflight(&config)?;
    let core = herald_server::Core::start(core_config(&config)?).await?;
    let listener = bind("core.listen", &config.core.listen).await?;
    let metrics_stop = CancellationToken::new();
    let metrics = if config.core.metrics_listen.is_empty() {
        None
    } else {
        let l = bind("core.metrics_listen", &config.core.metrics_listen).await?;
        announce("metrics", &l)?;
        Some(tokio::spawn(herald_server::serve_metrics(
            l,
            core.metrics(),
            metrics_stop.clone(),
        )))
    };
    announce("core", &listener)?;
    let served = core.serve(listener, terminated()).await;
    metrics_stop.cancel();
    if let Some(m) = metrics {
        let _ = m.await;
    }
    served?;
    Ok(())
}

pub async fn edge(mut config: Config, a: EdgeArgs) -> anyhow::Result<()> {
    init_logs(&config);
    if let Some(l) = a.listen {
        config.edge.listen = l;
    }
    if let Some(c) = a.core {
        config.edge.core_url = c;
        config.edge.core_urls.clear();
    }
    config.validate()?;
    wiring::preflight(&config)?;
    let urls = if config.edge.core_urls.is_empty() {
        vec![config.edge.core_url.clone()]
    } else {
        config.edge.core_urls.clone()
    };
    let edge_cfg = wiring::edge_config_for(&config, urls)?;
    let listener = bind("edge.listen", &config.edge.listen).await?;
    announce("edge", &listener)?;
    herald_edge::run(listener, edge_cfg, terminated()).await?;
    Ok(())
}
