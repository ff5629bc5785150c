//! `EdgeConfig`: everything the edge needs to run, with the documented defaults, and the per-namespace
//! client-event policy (`NamespaceConfig`).

use std::path::PathBuf;
use std::time::Duration;

use herald_auth::Verifier;

/// What the edge does with a client event that is neither a join/leave, a relay nor a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownEvents {
    /// Ack `{"error":"unknown event X"}` when the client asked for an ack (default).
    #[default]
    Error,
    /// Drop it silently.
    Ignore,
}

/// A pair of client events that join / leave `prefix + args[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomAlias {
    /// E.g. `"subscribe:campaign"`; empty: no join event.
    pub join: String,
    /// E.g. `"unsubscribe:campaign"`; empty: no leave event.
    pub leave: String,
    /// E.g. `"campaign:"`.
    pub prefix: String,
    /// When `args[0]` is an object, the field holding the id; empty: the namespace's `room_field`.
    pub field: String,
}

/// Whom a relay event skips besides nobody else in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayExclude {
    /// The sending connection (default).
    #[default]
    Connection,
    /// Every connection of the sender's user (all of its devices); an anonymous sender is
    /// skipped by connection.
    User,
}

/// One Socket.IO namespace the edge accepts, and its client-event policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceConfig {
    /// E.g. `"/"` or `"/v1/conversation"`.
    pub name: String,
    /// When true, connections without a token are accepted (no user topic).
    pub anonymous: bool,
    /// Client event that joins a room; empty disables the built-in join.
    pub join_event: String,
    /// Client event that leaves a room; empty disables the built-in leave.
    pub leave_event: String,
    /// Joins the token's rooms claim does not allow are asked of a `$join` handler.
    pub join_handler: bool,
    /// A `$connect` handler decides rooms and data of each connection (or refuses it).
    pub connect_handler: bool,
    /// Closed sockets are reported to `$disconnect` handlers.
    pub disconnect_handler: bool,
    /// Events relayed (volatile) to a room minus the sender, e.g. typing indicators.
    pub relay: Vec<String>,
    /// The room of a relay event: `args[0]` when a string, else `args[0][relay_room_field]`.
    pub relay_room_field: String,
    /// Sustained relay events per second per socket.
    pub relay_rate_per_sec: u32,
    /// Relay events a socket may send in a burst.
    pub relay_burst: u32,
    /// Whom a relay event skips: the sending connection, or all of the sender's user.
    pub relay_exclude: RelayExclude,
    /// The room of a join/leave event whose `args[0]` is an object: this field of it.
    pub room_field: String,
    /// Client events per second one user may send in the namespace (all its connections on this
    /// edge together); 0: no limit. Events over it are refused with the `rate limited` error.
    pub user_event_rate_per_sec: u32,
    /// Client events one user may send in a burst.
    pub user_event_burst: u32,
    /// Events given to backend handlers; the handler's reply is the client's ack.
    pub forward: Vec<String>,
    /// Policy for every other client event.
    pub unknown_events: UnknownEvents,
    /// Extra join/leave events mapping an id to a prefixed room.
    pub room_aliases: Vec<RoomAlias>,
    /// Rooms one socket may be in (the core enforces it; the edge checks locally to answer fast).
    pub max_rooms_per_connection: u32,
    /// Socket.IO connection-state recovery: a private session id (`pid`) in the CONNECT reply, the
    /// offset as the last argument of recoverable events, and sessions restored on reconnection.
    pub connection_state_recovery: bool,
}

impl NamespaceConfig {
    /// A namespace with the defaults of the runtime contract (auth required, built-in
    /// `join`/`leave`, no handlers, no relay, no forward, unknown events answered with an error,
    /// connection-state recovery on).
    pub fn new(name: impl Into<String>) -> Self {
        NamespaceConfig {
            name: name.into(),
            anonymous: false,
            join_event: "join".to_owned(),
            leave_event: "leave".to_owned(),
            join_handler: false,
            connect_handler: false,
            disconnect_handler: false,
            relay: Vec::new(),
            relay_room_field: "room".to_owned(),
            relay_rate_per_sec: 10,
            relay_burst: 20,
            relay_exclude: RelayExclude::Connection,
            room_field: "room".to_owned(),
            user_event_rate_per_sec: 100,
            user_event_burst: 200,
            forward: Vec::new(),
            unknown_events: UnknownEvents::Error,
            room_aliases: Vec::new(),
            max_rooms_per_connection: 100,
            connection_state_recovery: false,
        }
    }
}

/// Settings of one edge process.
pub struct EdgeConfig {
    /// A name for logs and for the core (`LinkHello.edge_name`).
    pub name: String,
    /// The cores' gRPC addresses, e.g. `"http://127.0.0.1:50051"`, tried in order: when the link
    /// breaks the edge links to the next one and registers its sockets there again.
    pub core_urls: Vec<String>,
    /// Sent as `authorization: Bearer ...` on the Link stream and the edge's own unary calls.
    pub service_token: String,
    /// Engine.IO ping interval.
    pub ping_interval: Duration,
    /// How long to wait for a pong before closing a session.
    pub ping_timeout: Duration,
    /// Engine.IO `maxPayload`: largest accepted message / POST body, in bytes.
    pub max_payload: u64,
    /// Accepted namespaces; empty means `"/"` with auth required.
    pub namespaces: Vec<NamespaceConfig>,
    /// Verifies client tokens.
    pub verifier: Verifier,
    /// Where static files are served from (`None`: every static GET is a 404).
    pub static_dir: Option<PathBuf>,
    /// Bounded outbound queue length, in frames, per Engine.IO session.
    pub outbound_queue: usize,
    /// A Socket.IO CONNECT must arrive within this time after the handshake.
    pub connect_timeout: Duration,
    /// Upper bound for the graceful shutdown.
    pub shutdown_grace: Duration,
    /// Opens the link to the core in-process instead of over gRPC (`herald serve`).
    pub connector: Option<std::sync::Arc<dyn crate::CoreConnector>>,
    /// TLS towards the core (an `https://` core URL): CA and optional client identity.
    pub core_tls: Option<tonic::transport::ClientTlsConfig>,
    /// Appended to `/metrics` instead of the core's `Stats` (the in-process core's own metrics).
    pub extra_metrics: Option<crate::ExtraMetrics>,
    /// Enables `/admin/` and its API for requests with `Authorization: Bearer <secret>`.
    pub admin_secret: Option<String>,
}

impl EdgeConfig {
    /// A configuration with the defaults of the runtime contract.
    pub fn new(
        core_url: impl Into<String>,
        service_token: impl Into<String>,
        verifier: Verifier,
    ) -> Self {
        EdgeConfig {
            name: "edge".to_owned(),
            core_urls: vec![core_url.into()],
            service_token: service_token.into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            namespaces: Vec::new(),
            verifier,
            static_dir: None,
            outbound_queue: 1024,
            connect_timeout: Duration::from_secs(45),
            shutdown_grace: Duration::from_secs(10),
            connector: None,
            extra_metrics: None,
            core_tls: None,
            admin_secret: None,
        }
    }

    /// The namespace's settings, if it is accepted.
    pub(crate) fn namespace(&self, name: &str) -> Option<&NamespaceConfig> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// Fills in the defaults that depend on other fields.
    pub(crate) fn normalize(&mut self) {
        if self.namespaces.is_empty() {
            self.namespaces.push(NamespaceConfig::new("/"));
        }
        self.outbound_queue = self.outbound_queue.max(8);
    }
}
