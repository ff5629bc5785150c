//! The Socket.IO layer's data on an Engine.IO session (sockets, acks,
//! binary reassembly, the client's lane) and closing a session through both layers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use herald_auth::Claims;
use herald_codec::BinaryAssembly;
use herald_codec::event::{Arg, encode_disconnect, encode_event};
use herald_proto::v1::{ConnectionClosed, link_request::Msg};

use crate::socketio::reason::Reason;
use crate::socketio::recovery::RestoreBuffer;
use crate::socketio::relay::TokenBucket;
use crate::socketio::state::Sio;
use herald_engine::Close;
pub(crate) use herald_engine::frame::{Outgoing, PushError, SharedFrame};

/// Most acks a socket may owe at once; older ones are forgotten first.
const MAX_PENDING_ACKS: usize = 256;

/// One Socket.IO socket (a namespace connection) of the session.
#[derive(Debug)]
pub(crate) struct SocketState {
    pub ns: Arc<str>,
    pub id: Arc<str>,
    /// Verified claims (without the raw map); `None` for anonymous sockets.
    pub claims: Option<Box<Claims>>,
    /// The token's claims as JSON text (empty for anonymous sockets), for forwards.
    pub claims_json: Box<str>,
    /// What a `$connect` handler attached (JSON text; empty if none), for forwards.
    pub data_json: Box<str>,
    /// Rate limit of relay events.
    pub relay: TokenBucket,
    /// Rate limit of the user's client events, shared by its sockets (`None`: no limit).
    pub user_rate: Option<crate::socketio::user_rate::UserRate>,
    /// Private session id for connection-state recovery (`None` when the namespace has it off).
    pub pid: Option<Box<str>>,
    /// Live frames held back while the socket is registered or its replay is being queued.
    pub restoring: Option<RestoreBuffer>,
    /// Rooms a backend joined the socket to: their authorization survives recovery.
    pub granted: Vec<Box<str>>,
    next_ack: u64,
    /// (ack id sent to the client, the core's ack_ref).
    acks: VecDeque<(u64, u64)>,
}

/// The Socket.IO layer's part of a session, under its own lock: its sockets and the binary
/// packet being reassembled.
#[derive(Debug, Default)]
struct State {
    sockets: Vec<SocketState>,
    ever_connected: bool,
    assembly: Option<(BinaryAssembly, Arc<str>)>,
}

/// What the Socket.IO layer attaches to an Engine.IO session.
#[derive(Debug)]
pub(crate) struct SioData {
    /// Token from the handshake's `Authorization: Bearer` header.
    pub header_token: Option<Box<str>>,
    /// Forwarded client events waiting for their handler's reply.
    pub forwards_in_flight: AtomicUsize,
    /// Sockets of this session being restored (their live frames are buffered); 0 on the fast path.
    pub restoring: AtomicUsize,
    /// Client packets waiting on the core, in order (the Socket.IO layer's).
    pub lane: crate::socketio::lane::Lane,
    state: parking_lot::Mutex<State>,
}

/// An Engine.IO session of the edge: the engine's session carrying the Socket.IO layer's data.
pub(crate) type Session = herald_engine::Session<SioData>;

impl SioData {
    pub fn new(header_token: Option<Box<str>>) -> Self {
        SioData {
            header_token,
            forwards_in_flight: AtomicUsize::new(0),
            restoring: AtomicUsize::new(0),
            lane: crate::socketio::lane::Lane::default(),
            state: parking_lot::Mutex::default(),
        }
    }

    /// Whether some socket of the session is being restored.
    pub fn is_restoring(&self) -> bool {
        self.restoring.load(Ordering::Acquire) > 0
    }

    // ----- sockets -----

    pub fn has_socket(&self, ns: &str) -> bool {
        self.state.lock().sockets.iter().any(|s| &*s.ns == ns)
    }

    pub fn remove_socket(&self, ns: &str) -> Option<SocketState> {
        let mut st = self.state.lock();
        let pos = st.sockets.iter().position(|s| &*s.ns == ns)?;
        Some(st.sockets.swap_remove(pos))
    }

    pub fn socket_id(&self, ns: &str) -> Option<Arc<str>> {
        self.state
            .lock()
            .sockets
            .iter()
            .find(|s| &*s.ns == ns)
            .map(|s| s.id.clone())
    }

    /// Runs `f` on the socket of `ns`, if connected.
    pub fn with_socket<R>(&self, ns: &str, f: impl FnOnce(&mut SocketState) -> R) -> Option<R> {
        let mut st = self.state.lock();
        st.sockets.iter_mut().find(|s| &*s.ns == ns).map(f)
    }

    pub fn ever_connected(&self) -> bool {
        self.state.lock().ever_connected
    }

    /// The earliest token expiry of the session's sockets (Unix seconds) and that socket's namespace.
    pub fn earliest_exp(&self) -> Option<(u64, Arc<str>)> {
        let st = self.state.lock();
        st.sockets
            .iter()
            .filter_map(|s| s.claims.as_ref().map(|c| (c.exp, s.ns.clone())))
            .min_by_key(|(exp, _)| *exp)
    }

    // ----- binary reassembly -----

    pub fn start_assembly(&self, assembly: BinaryAssembly, ns: Arc<str>) -> bool {
        let mut st = self.state.lock();
        if st.assembly.is_some() {
            return false;
        }
        st.assembly = Some((assembly, ns));
        true
    }

    pub fn take_assembly(&self) -> Option<(BinaryAssembly, Arc<str>)> {
        self.state.lock().assembly.take()
    }

    pub fn put_assembly(&self, a: (BinaryAssembly, Arc<str>)) {
        self.state.lock().assembly = Some(a);
    }

    /// The namespaces of the session's sockets.
    fn namespaces(&self) -> Vec<Arc<str>> {
        self.state
            .lock()
            .sockets
            .iter()
            .map(|s| s.ns.clone())
            .collect()
    }

    /// Takes every socket out (the session closed), and drops a partial binary packet.
    fn take_sockets(&self) -> Vec<SocketState> {
        let mut st = self.state.lock();
        st.assembly = None;
        std::mem::take(&mut st.sockets)
    }
}

/// What the edge does with a session that needs both layers (its sockets and its closing).
pub(crate) trait SessionExt {
    /// Adds a socket; `false` when the session is closing.
    fn add_socket(&self, socket: SocketState) -> bool;
    /// Enqueues a text frame and its attachments; a full queue closes the session as a slow consumer.
    fn push_or_kill(&self, sio: &Sio, text: Utf8Bytes, attachments: &[Bytes]);
    /// Closes the session: every socket leaves the index and the core is told. Idempotent.
    fn close(&self, sio: &Sio, reason: Reason);
    /// Sends `herald:disconnect {reason}` and DISCONNECT on every socket (bypassing the queue),
    /// then closes. With `drain`, frames already queued are written first.
    fn disconnect_all(&self, sio: &Sio, reason: Reason, drain: bool);
    /// Tells every socket why, then closes the transport without a Socket.IO DISCONNECT: the
    /// client sees "transport close" and reconnects by itself (a restart, a rolling deploy).
    fn close_for_restart(&self, sio: &Sio, reason: Reason);
    /// Takes a closed session out of the edge's table (idempotent).
    fn finish(&self, sio: &Sio);
}

impl SessionExt for Session {
    fn add_socket(&self, socket: SocketState) -> bool {
        let mut st = self.state.lock();
        // Checked under the sockets' lock: a close marks the session closing before it takes
        // the sockets, so a socket is either refused here or taken by the close.
        if self.is_closing() {
            return false;
        }
        st.ever_connected = true;
        // Nearly every session has one socket: no room for more until needed.
        st.sockets.reserve_exact(1);
        st.sockets.push(socket);
        drop(st);
        self.changed.notify_one();
        true
    }

    fn push_or_kill(&self, sio: &Sio, text: Utf8Bytes, attachments: &[Bytes]) {
        if self.push(text, attachments) == Err(PushError::Full) {
            tracing::info!(sid = %self.sid, "outbound queue full: disconnecting slow consumer");
            self.disconnect_all(sio, Close::SlowConsumer.into(), false);
        }
    }

    fn close(&self, sio: &Sio, reason: Reason) {
        close_with(self, sio, reason, Vec::new(), false);
    }

    fn disconnect_all(&self, sio: &Sio, reason: Reason, drain: bool) {
        close_telling(self, sio, reason, drain, true);
    }

    fn close_for_restart(&self, sio: &Sio, reason: Reason) {
        close_telling(self, sio, reason, true, false);
    }

    fn finish(&self, sio: &Sio) {
        sio.engine.sessions.finish(self, &sio.engine.limits);
    }
}

fn close_telling(session: &Session, sio: &Sio, reason: Reason, drain: bool, kick: bool) {
    let namespaces = session.namespaces();
    let mut frames = Vec::with_capacity(namespaces.len() * 2);
    for ns in &namespaces {
        let [notice, disconnect] = disconnect_frames(ns, &reason);
        frames.push(Outgoing::Text(notice));
        if kick {
            frames.push(Outgoing::Text(disconnect));
        }
    }
    close_with(session, sio, reason, frames, drain);
}

fn close_with(
    session: &Session,
    sio: &Sio,
    reason: Reason,
    final_frames: Vec<Outgoing>,
    drain: bool,
) {
    let Some(linger) = session.begin_close(reason.is_client_close(), final_frames, drain) else {
        return;
    };
    let sockets = session.take_sockets();
    tracing::debug!(sid = %session.sid, reason = reason.as_str(), "engine.io session closed");
    match reason {
        Reason::Engine(Close::SlowConsumer) => sio.metrics.slow_consumer(),
        Reason::Engine(Close::ParseError) => sio.metrics.malformed(),
        _ => {}
    }
    session.closed.cancel();
    if !linger {
        session.finish(sio);
    }
    for s in sockets {
        sio.forget_socket(&s, &reason);
    }
}

impl SocketState {
    /// A freshly connected socket.
    pub fn new(
        ns: Arc<str>,
        id: Arc<str>,
        claims: Option<Box<Claims>>,
        claims_json: Box<str>,
        data_json: Box<str>,
        relay: TokenBucket,
    ) -> Self {
        SocketState {
            ns,
            id,
            claims,
            claims_json,
            data_json,
            relay,
            user_rate: None,
            pid: None,
            restoring: None,
            granted: Vec::new(),
            next_ack: 0,
            acks: VecDeque::new(),
        }
    }

    /// The user id (`sub`), empty for anonymous sockets.
    pub fn user(&self) -> &str {
        self.claims.as_ref().map_or("", |c| c.sub.as_str())
    }

    /// Remembers that the client's ack for a new ack id answers `ack_ref`; returns the ack id.
    pub fn register_ack(&mut self, ack_ref: u64) -> u64 {
        let id = self.next_ack;
        self.next_ack = self.next_ack.wrapping_add(1);
        if self.acks.len() >= MAX_PENDING_ACKS {
            self.acks.pop_front();
        }
        self.acks.push_back((id, ack_ref));
        id
    }

    /// The ack_ref a client ack id answers (once).
    pub fn take_ack(&mut self, id: u64) -> Option<u64> {
        let pos = self.acks.iter().position(|(a, _)| *a == id)?;
        self.acks.remove(pos).map(|(_, r)| r)
    }
}

/// `herald:disconnect {reason}` then DISCONNECT for namespace `ns`.
pub(crate) fn disconnect_frames(ns: &str, reason: &Reason) -> [Utf8Bytes; 2] {
    let arg = Arg::Json(serde_json::json!({ "reason": reason.as_str() }).to_string());
    let ev = encode_event(ns, None, "herald:disconnect", &[arg]);
    [ev.text.into(), encode_disconnect(ns).into()]
}

/// The ConnectionClosed message for the core; the session is kept for recovery when the reason
/// says the client did not leave on purpose.
pub(crate) fn closed_msg(id: &str, reason: &Reason) -> Msg {
    Msg::Closed(ConnectionClosed {
        connection_id: id.to_owned(),
        reason: reason.as_str().to_owned(),
        recoverable: reason.is_recoverable(),
    })
}
