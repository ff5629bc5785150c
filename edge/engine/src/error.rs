//! Why the engine refuses a request or a session: each refusal a client or operator can read.
//! The server turns them into HTTP answers in one place.

/// A request or session the engine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A request that is not a valid Engine.IO or websocket request.
    #[error("Bad request")]
    BadRequest,
    /// A polling body larger than `max_payload`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The page's origin is not allowed (Engine.IO "Forbidden").
    #[error("Forbidden: origin not allowed")]
    OriginNotAllowed,
    /// `max_sessions` reached.
    #[error("too many sessions on this server, retry later")]
    TooManySessions,
    /// `max_sessions_per_ip` reached.
    #[error("too many sessions from this address")]
    TooManySessionsFromIp,
    /// `handshakes_per_ip_per_sec` exceeded.
    #[error("too many handshakes from this address, retry later")]
    HandshakeRate,
    /// A websocket request of another protocol version than 13 (RFC 6455 4.4).
    #[error("unsupported websocket version: this server speaks 13")]
    WebsocketVersion,
    /// A request head not complete within `header_timeout_ms`.
    #[error("request head not received in time")]
    HeaderTimeout,
    /// A request head larger than `max_header_bytes`.
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// A polling POST whose body did not arrive within `poll_body_timeout_ms`.
    #[error("request body not received in time")]
    BodyTimeout,
}
