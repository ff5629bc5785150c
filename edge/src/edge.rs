//! The edge put together: the Socket.IO layer's state and the link to a core, and `run`: serve,
//! then drain gracefully.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

use crate::config::EdgeConfig;
use crate::error::EdgeError;
use crate::link::Link;
use crate::socketio::reason::Reason;
use crate::socketio::session::SessionExt;
use crate::socketio::state::Sio;

/// Everything the edge's tasks share: the Socket.IO layer's state and the link to a core.
pub(crate) struct Edge {
    pub sio: Arc<Sio>,
    /// The link to a core (its state, metrics, unary calls, relinking).
    pub link: Arc<Link>,
}

impl Edge {
    /// The shared state of an edge with `config` (normalized), its link not started yet.
    pub(crate) fn new(config: EdgeConfig) -> Result<Self, EdgeError> {
        let link = Arc::new(Link::new(&config)?);
        let sio = Arc::new(Sio::new(config, link.clone()));
        Ok(Edge { sio, link })
    }
}

/// Serves the edge on `listener` until `shutdown` resolves, then tells every socket why
/// ("server shutting down") and closes its transport so the client reconnects by itself
/// (its session kept for recovery), tells the core, and returns within `shutdown_grace`.
pub async fn run(
    listener: TcpListener,
    mut config: EdgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EdgeError> {
    config.normalize();
    let edge = Arc::new(Edge::new(config)?);
    let sio = edge.sio.clone();
    let link_stop = CancellationToken::new();
    let link_task = tokio::spawn(crate::link::run(
        sio.clone(),
        edge.link.clone(),
        link_stop.clone(),
    ));

    let router = crate::http::router(edge.clone());
    // HTTP stays up while the sessions drain, so polling clients can fetch their last frames.
    let http_stop = CancellationToken::new();
    let stop = http_stop.clone();
    let tls = sio.config.tls.clone();
    let mut server = tokio::spawn(herald_engine::server::serve(
        listener,
        router,
        sio.clone(),
        tls,
        stop,
    ));

    let served = tokio::select! {
        () = shutdown => None,
        r = &mut server => Some(r),
    };
    sio.shutdown.cancel();
    let deadline = Instant::now() + sio.config.shutdown_grace;
    tracing::info!(sockets = sio.index.read().len(), "edge shutting down");

    for s in sio.all_sessions() {
        s.close_for_restart(&sio, Reason::ServerShuttingDown);
    }
    sio.engine.tasks.close();
    if timeout_at(deadline, sio.engine.tasks.wait()).await.is_err() {
        tracing::warn!("edge: some transports did not finish within the shutdown grace");
    }
    http_stop.cancel();
    link_stop.cancel();
    let mut link_task = link_task;
    if timeout_at(deadline, &mut link_task).await.is_err() {
        link_task.abort();
    }
    let result = match served {
        Some(r) => r,
        None => match timeout_at(deadline, &mut server).await {
            Ok(r) => r,
            Err(_) => {
                server.abort();
                Ok(Ok(()))
            }
        },
    };
    match result {
        Ok(r) => r.map_err(EdgeError::Io),
        Err(e) => Err(EdgeError::Io(std::io::Error::other(e))),
    }
}
