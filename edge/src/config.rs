//! The edge's configuration: `EdgeSettings` (the `[edge]` section of the file, every default written
//! once, here), `EdgeConfig` (what `run` takes, built from the settings), and the per-namespace
//! client-event policy (`NamespaceConfig`).

use std::path::PathBuf;
use std::time::Duration;

use herald_auth::Verifier;
use serde::{Deserialize, Serialize};

use crate::engine::origin::Origins;
use crate::engine::peer::TrustedProxies;

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
#[serde(default, deny_unknown_fields)]
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
    /// Engine.IO ping interval.
    pub ping_interval_ms: u64,
    /// How long to wait for a pong before closing.
    pub ping_timeout_ms: u64,
    /// Largest Engine.IO message or polling body, in bytes.
    pub max_payload: u64,
    /// Frames queued per session (control frames included) before it is disconnected as too slow.
    pub outbound_queue: usize,
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

    // ----- limits of the HTTP / Engine.IO layer -----
    /// Longest wait for a complete HTTP request head on a connection (slow clients are dropped).
    pub header_timeout_ms: u64,
    /// Largest HTTP request head, in bytes (431 above it).
    pub max_header_bytes: usize,
    /// Longest time a polling POST may take to send its body (408 and the session closed).
    pub poll_body_timeout_ms: u64,
    /// Engine.IO sessions this edge holds at once (503 above it); 0: no limit.
    pub max_sessions: usize,
    /// Engine.IO sessions one client IP address may hold at once (429 above it); 0: no limit.
    pub max_sessions_per_ip: usize,
    /// Engine.IO handshakes one IP address may make per second, sustained (429 above it); 0: no limit.
    pub handshakes_per_ip_per_sec: u32,
    /// Handshakes one IP address may make in a burst.
    pub handshake_burst_per_ip: u32,
    /// Engine.IO packets the sessions of one IP address may send per second, sustained (the
    /// session that goes over is disconnected); 0: no limit.
    pub messages_per_ip_per_sec: u32,
    /// Packets the sessions of one IP address may send in a burst.
    pub message_burst_per_ip: u32,
    /// Proxies (addresses, `10.0.0.0/8` networks) whose `X-Forwarded-For` names the client's
    /// address for the per-address limits; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,

    // ----- origins -----
    /// Origins a browser page may connect from (`https://app.example.com`, `https://*.example.com`,
    /// `*.example.com` for http and https); empty allows every origin.
    pub allowed_origins: Vec<String>,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            name: "edge".into(),
            core_url: "http://127.0.0.1:50051".into(),
            core_urls: Vec::new(),
            service_token: DEV_SERVICE_TOKEN.into(),
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            outbound_queue: 1024,
            connect_timeout_ms: 45_000,
            shutdown_grace_ms: 5_000,
            static_dir: "clients/js".into(),
            core_ca_file: String::new(),
            core_cert_file: String::new(),
            core_key_file: String::new(),
            admin_secret: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),

            header_timeout_ms: 10_000,
            max_header_bytes: 16 * 1024,
            poll_body_timeout_ms: 10_000,
            max_sessions: 100_000,
            max_sessions_per_ip: 1000,
            handshakes_per_ip_per_sec: 100,
            handshake_burst_per_ip: 500,
            messages_per_ip_per_sec: 10_000,
            message_burst_per_ip: 20_000,
            trusted_proxies: Vec::new(),

            allowed_origins: Vec::new(),
        }
    }
}

impl EdgeSettings {
    /// Checks the values of the edge's limits and origins; the error names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.tls_cert_file.is_empty() != self.tls_key_file.is_empty() {
            return Err("edge.tls_cert_file / edge.tls_key_file: set both, or neither".into());
        }
        for (name, v) in [
            ("edge.header_timeout_ms", self.header_timeout_ms),
            ("edge.poll_body_timeout_ms", self.poll_body_timeout_ms),
        ] {
            if v == 0 {
                return Err(format!("{name}: must be greater than 0"));
            }
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err(format!(
                "edge.max_header_bytes: must be at least {MIN_HEADER_BYTES}"
            ));
        }
        for (name, rate, burst) in [
            (
                "edge.handshake_burst_per_ip",
                self.handshakes_per_ip_per_sec,
                self.handshake_burst_per_ip,
            ),
            (
                "edge.message_burst_per_ip",
                self.messages_per_ip_per_sec,
                self.message_burst_per_ip,
            ),
        ] {
            if rate > 0 && burst == 0 {
                return Err(format!(
                    "{name}: must be greater than 0 when its rate is set"
                ));
            }
        }
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| format!("edge.trusted_proxies: {e}"))?;
        Origins::parse(&self.allowed_origins)
            .map(|_| ())
            .map_err(|e| format!("edge.allowed_origins: {e}"))
    }
}

/// Smallest `max_header_bytes` accepted (a browser's request head needs about this much).
pub const MIN_HEADER_BYTES: usize = 1024;

/// A sustained rate with a burst (a token bucket); `per_sec == 0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: u32,
    pub burst: u32,
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
    /// Bounded outbound queue length, in frames (control frames included), per Engine.IO session.
    pub outbound_queue: usize,
    /// A Socket.IO CONNECT must arrive within this time after the handshake.
    pub connect_timeout: Duration,
    /// Upper bound for the graceful shutdown.
    pub shutdown_grace: Duration,
    /// Longest wait for a complete HTTP request head.
    pub header_timeout: Duration,
    /// Largest HTTP request head, in bytes.
    pub max_header_bytes: usize,
    /// Longest time a polling POST may take to send its body.
    pub poll_body_timeout: Duration,
    /// Engine.IO sessions held at once; 0: no limit.
    pub max_sessions: usize,
    /// Engine.IO sessions per client IP address; 0: no limit.
    pub max_sessions_per_ip: usize,
    /// Engine.IO handshakes per client IP address.
    pub handshake_rate: Rate,
    /// Engine.IO packets from the sessions of one client IP address.
    pub message_rate: Rate,
    /// Proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: TrustedProxies,
    /// Origins browsers may connect from; empty allows all.
    pub allowed_origins: Origins,
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
            ping_interval: Duration::from_millis(s.ping_interval_ms),
            ping_timeout: Duration::from_millis(s.ping_timeout_ms),
            max_payload: s.max_payload,
            namespaces: Vec::new(),
            verifier,
            static_dir: non_empty(&s.static_dir).map(PathBuf::from),
            outbound_queue: s.outbound_queue,
            connect_timeout: Duration::from_millis(s.connect_timeout_ms),
            shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
            header_timeout: Duration::from_millis(s.header_timeout_ms),
            max_header_bytes: s.max_header_bytes,
            poll_body_timeout: Duration::from_millis(s.poll_body_timeout_ms),
            max_sessions: s.max_sessions,
            max_sessions_per_ip: s.max_sessions_per_ip,
            handshake_rate: Rate {
                per_sec: s.handshakes_per_ip_per_sec,
                burst: s.handshake_burst_per_ip,
            },
            message_rate: Rate {
                per_sec: s.messages_per_ip_per_sec,
                burst: s.message_burst_per_ip,
            },
            trusted_proxies: TrustedProxies::parse(&s.trusted_proxies)?,
            allowed_origins: Origins::parse(&s.allowed_origins)?,
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
        self.outbound_queue = self.outbound_queue.max(8);
        self.max_header_bytes = self.max_header_bytes.max(MIN_HEADER_BYTES);
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
        assert_eq!(c.ping_interval, Duration::from_millis(d.ping_interval_ms));
        assert_eq!(
            c.connect_timeout,
            Duration::from_millis(d.connect_timeout_ms)
        );
        assert_eq!(c.header_timeout, Duration::from_millis(d.header_timeout_ms));
        assert_eq!(c.max_sessions_per_ip, d.max_sessions_per_ip);
        assert_eq!(c.static_dir, None, "no files unless asked");
    }

    #[test]
    fn bad_limits_name_the_option() {
        let s = EdgeSettings {
            max_header_bytes: 10,
            ..EdgeSettings::default()
        };
        assert!(s.validate().unwrap_err().contains("edge.max_header_bytes"));
        let s = EdgeSettings {
            allowed_origins: vec!["example.com".into()],
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
