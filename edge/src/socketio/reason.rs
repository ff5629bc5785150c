//! Why a socket or a session closes: one typed reason, its text (what the client reads in
//! `herald:disconnect`, what the core and the handlers record) and whether the core keeps the
//! session for recovery.

use herald_engine::Close;

/// What the core's records and `herald:disconnect` say of a socket the events it missed could
/// not be replayed to.
const NOT_REPLAYED: &str = "missed events cannot be replayed (core restarted)";

/// Why a socket or a session closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The engine closed the session (ping timeout, transport close, slow consumer, ...).
    Engine(Close),
    /// No Socket.IO CONNECT within `connect_timeout_ms`.
    ConnectTimeout,
    /// The socket's token expired.
    TokenExpired,
    /// The client left the namespace (its Socket.IO DISCONNECT).
    ClientNamespaceDisconnect,
    /// The core did not register a new socket.
    ConnectFailed,
    /// A packet's attachments together exceed `max_payload`.
    AttachmentsTooLarge,
    /// More client requests waiting than a session may have.
    TooManyPending,
    /// The edge is shutting down: the client reconnects by itself.
    ServerShuttingDown,
    /// After a link loss, the events a resumed socket missed could not be replayed.
    NotReplayed,
    /// After a link loss, the core refused to register the socket again, with its words.
    CoreRefused(Box<str>),
    /// A backend ended the socket (`Disconnect`), with its words if it gave any.
    Kicked(Option<Box<str>>),
}

impl Reason {
    /// The reason's text.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Engine(c) => c.as_str(),
            Reason::ConnectTimeout => "connect timeout",
            Reason::TokenExpired => "token expired",
            Reason::ClientNamespaceDisconnect => "client namespace disconnect",
            Reason::ConnectFailed => "connect failed",
            Reason::AttachmentsTooLarge => "attachments too large",
            Reason::TooManyPending => "too many pending requests",
            Reason::ServerShuttingDown => "server shutting down",
            Reason::NotReplayed => NOT_REPLAYED,
            Reason::CoreRefused(why) => why,
            Reason::Kicked(why) => why.as_deref().unwrap_or("kicked"),
        }
    }

    /// Whether the core keeps the socket's session for recovery: the transport was lost or the
    /// server restarts, the client did not leave. Everything else (the client's DISCONNECT or
    /// engine close, kicks, expired tokens, slow consumers, protocol errors) ends it for good.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Reason::Engine(Close::TransportClose | Close::TransportError | Close::PingTimeout)
                | Reason::ServerShuttingDown
        )
    }

    /// The close the client asked for with the Engine.IO close packet.
    pub fn is_client_close(&self) -> bool {
        *self == Reason::Engine(Close::ClientClose)
    }
}

impl From<Close> for Reason {
    fn from(c: Close) -> Self {
        Reason::Engine(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_transport_or_a_restart_keeps_the_session() {
        for r in [
            Reason::Engine(Close::TransportClose),
            Reason::Engine(Close::TransportError),
            Reason::Engine(Close::PingTimeout),
            Reason::ServerShuttingDown,
        ] {
            assert!(r.is_recoverable(), "{r:?}");
        }
        for r in [
            Reason::ClientNamespaceDisconnect,
            Reason::Engine(Close::ClientClose),
            Reason::Engine(Close::SlowConsumer),
            Reason::Engine(Close::ParseError),
            Reason::Kicked(None),
            Reason::TokenExpired,
            Reason::NotReplayed,
        ] {
            assert!(!r.is_recoverable(), "{r:?}");
        }
    }

    #[test]
    fn a_kick_says_the_backends_words_or_kicked() {
        assert_eq!(Reason::Kicked(None).as_str(), "kicked");
        assert_eq!(Reason::Kicked(Some("banned".into())).as_str(), "banned");
        assert_eq!(Reason::Engine(Close::PingTimeout).as_str(), "ping timeout");
    }
}
