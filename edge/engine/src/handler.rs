//! The interface between the engine and the layer above it: what that layer attaches to each
//! session, the deadlines it keeps, and how a session the engine gives up on is closed.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::session::Session;

/// Why the engine closes a session (the reason the layer above reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// No pong within the ping timeout.
    PingTimeout,
    /// The outbound queue overflowed: the client does not keep up.
    SlowConsumer,
    /// The client closed the session with the Engine.IO close packet.
    ClientClose,
    /// The client broke the protocol.
    ParseError,
    /// The sessions of the client's address sent packets over their rate.
    RateLimited,
    /// The client closed its connection.
    TransportClose,
    /// Two polling requests of the same kind at once.
    MultiplePolls,
    /// A polling POST did not send its body in time.
    BodyTimeout,
    /// A polling POST larger than `max_payload`.
    PayloadTooLarge,
    /// Reading or writing the connection failed.
    TransportError,
    /// The HTTP stack's websocket upgrade did not complete.
    UpgradeFailed,
}

impl Close {
    /// The reason's text, as the layer above and the metrics name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Close::PingTimeout => "ping timeout",
            Close::SlowConsumer => "slow consumer",
            Close::ClientClose => "client close",
            Close::ParseError => "parse error",
            Close::RateLimited => "message rate exceeded",
            Close::TransportClose => "transport close",
            Close::MultiplePolls => "multiple polling requests",
            Close::BodyTimeout => "polling body timeout",
            Close::PayloadTooLarge => "payload too large",
            Close::TransportError => "transport error",
            Close::UpgradeFailed => "websocket upgrade failed",
        }
    }
}

/// What the layer above the engine implements.
pub trait Handler: Send + Sync + 'static {
    /// The data it attaches to each session.
    type Data: Send + Sync + 'static;

    /// Why the layer above refuses a message (the session is then closed as a parse error).
    type Error: Display + Send;

    /// The engine the handler serves (its settings, sessions, limits and tasks).
    fn engine(&self) -> &Engine<Self::Data>;

    /// The data attached to a new session; `bearer` is the credential of the handshake's
    /// `Authorization: Bearer` header, if any (the engine does not read it).
    fn session_data(&self, bearer: Option<Box<str>>) -> Self::Data;

    /// Whether new sessions are accepted (not while the server drains).
    fn accepting(&self) -> bool {
        true
    }

    /// A session was opened and registered (e.g. count it, start its driver).
    fn opened(self: &Arc<Self>, session: &Arc<Session<Self::Data>>) {
        let _ = session;
    }

    /// A text message from the client (the Engine.IO `4` packet's data).
    fn message(
        self: &Arc<Self>,
        session: &Arc<Session<Self::Data>>,
        text: String,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// A binary message from the client.
    fn binary(
        self: &Arc<Self>,
        session: &Arc<Session<Self::Data>>,
        data: Bytes,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The layer's next deadline for the session (opened at `opened`), e.g. the time allowed to
    /// join or a credential's expiry; recomputed whenever [`Session::changed`] is notified.
    fn deadline(&self, session: &Session<Self::Data>, opened: Instant) -> Option<Instant>;

    /// A deadline given by [`Handler::deadline`] came; `false` when the session is over.
    fn deadline_reached(&self, session: &Arc<Session<Self::Data>>, opened: Instant) -> bool;

    /// Closes the session for an engine reason: the layer above tells its side and marks the
    /// session closed ([`Session::begin_close`], then [`Session::closed`] cancelled).
    fn close(&self, session: &Arc<Session<Self::Data>>, reason: Close);

    /// Takes a closed session out of the server's table and releases its limits (idempotent).
    fn finish(&self, session: &Session<Self::Data>);
}
