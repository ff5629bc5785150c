//! One Engine.IO session: its bounded outbound queue, transport state, Socket.IO sockets and closing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use herald_auth::Claims;
use herald_codec::BinaryAssembly;
use herald_codec::event::{Arg, encode_disconnect, encode_event};
use herald_proto::v1::{ConnectionClosed, link_request::Msg};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::edge::Edge;
use crate::engine::limits::Admitted;
use crate::socketio::recovery::{RestoreBuffer, is_recoverable};
use crate::socketio::relay::TokenBucket;
pub(crate) use herald_engine::frame::{Outgoing, PushError, SharedFrame, Transport};
use herald_engine::queue::{Queue, Reader};
use herald_engine::sink::{Sink, wire_frames, wire_outgoing, wire_texts};

/// Close reason of a session whose outbound queue overflowed.
pub(crate) const SLOW_CONSUMER: &str = "slow consumer";
/// Close reason of a session whose client sent the Engine.IO close packet.
pub(crate) const CLIENT_CLOSE: &str = "client close";
/// Close reason of a session that broke the protocol.
pub(crate) const PARSE_ERROR: &str = "parse error";

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

#[derive(Debug)]
struct State {
    transport: Transport,
    sockets: Vec<SocketState>,
    ever_connected: bool,
    assembly: Option<(BinaryAssembly, Arc<str>)>,
    closing: bool,
    /// The client closed the session with the Engine.IO close packet.
    client_closed: bool,
    drain: bool,
    final_frames: Vec<Outgoing>,
}

/// An Engine.IO session.
#[derive(Debug)]
pub(crate) struct Session {
    pub sid: Arc<str>,
    /// Outbound frames, read by the transport currently writing (a pending GET or the websocket).
    queue: Queue,
    /// Held while a polling POST is processed (a concurrent POST closes the session).
    pub post: tokio::sync::Mutex<()>,
    pub closed: CancellationToken,
    pub pong: Notify,
    /// Releases a pending GET with a noop (upgrade).
    pub noop: Notify,
    /// Sockets changed (the driver recomputes its deadlines).
    pub changed: Notify,
    /// Token from the handshake's `Authorization: Bearer` header.
    pub header_token: Option<Box<str>>,
    /// Forwarded client events waiting for their handler's reply.
    pub forwards_in_flight: AtomicUsize,
    /// Sockets of this session being restored (their live frames are buffered); 0 on the fast path.
    pub restoring: AtomicUsize,
    /// Client packets waiting on the core, in order (the Socket.IO layer's).
    pub lane: crate::socketio::lane::Lane,
    /// Cancelled once the session is out of the edge's table (after a polling client fetched
    /// its last frames, or at once for other sessions).
    pub finished: CancellationToken,
    /// The session's place in the edge's limits (its client's address), released by `finish`.
    pub admitted: std::sync::OnceLock<Admitted>,
    state: parking_lot::Mutex<State>,
}

impl Session {
    pub fn new(
        sid: Arc<str>,
        queue: usize,
        header_token: Option<Box<str>>,
        transport: Transport,
        frames_sent: Arc<AtomicU64>,
    ) -> Self {
        Session {
            sid,
            queue: Queue::new(queue, frames_sent),
            post: tokio::sync::Mutex::new(()),
            closed: CancellationToken::new(),
            pong: Notify::new(),
            noop: Notify::new(),
            changed: Notify::new(),
            header_token,
            forwards_in_flight: AtomicUsize::new(0),
            restoring: AtomicUsize::new(0),
            lane: crate::socketio::lane::Lane::default(),
            finished: CancellationToken::new(),
            admitted: std::sync::OnceLock::new(),
            state: parking_lot::Mutex::new(State {
                transport,
                sockets: Vec::new(),
                ever_connected: false,
                assembly: None,
                closing: false,
                client_closed: false,
                drain: false,
                final_frames: Vec::new(),
            }),
        }
    }

    pub fn transport(&self) -> Transport {
        self.state.lock().transport
    }

    pub fn set_transport(&self, t: Transport) {
        self.state.lock().transport = t;
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Enqueues a text frame and its binary attachments atomically (all or none), in order.
    pub fn push(&self, text: Utf8Bytes, attachments: &[Bytes]) -> Result<(), PushError> {
        let wire = || wire_frames(text.as_str(), attachments);
        self.push_frames(
            1 + attachments.len(),
            |q| {
                q.push_back(Outgoing::Text(text.clone()));
                q.extend(attachments.iter().cloned().map(Outgoing::Binary));
            },
            wire,
        )
    }

    /// Enqueues an event's frames encoded once for every recipient (the fan-out).
    pub fn push_shared(&self, frame: &SharedFrame) -> Result<(), PushError> {
        self.push_shared_with(frame, false).map(|_| ())
    }

    /// Like [`Session::push_shared`], but a websocket gathers the frames until [`Session::uncork`]:
    /// several deliveries ready at once go out in one write. `Ok(true)`: this push corked the
    /// session, the caller must uncork it.
    pub fn push_shared_corked(&self, frame: &SharedFrame) -> Result<bool, PushError> {
        self.push_shared_with(frame, true)
    }

    fn push_shared_with(&self, frame: &SharedFrame, cork: bool) -> Result<bool, PushError> {
        self.queue
            .push_with(
                1 + frame.attachments.len(),
                |q| {
                    q.push_back(Outgoing::Text(frame.text.clone()));
                    q.extend(frame.attachments.iter().cloned().map(Outgoing::Binary));
                },
                || frame.wire.clone(),
                cork,
            )
            .ok_or(PushError::Full)
    }

    /// Writes what corked pushes gathered.
    pub fn uncork(&self) {
        self.queue.uncork();
    }

    /// Enqueues several text frames atomically.
    pub fn push_texts(&self, texts: &[Utf8Bytes]) -> Result<(), PushError> {
        self.push_frames(
            texts.len(),
            |q| q.extend(texts.iter().cloned().map(Outgoing::Text)),
            || wire_texts(texts),
        )
    }

    fn push_frames(
        &self,
        n: usize,
        fill: impl FnOnce(&mut VecDeque<Outgoing>),
        wire: impl FnOnce() -> Bytes,
    ) -> Result<(), PushError> {
        match self.queue.push_with(n, fill, wire, false) {
            Some(_) => Ok(()),
            None => Err(PushError::Full),
        }
    }

    /// Enqueues a text frame and its attachments, waiting for room in the queue.
    pub async fn push_wait(&self, text: Utf8Bytes, attachments: &[Bytes]) -> Result<(), PushError> {
        loop {
            match self.push(text.clone(), attachments) {
                Err(PushError::Full) => {
                    if !self.wait_room(1 + attachments.len()).await {
                        return Err(PushError::Closed);
                    }
                }
                done => return done,
            }
        }
    }

    /// Waits until `frames` frames fit in the queue (`false`: they never will, or the session finished).
    pub async fn wait_room(&self, frames: usize) -> bool {
        tokio::select! {
            ok = self.queue.wait_room(frames) => ok && !self.finished.is_cancelled(),
            () = self.finished.cancelled() => false,
        }
    }

    /// Waits for the right to read the outbound queue (one transport at a time).
    pub async fn reader(&self) -> Reader<'_> {
        self.queue.reader().await
    }

    /// The right to read the outbound queue, unless another transport holds it.
    pub fn try_reader(&self) -> Option<Reader<'_>> {
        self.queue.try_reader()
    }

    /// Hands the outbound queue to a websocket: what is queued is written first, later frames go
    /// straight to the socket.
    pub fn attach_websocket(&self, stream: Arc<crate::engine::stream::Stream>) {
        self.queue.attach(stream, wire_outgoing);
    }

    /// Writes a websocket control frame (a pong) in order with the frames; `false` when the queue
    /// is full (the client does not read).
    pub fn push_control(&self, frame: Bytes) -> bool {
        self.queue.write_control(frame)
    }

    /// The client's IP address, when known.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.admitted.get().map(Admitted::ip)
    }

    /// Takes the websocket's write side back (closing).
    pub fn detach_websocket(&self) -> Option<Sink> {
        self.queue.detach()
    }

    /// Writes what the websocket could not take at once; returns when the socket failed.
    pub async fn flush_websocket(&self) -> std::io::Error {
        self.queue.flush().await
    }

    /// Whether some socket of the session is being restored.
    pub fn is_restoring(&self) -> bool {
        self.restoring.load(Ordering::Acquire) > 0
    }

    pub fn push_text(&self, text: impl Into<Utf8Bytes>) -> Result<(), PushError> {
        self.push(text.into(), &[])
    }

    /// Enqueues a text frame and its attachments; a full queue closes the session as a slow consumer.
    pub fn push_or_kill(&self, edge: &Edge, text: Utf8Bytes, attachments: &[Bytes]) {
        if self.push(text, attachments) == Err(PushError::Full) {
            tracing::info!(sid = %self.sid, "outbound queue full: disconnecting slow consumer");
            self.disconnect_all(edge, SLOW_CONSUMER, false);
        }
    }

    // ----- sockets -----

    pub fn has_socket(&self, ns: &str) -> bool {
        self.state.lock().sockets.iter().any(|s| &*s.ns == ns)
    }

    pub fn add_socket(&self, socket: SocketState) -> bool {
        let mut st = self.state.lock();
        if st.closing {
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

    // ----- closing -----

    /// Whether the client ended the session itself (its close packet), rather than the server.
    pub fn closed_by_client(&self) -> bool {
        self.state.lock().client_closed
    }

    /// Takes the frames to write after the queue when the session closed, and whether to flush the queue first.
    pub fn take_final(&self) -> (bool, Vec<Outgoing>) {
        let mut st = self.state.lock();
        (st.drain, std::mem::take(&mut st.final_frames))
    }

    /// Closes the session: every socket leaves the index and the core is told. Idempotent.
    pub fn close(&self, edge: &Edge, reason: &str) {
        self.close_with(edge, reason, Vec::new(), false);
    }

    /// Sends `herald:disconnect {reason}` and DISCONNECT on every socket (bypassing the queue), then closes.
    /// With `drain`, frames already queued are written first.
    pub fn disconnect_all(&self, edge: &Edge, reason: &str, drain: bool) {
        self.close_telling(edge, reason, drain, true);
    }

    /// Tells every socket why, then closes the transport without a Socket.IO DISCONNECT: the
    /// client sees "transport close" and reconnects by itself (a restart, a rolling deploy).
    pub fn close_for_restart(&self, edge: &Edge, reason: &str) {
        self.close_telling(edge, reason, true, false);
    }

    fn close_telling(&self, edge: &Edge, reason: &str, drain: bool, kick: bool) {
        let frames = {
            let st = self.state.lock();
            let mut frames = Vec::with_capacity(st.sockets.len() * 2);
            for s in &st.sockets {
                let [notice, disconnect] = disconnect_frames(&s.ns, reason);
                frames.push(Outgoing::Text(notice));
                if kick {
                    frames.push(Outgoing::Text(disconnect));
                }
            }
            frames
        };
        self.close_with(edge, reason, frames, drain);
    }

    fn close_with(&self, edge: &Edge, reason: &str, final_frames: Vec<Outgoing>, drain: bool) {
        let (sockets, linger) = {
            let mut st = self.state.lock();
            if st.closing {
                return;
            }
            st.closing = true;
            st.client_closed = reason == CLIENT_CLOSE;
            st.drain = drain;
            // A polling client fetches its last frames with a later GET: keep the session reachable
            // until then (the driver ends the wait); the close packet goes in a poll of its own.
            let linger =
                st.transport != Transport::Websocket && (drain || !final_frames.is_empty());
            st.final_frames = final_frames;
            st.assembly = None;
            (std::mem::take(&mut st.sockets), linger)
        };
        tracing::debug!(sid = %self.sid, reason, "engine.io session closed");
        edge.metrics.session_closed(reason);
        self.closed.cancel();
        if !linger {
            self.finish(edge);
        }
        for s in sockets {
            edge.forget_socket(&s, reason);
        }
    }

    /// Takes a closed session out of the edge's table (idempotent).
    pub fn finish(&self, edge: &Edge) {
        let removed = edge.sessions.lock().remove(&self.sid).is_some();
        if removed && let Some(a) = self.admitted.get() {
            edge.limits.release(a);
        }
        self.finished.cancel();
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
pub(crate) fn disconnect_frames(ns: &str, reason: &str) -> [Utf8Bytes; 2] {
    let arg = Arg::Json(serde_json::json!({ "reason": reason }).to_string());
    let ev = encode_event(ns, None, "herald:disconnect", &[arg]);
    [ev.text.into(), encode_disconnect(ns).into()]
}

/// The ConnectionClosed message for the core; the session is kept for recovery when the reason
/// says the client did not leave on purpose.
pub(crate) fn closed_msg(id: &str, reason: &str) -> Msg {
    Msg::Closed(ConnectionClosed {
        connection_id: id.to_owned(),
        reason: reason.to_owned(),
        recoverable: is_recoverable(reason),
    })
}
