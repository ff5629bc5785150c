//! The `herald` configuration: a TOML file, overridden by `HERALD_<SECTION>_<KEY>`
//! environment variables, then by flags. Every option has a default; a bad value
//! stops start-up with a message naming the option.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod check;

/// The development secret used when none is configured (start-up warns about it).
pub const DEV_SECRET: &str = "herald-dev-secret";
/// The development service token used when none is configured.
pub const DEV_SERVICE_TOKEN: &str = herald_edge::DEV_SERVICE_TOKEN;

/// A configuration problem, naming the option.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub core: CoreSection,
    pub edge: EdgeSection,
    pub auth: AuthSection,
    pub store: StoreSection,
    pub tasks: TasksSection,
    pub broker: BrokerSection,
    pub namespaces: Vec<NamespaceSection>,
    pub log: LogSection,
}

/// `[log]`: what the process writes to stderr.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `"text"` (human-readable, coloured only on a terminal) or `"json"` (one object per line).
    pub format: String,
    /// Default level filter (`error`, `warn`, `info`, `debug`, `trace`, or per-target directives);
    /// `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// `[broker]`: alone in memory, or one node of a cluster on Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerSection {
    /// `redis://HOST:PORT[/DB]` to run as one node of a cluster; empty for the in-memory broker.
    pub url: String,
    /// Redis Cluster mode: `url` may list several seed nodes, comma-separated; keys are spread
    /// over the shards by namespace and live channels use sharded pub/sub.
    pub cluster: bool,
    /// Prefix of every Redis key and channel, so that several clusters can share one Redis.
    pub key_prefix: String,
    /// How often a node refreshes its registration.
    pub heartbeat_ms: u64,
    /// How long after its last refresh a node counts as dead.
    pub node_ttl_ms: u64,
    /// Longest wait for one Redis command before the caller gets UNAVAILABLE.
    pub command_timeout_ms: u64,
}

impl Default for BrokerSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            cluster: false,
            key_prefix: "herald".into(),
            heartbeat_ms: 1000,
            node_ttl_ms: 5000,
            command_timeout_ms: 2000,
        }
    }
}

/// `[store]`: where tasks, attempts, results and dead letters last.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://FILE` (created on first run), `postgres://...`, or empty for no tasks.
    pub url: String,
}

/// `[tasks]`: queues and the dispatch of tasks to workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TasksSection {
    /// Queues workers may take from and backends may submit to.
    pub queues: Vec<String>,
    /// Attempts when a submit names none.
    pub default_max_attempts: u32,
    /// Lease length of an attempt when a submit names none.
    pub default_attempt_timeout_ms: u64,
    /// First retry delay; doubles per attempt, with jitter.
    pub retry_backoff_ms: u64,
    /// Longest retry delay.
    pub retry_backoff_max_ms: u64,
    /// How often workers are pinged and must send a heartbeat.
    pub heartbeat_interval_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            url: "sqlite://herald.db".into(),
        }
    }
}

impl Default for TasksSection {
    fn default() -> Self {
        Self {
            queues: vec!["scrape".into(), "push".into()],
            default_max_attempts: 3,
            default_attempt_timeout_ms: 60_000,
            retry_backoff_ms: 1000,
            retry_backoff_max_ms: 60_000,
            heartbeat_interval_ms: 10_000,
        }
    }
}

/// `[core]`: the gRPC API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoreSection {
    /// Address of the gRPC API.
    pub listen: String,
    /// Bearer tokens accepted from backend services, edges and workers.
    pub service_tokens: Vec<String>,
    /// Largest total size of one event's arguments, in bytes.
    pub max_event_bytes: usize,
    /// Deliveries queued per edge link before the link is dropped as too slow.
    pub link_queue: usize,
    /// Events queued per direct subscriber before it is dropped as too slow.
    pub subscriber_queue: usize,
    /// Events accepted by the broker and not yet dispatched (in a cluster: received from Redis).
    pub broker_queue: usize,
    /// Seconds an Emit idempotency key is remembered.
    pub idempotency_window_secs: u64,
    /// How long a forwarded client event waits for its backend handler.
    pub handler_timeout_ms: u64,
    /// `herald core`: address of its own `GET /metrics`; empty serves none (`herald serve` shows
    /// the core's metrics on the edge's `/metrics`).
    pub metrics_listen: String,
    /// PEM certificate chain of the gRPC API; with `tls_key_file`, the API speaks TLS only.
    pub tls_cert_file: String,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: String,
    /// PEM CA certificates; when set, callers must present a client certificate signed by one (mTLS).
    pub tls_client_ca_file: String,
}

/// `[edge]`: the Socket.IO endpoint; the edge owns its options and their defaults.
pub type EdgeSection = herald_edge::EdgeSettings;

/// `[auth]`: JWT verification of connecting clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Allowed algorithms: HS256, RS256, ES256.
    pub algorithms: Vec<String>,
    /// HMAC secret for HS256.
    pub hs256_secret: String,
    /// PEM file with the RSA public key for RS256.
    pub rsa_public_key_file: String,
    /// PEM file with the EC (P-256) public key for ES256.
    pub ec_public_key_file: String,
    /// JWKS file; keys picked by `kid`.
    pub jwks_file: String,
    /// Required `aud` when non-empty.
    pub audience: String,
    /// Required `iss` when non-empty.
    pub issuer: String,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Claim that lists the rooms (or `prefix*` patterns) the user may join.
    pub rooms_claim: String,
}

/// `[[namespaces]]`: a Socket.IO namespace clients may connect to, and what
/// its clients may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceSection {
    pub name: String,
    /// Accept connections without a token (they have no user topic).
    pub anonymous: bool,
    /// Client event that joins a room (`socket.emit("join", room, ack)`); empty disables.
    pub join_event: String,
    /// Client event that leaves a room; empty disables.
    pub leave_event: String,
    /// Joins the token's rooms claim does not allow are asked of a `$join` handler.
    pub join_handler: bool,
    /// A `$connect` handler decides rooms to join and data to attach (or refuses).
    pub connect_handler: bool,
    /// Disconnections are reported to `$disconnect` handlers.
    pub disconnect_handler: bool,
    /// Events relayed to a room minus the sender (volatile, rate-limited), e.g. typing.
    pub relay: Vec<String>,
    /// The room of a relay event: its first argument, or this field of it when an object.
    pub relay_room_field: String,
    /// Relay events a connection may send per second (sustained).
    pub relay_rate_per_sec: u32,
    /// Relay events a connection may send in a burst.
    pub relay_burst: u32,
    /// Whom a relay skips: "connection" (the sender's connection) or "user" (every connection of
    /// the sender's user).
    pub relay_exclude: String,
    /// The room of a join/leave or alias event whose first argument is an object: this field of it.
    pub room_field: String,
    /// Client events one user may send per second in the namespace (per edge); 0: no limit.
    pub user_event_rate_per_sec: u32,
    /// Client events one user may send in a burst.
    pub user_event_burst: u32,
    /// Events given to backend handlers; the handler's reply is the client's ack.
    pub forward: Vec<String>,
    /// Other client events: "error" (ack with an error) or "ignore".
    pub unknown_events: String,
    /// Rooms one connection may be in.
    pub max_rooms_per_connection: u32,
    /// Connections one user may hold at once in the namespace (every device, every edge).
    pub max_connections_per_user: u32,
    /// Emit `presence` events to a room when a user comes or goes.
    pub presence_events: bool,
    /// Extra join/leave events mapping an id to a room, e.g. `subscribe:campaign` + id -> `campaign:{id}`.
    pub room_aliases: Vec<RoomAlias>,
    /// Socket.IO connection-state recovery for clients that enable it.
    pub connection_state_recovery: bool,
    /// How long recoverable events and lost sessions are kept, in seconds.
    pub recovery_window_secs: u64,
    /// Recoverable events kept per topic.
    pub recovery_max_events: u32,
}

/// `[[namespaces.room_aliases]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomAlias {
    /// Client event that joins `prefix` + its first argument.
    pub join: String,
    /// Client event that leaves it.
    pub leave: String,
    pub prefix: String,
    /// The id's field when the first argument is an object; empty: the namespace's `room_field`.
    pub field: String,
}

impl Default for CoreSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".into(),
            service_tokens: vec![DEV_SERVICE_TOKEN.into()],
            max_event_bytes: 1_000_000,
            link_queue: 65_536,
            subscriber_queue: 4096,
            broker_queue: 65_536,
            idempotency_window_secs: 300,
            handler_timeout_ms: 5000,
            metrics_listen: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_client_ca_file: String::new(),
        }
    }
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            algorithms: vec!["HS256".into()],
            hs256_secret: DEV_SECRET.into(),
            rsa_public_key_file: String::new(),
            ec_public_key_file: String::new(),
            jwks_file: String::new(),
            audience: String::new(),
            issuer: String::new(),
            leeway_secs: 5,
            rooms_claim: "rooms".into(),
        }
    }
}

impl Default for NamespaceSection {
    fn default() -> Self {
        Self {
            name: "/".into(),
            anonymous: false,
            join_event: "join".into(),
            leave_event: "leave".into(),
            join_handler: false,
            connect_handler: false,
            disconnect_handler: false,
            relay: Vec::new(),
            relay_room_field: "room".into(),
            relay_rate_per_sec: 10,
            relay_burst: 20,
            relay_exclude: "connection".into(),
            room_field: "room".into(),
            user_event_rate_per_sec: 100,
            user_event_burst: 200,
            forward: Vec::new(),
            unknown_events: "error".into(),
            max_rooms_per_connection: 100,
            max_connections_per_user: 100,
            presence_events: false,
            room_aliases: Vec::new(),
            connection_state_recovery: false,
            recovery_window_secs: 120,
            recovery_max_events: 1000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            core: CoreSection::default(),
            edge: EdgeSection::default(),
            auth: AuthSection::default(),
            store: StoreSection::default(),
            tasks: TasksSection::default(),
            broker: BrokerSection::default(),
            namespaces: vec![NamespaceSection::default()],
            log: LogSection::default(),
        }
    }
}

impl Config {
    /// Defaults, then the file (if any), then `HERALD_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::load_with_warnings(file, env).map(|(c, _)| c)
    }

    /// Like [`Config::load`], also returning warnings (e.g. `HERALD_*` variables that set no
    /// option). Every shape problem of the file (unknown option, wrong type) is reported at once,
    /// each with the option's full name and the type expected.
    pub fn load_with_warnings(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut table = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError(format!("defaults: {e}")))?;
        let mut text = None;
        if let Some(path) = file {
            let read = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            let from_file: toml::Table = read
                .parse()
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            let mut problems = Vec::new();
            check::shape("", &table, &from_file, &mut problems);
            if !problems.is_empty() {
                return Err(ConfigError(format!(
                    "{}:\n  {}",
                    path.display(),
                    problems.join("\n  ")
                )));
            }
            for (k, v) in from_file {
                merge(&mut table, k, v);
            }
            text = Some((path, read));
        }
        let mut warnings = Vec::new();
        for (k, v) in env {
            if let Some(w) = apply_env(&mut table, &k, &v)? {
                warnings.push(w);
            }
        }
        let config: Config = match toml::Value::Table(table).try_into() {
            Ok(c) => c,
            Err(e) => {
                let e: toml::de::Error = e;
                // The file alone gives the error its line and the option's name.
                if let Some((path, text)) = text
                    && let Err(fe) = toml::from_str::<Config>(&text)
                {
                    return Err(ConfigError(format!("{}: {fe}", path.display())));
                }
                return Err(ConfigError(e.message().to_owned()));
            }
        };
        config.validate()?;
        Ok((config, warnings))
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_addr("core.listen", &self.core.listen)?;
        check_addr("edge.listen", &self.edge.listen)?;
        if !self.core.metrics_listen.is_empty() {
            check_addr("core.metrics_listen", &self.core.metrics_listen)?;
        }
        if self.core.service_tokens.iter().all(String::is_empty) {
            return Err(ConfigError(
                "core.service_tokens: at least one non-empty token is required".into(),
            ));
        }
        for (name, v) in [
            ("core.max_event_bytes", self.core.max_event_bytes),
            ("core.link_queue", self.core.link_queue),
            ("core.subscriber_queue", self.core.subscriber_queue),
            ("core.broker_queue", self.core.broker_queue),
            ("edge.outbound_queue", self.edge.engine.outbound_queue),
        ] {
            if v == 0 {
                return Err(ConfigError(format!("{name}: must be greater than 0")));
            }
        }
        for (name, v) in [
            ("edge.ping_interval_ms", self.edge.engine.ping_interval_ms),
            ("edge.ping_timeout_ms", self.edge.engine.ping_timeout_ms),
            ("edge.max_payload", self.edge.engine.max_payload),
            ("edge.connect_timeout_ms", self.edge.connect_timeout_ms),
            ("core.handler_timeout_ms", self.core.handler_timeout_ms),
        ] {
            if v == 0 {
                return Err(ConfigError(format!("{name}: must be greater than 0")));
            }
        }
        if !self.edge.core_url.starts_with("http://") && !self.edge.core_url.starts_with("https://")
        {
            return Err(ConfigError(format!(
                "edge.core_url: {:?} must start with http:// or https://",
                self.edge.core_url
            )));
        }
        if let Some(bad) = self
            .edge
            .core_urls
            .iter()
            .find(|u| !u.starts_with("http://") && !u.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "edge.core_urls: {bad:?} must start with http:// or https://"
            )));
        }
        for (name, v) in [
            (
                "tasks.default_max_attempts",
                u64::from(self.tasks.default_max_attempts),
            ),
            (
                "tasks.default_attempt_timeout_ms",
                self.tasks.default_attempt_timeout_ms,
            ),
            (
                "tasks.heartbeat_interval_ms",
                self.tasks.heartbeat_interval_ms,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError(format!("{name}: must be greater than 0")));
            }
        }
        if let Some(q) = self
            .tasks
            .queues
            .iter()
            .find(|q| q.is_empty() || q.len() > 128)
        {
            return Err(ConfigError(format!(
                "tasks.queues: {q:?} is not a queue name (1 to 128 bytes)"
            )));
        }
        let url = &self.store.url;
        if !url.is_empty()
            && !url.starts_with("sqlite:")
            && !url.starts_with("postgres://")
            && !url.starts_with("postgresql://")
        {
            return Err(ConfigError(format!(
                "store.url: {url:?} must start with sqlite: or postgres://"
            )));
        }
        let b = &self.broker;
        if b.cluster && b.url.is_empty() {
            return Err(ConfigError(
                "broker.cluster: needs broker.url (one or more nodes of the Redis Cluster)".into(),
            ));
        }
        if !b.url.is_empty() {
            if !b.cluster && b.url.contains(',') {
                return Err(ConfigError(
                    "broker.url: several nodes (comma-separated) need broker.cluster = true".into(),
                ));
            }
            if let Some(bad) = b
                .url
                .split(',')
                .map(str::trim)
                .find(|u| !u.starts_with("redis://") && !u.starts_with("rediss://"))
            {
                return Err(ConfigError(format!(
                    "broker.url: {bad:?} must start with redis:// or rediss:// (or be empty)"
                )));
            }
            if url.starts_with("sqlite:") {
                return Err(ConfigError(
                    "store.url: a cluster (broker.url set) cannot keep tasks in SQLite, a file of \
                     one node; use postgres://... or set store.url = \"\" to run without tasks"
                        .into(),
                ));
            }
            if b.key_prefix.is_empty() || b.key_prefix.contains(char::is_whitespace) {
                return Err(ConfigError(
                    "broker.key_prefix: must be a non-empty word without spaces".into(),
                ));
            }
            for (name, v) in [
                ("broker.heartbeat_ms", b.heartbeat_ms),
                ("broker.node_ttl_ms", b.node_ttl_ms),
                ("broker.command_timeout_ms", b.command_timeout_ms),
            ] {
                if v == 0 {
                    return Err(ConfigError(format!("{name}: must be greater than 0")));
                }
            }
            if b.node_ttl_ms <= b.heartbeat_ms {
                return Err(ConfigError(
                    "broker.node_ttl_ms: must be longer than broker.heartbeat_ms".into(),
                ));
            }
        }
        if self.core.tls_cert_file.is_empty() != self.core.tls_key_file.is_empty() {
            return Err(ConfigError(
                "core.tls_cert_file / core.tls_key_file: set both, or neither".into(),
            ));
        }
        if !self.core.tls_client_ca_file.is_empty() && self.core.tls_cert_file.is_empty() {
            return Err(ConfigError(
                "core.tls_client_ca_file: client certificates need TLS: set core.tls_cert_file and core.tls_key_file".into(),
            ));
        }
        self.edge.validate().map_err(ConfigError)?;
        if self.edge.core_cert_file.is_empty() != self.edge.core_key_file.is_empty() {
            return Err(ConfigError(
                "edge.core_cert_file / edge.core_key_file: set both, or neither".into(),
            ));
        }
        if self.log.format != "text" && self.log.format != "json" {
            return Err(ConfigError(format!(
                "log.format: {:?} must be \"text\" or \"json\"",
                self.log.format
            )));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(ConfigError(format!(
                "log.level: {:?} is not a level filter: {e}",
                self.log.level
            )));
        }
        if self.namespaces.is_empty() {
            return Err(ConfigError("namespaces: configure at least one".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for ns in &self.namespaces {
            if !ns.name.starts_with('/') {
                return Err(ConfigError(format!(
                    "namespaces.name: {:?} must start with '/'",
                    ns.name
                )));
            }
            if ns.unknown_events != "error" && ns.unknown_events != "ignore" {
                return Err(ConfigError(format!(
                    "namespaces.unknown_events: {:?} must be \"error\" or \"ignore\"",
                    ns.unknown_events
                )));
            }
            if ns.relay_exclude != "connection" && ns.relay_exclude != "user" {
                return Err(ConfigError(format!(
                    "namespaces.relay_exclude: {:?} must be \"connection\" or \"user\"",
                    ns.relay_exclude
                )));
            }
            if ns.recovery_window_secs == 0 || ns.recovery_max_events == 0 {
                return Err(ConfigError(
                    "namespaces.recovery_window_secs / recovery_max_events: must be greater than 0"
                        .into(),
                ));
            }
            if ns.max_connections_per_user == 0 {
                return Err(ConfigError(
                    "namespaces.max_connections_per_user: must be greater than 0".into(),
                ));
            }
            if ns.max_rooms_per_connection == 0 {
                return Err(ConfigError(
                    "namespaces.max_rooms_per_connection: must be greater than 0".into(),
                ));
            }
            if let Some(a) = ns
                .room_aliases
                .iter()
                .find(|a| a.join.is_empty() || a.prefix.is_empty())
            {
                return Err(ConfigError(format!(
                    "namespaces.room_aliases: {a:?} needs both `join` and `prefix`"
                )));
            }
            if !seen.insert(ns.name.as_str()) {
                return Err(ConfigError(format!(
                    "namespaces.name: {:?} is configured twice",
                    ns.name
                )));
            }
        }
        Ok(())
    }

    /// Whether start-up should warn that the development secrets are in use.
    pub fn uses_dev_secrets(&self) -> bool {
        self.auth.hs256_secret == DEV_SECRET
            || self
                .core
                .service_tokens
                .iter()
                .any(|t| t == DEV_SERVICE_TOKEN)
    }

    /// Reads a key file named by an `[auth]` option; empty means none.
    pub fn read_key_file(option: &str, path: &str) -> Result<Option<String>, ConfigError> {
        if path.is_empty() {
            return Ok(None);
        }
        std::fs::read_to_string(PathBuf::from(path))
            .map(Some)
            .map_err(|e| ConfigError(format!("{option}: cannot read {path:?}: {e}")))
    }
}

/// Resolves a listen address (`127.0.0.1:8080`, `[::]:8080` or `localhost:8080`), naming the
/// option on error.
pub fn parse_addr(option: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    check_addr(option, s)?;
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .map_err(|e| ConfigError(format!("{option}: cannot resolve {s:?}: {e}")))?
        .next()
        .ok_or_else(|| ConfigError(format!("{option}: {s:?} resolves to no address")))
}

/// Checks the form of a listen address, `HOST:PORT` with an IP or a host name, without resolving it.
pub fn check_addr(option: &str, s: &str) -> Result<(), ConfigError> {
    if s.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let bad = || {
        ConfigError(format!(
            "{option}: {s:?} is not an address like 127.0.0.1:8080 or localhost:8080"
        ))
    };
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if name_ok { Ok(()) } else { Err(bad()) }
}

/// `HERALD_*` variables that are not options: the CLI's own.
const NON_OPTION_VARS: &[&str] = &["HERALD_CONFIG", "HERALD_SERVICE_TOKEN", "HERALD_BIN"];

fn merge(table: &mut toml::Table, key: String, value: toml::Value) {
    match (table.get_mut(&key), value) {
        (Some(toml::Value::Table(dst)), toml::Value::Table(src)) => {
            for (k, v) in src {
                merge(dst, k, v);
            }
        }
        (_, v) => {
            table.insert(key, v);
        }
    }
}

/// `HERALD_EDGE_PING_INTERVAL_MS=1000` sets `edge.ping_interval_ms`, typed like its default.
/// Returns a warning for a `HERALD_*` variable that names no option.
fn apply_env(
    table: &mut toml::Table,
    var: &str,
    value: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(rest) = var.strip_prefix("HERALD_") else {
        return Ok(None);
    };
    if NON_OPTION_VARS.contains(&var) || var.starts_with("HERALD_TEST_") {
        return Ok(None);
    }
    let unknown = || {
        Some(format!(
            "{var} is set but names no option (HERALD_<SECTION>_<KEY>, e.g. HERALD_CORE_LISTEN); ignored"
        ))
    };
    let rest = rest.to_ascii_lowercase();
    let Some((section, key)) = rest.split_once('_') else {
        return Ok(unknown());
    };
    let Some(toml::Value::Table(sec)) = table.get_mut(section) else {
        return Ok(unknown());
    };
    let Some(current) = sec.get(key) else {
        return Err(ConfigError(format!(
            "{var}: {section}.{key} is not an option of [{section}]"
        )));
    };
    let bad = |what: &str| ConfigError(format!("{var}: {value:?} is not {what}"));
    let parsed = match current {
        toml::Value::Integer(_) => {
            toml::Value::Integer(value.trim().parse().map_err(|_| bad("an integer"))?)
        }
        toml::Value::Boolean(_) => {
            toml::Value::Boolean(value.trim().parse().map_err(|_| bad("true or false"))?)
        }
        toml::Value::Array(_) => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(value.to_owned()),
    };
    sec.insert(key.to_owned(), parsed);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert_eq!(c.core.listen, "127.0.0.1:50051");
        assert_eq!(c.edge.listen, "127.0.0.1:8080");
        assert!(c.uses_dev_secrets());
    }

    #[test]
    fn file_then_env_override() {
        let dir = std::env::temp_dir().join(format!("herald-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("h.toml");
        std::fs::write(
            &f,
            "[edge]\nping_interval_ms = 1000\n[auth]\naudience = \"app\"\n[[namespaces]]\nname = \"/\"\n[[namespaces]]\nname = \"/anon\"\nanonymous = true\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&f),
            env(&[
                ("HERALD_EDGE_PING_INTERVAL_MS", "2000"),
                ("HERALD_CORE_SERVICE_TOKENS", "a, b"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.edge.engine.ping_interval_ms, 2000);
        assert_eq!(c.auth.audience, "app");
        assert_eq!(c.core.service_tokens, ["a", "b"]);
        assert_eq!(c.namespaces.len(), 2);
        assert!(c.namespaces[1].anonymous);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn errors_name_the_option() {
        let e = Config::load(None, env(&[("HERALD_EDGE_PING_INTERVAL_MS", "soon")])).unwrap_err();
        assert!(
            e.to_string().contains("HERALD_EDGE_PING_INTERVAL_MS"),
            "{e}"
        );
        let e = Config::load(None, env(&[("HERALD_EDGE_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("edge.listen"), "{e}");
        let e = Config::load(None, env(&[("HERALD_EDGE_NOPE", "1")])).unwrap_err();
        assert!(e.to_string().contains("edge.nope"), "{e}");
        let e = Config::load(None, env(&[("HERALD_EDGE_MAX_PAYLOAD", "0")])).unwrap_err();
        assert!(e.to_string().contains("edge.max_payload"), "{e}");
    }

    #[test]
    fn redis_cluster_mode_takes_several_seeds_and_only_then() {
        let two = "redis://10.0.0.1:7000, redis://10.0.0.2:7000";
        let store = ("HERALD_STORE_URL", "");
        let c = Config::load(
            None,
            env(&[
                ("HERALD_BROKER_URL", two),
                ("HERALD_BROKER_CLUSTER", "true"),
                store,
            ]),
        )
        .unwrap();
        assert!(c.broker.cluster);
        let e = Config::load(None, env(&[("HERALD_BROKER_URL", two), store])).unwrap_err();
        assert!(e.to_string().contains("broker.cluster = true"), "{e}");
        let e = Config::load(None, env(&[("HERALD_BROKER_CLUSTER", "true")])).unwrap_err();
        assert!(e.to_string().contains("needs broker.url"), "{e}");
        let bad = "redis://10.0.0.1:7000,10.0.0.2:7000";
        let e = Config::load(
            None,
            env(&[
                ("HERALD_BROKER_URL", bad),
                ("HERALD_BROKER_CLUSTER", "true"),
                store,
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"10.0.0.2:7000\""), "{e}");
    }

    #[test]
    fn the_example_file_lists_exactly_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../herald.example.toml");
        let example = Config::load(Some(&path), Vec::new()).unwrap();
        let as_toml = |c: &Config| toml::Table::try_from(c).unwrap();
        assert_eq!(as_toml(&example), as_toml(&Config::default()));
        // And it names every option (no default left undocumented).
        let text = std::fs::read_to_string(&path).unwrap();
        for (section, value) in as_toml(&Config::default()) {
            if let toml::Value::Table(t) = value {
                for key in t.keys() {
                    assert!(
                        text.contains(&format!("\n{key} =")),
                        "{section}.{key} missing"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("herald-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("h.toml");
        std::fs::write(&f, "[edge]\npingInterval = 5\n").unwrap();
        let e = Config::load(Some(&f), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("pingInterval"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shape_problems_are_all_named_with_their_type() {
        let dir = std::env::temp_dir().join(format!("herald-cfg3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("h.toml");
        std::fs::write(
            &f,
            "[edge]\nping_interval_ms = \"fast\"\n[[namespaces]]\nname = \"/\"\nrelay = [1]\n",
        )
        .unwrap();
        let e = Config::load(Some(&f), Vec::new()).unwrap_err().to_string();
        assert!(
            e.contains("edge.ping_interval_ms: expected an integer, found the string \"fast\""),
            "{e}"
        );
        assert!(
            e.contains("namespaces[0].relay[0]: expected a string"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn listen_addresses_may_be_host_names() {
        assert!(check_addr("edge.listen", "localhost:8080").is_ok());
        assert!(check_addr("edge.listen", "[::1]:8080").is_ok());
        assert!(check_addr("edge.listen", "localhost").is_err());
        assert!(check_addr("edge.listen", "bad host:1").is_err());
        assert_eq!(parse_addr("x", "localhost:0").unwrap().port(), 0);
    }

    #[test]
    fn unknown_herald_variables_warn() {
        let (_, w) = Config::load_with_warnings(
            None,
            env(&[("HERALD_NOPE", "1"), ("HERALD_CONFIG", "x.toml")]),
        )
        .unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("HERALD_NOPE"), "{w:?}");
    }
}
