//! The edge's shared state (sessions, local index, link, the core the Socket.IO layer talks to) and
//! `run`: serve, then drain gracefully.

use std::future::Future;
use std::sync::Arc;

use herald_index::Index;
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

use crate::config::EdgeConfig;
use crate::error::EdgeError;
use crate::link::Link;
use crate::member::Member;
use crate::metrics::Metrics;
use crate::socketio::core::Core;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{Session, SioData, SocketState, closed_msg};
use herald_engine::Engine;

/// Everything the edge's tasks share.
pub(crate) struct Edge {
    pub config: EdgeConfig,
    /// The Engine.IO layer: its settings, sessions, limits and the sessions' tasks.
    pub engine: Engine<SioData>,
    /// Local index of this edge's sockets (value: the session carrying the socket, and its floor).
    pub index: parking_lot::RwLock<Index<Arc<Member>>>,
    /// The link to a core (its state, metrics, unary calls, relinking).
    pub link: Arc<Link>,
    /// The core the Socket.IO layer talks to: in production, the link.
    pub core: Arc<dyn Core>,
    pub metrics: Metrics,
    /// Cancelled when the edge starts shutting down.
    pub shutdown: CancellationToken,
}

impl Edge {
    /// The shared state of an edge with `config` (normalized), its link not started yet.
    pub(crate) fn new(config: EdgeConfig) -> Result<Self, EdgeError> {
        let link = Arc::new(Link::new(&config)?);
        Ok(Self::with_link(config, link.clone(), link))
    }

    /// The shared state of an edge whose Socket.IO layer talks to `core` (a test's scripted core);
    /// its link is never started.
    #[cfg(test)]
    pub(crate) fn with_core(config: EdgeConfig, core: Arc<dyn Core>) -> Result<Self, EdgeError> {
        let link = Arc::new(Link::new(&config)?);
        Ok(Self::with_link(config, link, core))
    }

    /// The shared state around `link`, the Socket.IO layer talking to `core`.
    fn with_link(config: EdgeConfig, link: Arc<Link>, core: Arc<dyn Core>) -> Self {
        Edge {
            engine: Engine::new(config.engine.clone()),
            config,
            index: parking_lot::RwLock::new(Index::new()),
            link,
            core,
            metrics: Metrics::default(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Takes a socket out of the local index, reports `$disconnect` to handlers when the namespace
    /// asks for it, and tells the core the socket is gone.
    pub fn forget_socket(&self, s: &SocketState, reason: &str) {
        self.index.write().remove(&s.id);
        if self
            .config
            .namespace(&s.ns)
            .is_some_and(|n| n.disconnect_handler)
        {
            crate::socketio::forward::report_disconnect(self, s, reason);
        }
        self.core.send_owed(closed_msg(&s.id, reason));
    }

    /// Every live session.
    pub fn all_sessions(&self) -> Vec<Arc<Session>> {
        self.engine.sessions.all()
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
    let link_stop = CancellationToken::new();
    let link_task = tokio::spawn(crate::link::run(edge.clone(), link_stop.clone()));

    let router = crate::http::router(edge.clone());
    // HTTP stays up while the sessions drain, so polling clients can fetch their last frames.
    let http_stop = CancellationToken::new();
    let stop = http_stop.clone();
    let tls = edge.config.tls.clone();
    let mut server = tokio::spawn(herald_engine::server::serve(
        listener,
        router,
        edge.clone(),
        tls,
        stop,
    ));

    let served = tokio::select! {
        () = shutdown => None,
        r = &mut server => Some(r),
    };
    edge.shutdown.cancel();
    let deadline = Instant::now() + edge.config.shutdown_grace;
    tracing::info!(sockets = edge.index.read().len(), "edge shutting down");

    for s in edge.all_sessions() {
        s.close_for_restart(&edge, "server shutting down");
    }
    edge.engine.tasks.close();
    if timeout_at(deadline, edge.engine.tasks.wait())
        .await
        .is_err()
    {
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
