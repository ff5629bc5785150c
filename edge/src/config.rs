//! The edge's configuration: `EdgeSettings` (the `[edge]` section of the file, every default written
//! once, here, the Engine.IO layer's nested from `herald_engine::EngineConfig`), `EdgeConfig` (what `run` takes, built from the settings), and the per-namespace
//! client-event policy (`NamespaceConfig`).

use std::path::PathBuf;
use std::time::Duration;

use herald_auth::Verifier;
use serde::{Deserialize, Serialize};

pub use herald_engine::Rate;
use herald_engine::{EngineConfig, Settings};

/// The development service token used when none is configured (start-up warns about it).
pub const DEV_SERVICE_TOKEN: &str = "herald-dev-service-token";

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
    /// connection-state recovery off).
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

/// The `[edge]` section of the configuration file. Every option's default is written once, in
/// its `Default` impl; [`EdgeConfig::from_settings`] turns it into what [`crate::run`] takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Unknown options are reported by the file's shape check (serde cannot refuse them beside a
// flattened section).
#[serde(default)]
pub struct EdgeSettings {
    /// Address of the HTTP / Socket.IO endpoint.
    pub listen: String,
    /// Name shown in the core's logs.
    pub name: String,
    /// The core to link to (`herald edge`; `herald serve` links to its own core).
    pub core_url: String,
    /// Cores to link to, tried in order, failing over to the next when the link breaks; when
    /// set, used instead of `core_url`.
    pub core_urls: Vec<String>,
    /// The service token the edge presents to the core.
    pub service_token: String,
    /// How long a client may take to send its Socket.IO CONNECT.
    pub connect_timeout_ms: u64,
    /// How long shutdown waits for sockets to be told and closed.
    pub shutdown_grace_ms: u64,
    /// Folder served at `/` (the example page); empty to serve nothing.
    pub static_dir: String,
    /// PEM CA certificates that verify the core's certificate (`https://` core URLs).
    pub core_ca_file: String,
    /// PEM client certificate the edge (and the CLI) present to a core that requires mTLS.
    pub core_cert_file: String,
    /// PEM private key of `core_cert_file`.
    pub core_key_file: String,
    /// Secret of the admin console (`/admin/`) and its API; empty disables them.
    pub admin_secret: String,
    /// PEM certificate chain (leaf first) of the edge; with `tls_key_file`, the edge speaks
    /// HTTPS / WSS only.
    pub tls_cert_file: String,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: String,

    /// The Engine.IO layer's options (ping, payload, queue, limits, origins), read from the same
    /// `[edge]` section.
    #[serde(flatten)]
    pub engine: EngineConfig,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            name: "edge".into(),
            core_url: "http://127.0.0.1:50051".into(),
            core_urls: Vec::new(),
            service_token: DEV_SERVICE_TOKEN.into(),
            connect_timeout_ms: 45_000,
            shutdown_grace_ms: 5_000,
            static_dir: "clients/js".into(),
            core_ca_file: String::new(),
            core_cert_file: String::new(),
            core_key_file: String::new(),
            admin_secret: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            engine: EngineConfig::default(),
        }
    }
}

impl EdgeSettings {
    /// Checks the values of the edge's limits and origins; the error names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.tls_cert_file.is_empty() != self.tls_key_file.is_empty() {
            return Err("edge.tls_cert_file / edge.tls_key_file: set both, or neither".into());
        }
        self.engine.validate("edge")
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
    /// The Engine.IO layer's settings (heartbeat, payload, queue, limits, origins).
    pub engine: Settings,
    /// Accepted namespaces; empty means `"/"` with auth required.
    pub namespaces: Vec<NamespaceConfig>,
    /// Verifies client tokens.
    pub verifier: Verifier,
    /// Where static files are served from (`None`: every static GET is a 404).
    pub static_dir: Option<PathBuf>,
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
    /// HTTPS: every connection speaks TLS with this configuration; `None` for plain HTTP.
    pub tls: Option<crate::EdgeTls>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

impl EdgeConfig {
    /// A configuration with the defaults of [`EdgeSettings`], linking to `core_url`, serving no
    /// static files.
    pub fn new(
        core_url: impl Into<String>,
        service_token: impl Into<String>,
        verifier: Verifier,
    ) -> Self {
        let mut c = Self::from_settings(&EdgeSettings::default(), verifier)
            .unwrap_or_else(|_| unreachable!("the default settings are valid"));
        c.core_urls = vec![core_url.into()];
        c.service_token = service_token.into();
        c.static_dir = None;
        c
    }

    /// The configuration an `[edge]` section describes (without TLS towards the core nor the
    /// edge's own HTTPS, whose files the caller reads, and with no namespaces yet). Fails on values [`EdgeSettings::validate`]
    /// refuses.
    pub fn from_settings(s: &EdgeSettings, verifier: Verifier) -> Result<Self, String> {
        s.validate()?;
        let core_urls = if s.core_urls.is_empty() {
            vec![s.core_url.clone()]
        } else {
            s.core_urls.clone()
        };
        Ok(EdgeConfig {
            name: s.name.clone(),
            core_urls,
            service_token: s.service_token.clone(),
            engine: s.engine.settings("edge")?,
            namespaces: Vec::new(),
            verifier,
            static_dir: non_empty(&s.static_dir).map(PathBuf::from),
            connect_timeout: Duration::from_millis(s.connect_timeout_ms),
            shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
            connector: None,
            extra_metrics: None,
            core_tls: None,
            admin_secret: non_empty(&s.admin_secret),
            tls: None,
        })
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_are_valid() {
        assert_eq!(EdgeSettings::default().validate(), Ok(()));
    }

    #[test]
    fn a_programmatic_config_has_the_file_defaults() {
        let verifier = Verifier::new(&herald_auth::AuthConfig {
            hs256_secret: Some("s".into()),
            ..Default::default()
        })
        .unwrap();
        let c = EdgeConfig::new("http://core:1", "token", verifier);
        let d = EdgeSettings::default();
        assert_eq!(c.core_urls, ["http://core:1"]);
        assert_eq!(c.shutdown_grace, Duration::from_millis(d.shutdown_grace_ms));
        assert_eq!(c.engine.ping_interval, d.engine.ping_interval());
        assert_eq!(
            c.connect_timeout,
            Duration::from_millis(d.connect_timeout_ms)
        );
        assert_eq!(
            c.engine.header_timeout,
            Duration::from_millis(d.engine.header_timeout_ms)
        );
        assert_eq!(c.engine.max_sessions_per_ip, d.engine.max_sessions_per_ip);
        assert_eq!(c.static_dir, None, "no files unless asked");
    }

    #[test]
    fn bad_limits_name_the_option() {
        let s = EdgeSettings {
            engine: EngineConfig {
                max_header_bytes: 10,
                ..EngineConfig::default()
            },
            ..EdgeSettings::default()
        };
        assert!(s.validate().unwrap_err().contains("edge.max_header_bytes"));
        let s = EdgeSettings {
            engine: EngineConfig {
                allowed_origins: vec!["example.com".into()],
                ..EngineConfig::default()
            },
            ..EdgeSettings::default()
        };
        assert!(s.validate().unwrap_err().contains("edge.allowed_origins"));
        let s = EdgeSettings {
            tls_cert_file: "edge.pem".into(),
            ..EdgeSettings::default()
        };
        assert!(s.validate().unwrap_err().contains("edge.tls_key_file"));
    }
}
