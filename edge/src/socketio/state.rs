//! The Socket.IO layer's shared state: the edge's configuration, the engine it serves as handler,
//! the local index of its sockets, the core it talks to, its counters, and the shutdown signal.

use std::sync::Arc;

use herald_engine::Engine;
use herald_index::Index;
use tokio_util::sync::CancellationToken;

use crate::config::EdgeConfig;
use crate::metrics::Metrics;
use crate::socketio::core::Core;
use crate::socketio::member::Member;
use crate::socketio::reason::Reason;
use crate::socketio::session::{Session, SioData, SocketState, closed_msg};

/// What the Socket.IO layer's tasks share.
pub(crate) struct Sio {
    pub config: EdgeConfig,
    /// The Engine.IO layer: its settings, sessions, limits and the sessions' tasks.
    pub engine: Engine<SioData>,
    /// Local index of this edge's sockets (value: the session carrying the socket, and its floor).
    pub index: parking_lot::RwLock<Index<Arc<Member>>>,
    /// The core the layer talks to (in production, the edge's link to one).
    pub core: Arc<dyn Core>,
    pub metrics: Metrics,
    /// Cancelled when the edge starts shutting down.
    pub shutdown: CancellationToken,
}

impl Sio {
    /// The layer's state for `config` (normalized), talking to `core`.
    pub fn new(config: EdgeConfig, core: Arc<dyn Core>) -> Self {
        Sio {
            engine: Engine::new(config.engine.clone()),
            config,
            index: parking_lot::RwLock::new(Index::new()),
            core,
            metrics: Metrics::default(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Takes a socket out of the local index, reports `$disconnect` to handlers when the namespace
    /// asks for it, and tells the core the socket is gone.
    pub fn forget_socket(&self, s: &SocketState, reason: &Reason) {
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
