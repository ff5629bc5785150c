//! Turns the configuration file into the settings of each part: the core's,
//! the edge's and the JWT verifier's.

use std::time::Duration;

use herald_auth::{AuthConfig, Verifier};
use herald_edge::{
    EdgeConfig, EdgeTls, NamespaceConfig, RelayExclude, RoomAlias as EdgeRoomAlias, TlsError,
    UnknownEvents,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::cluster::ClusterConfig;
use crate::config::{Config, ConfigError};
use crate::run::{CoreConfig, NamespacePolicy};
use crate::tasks::TaskConfig;

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

/// `[auth]` as the verifier takes it; key files are read here.
pub fn auth_config(c: &Config) -> Result<AuthConfig, ConfigError> {
    let a = &c.auth;
    Ok(AuthConfig {
        algorithms: a.algorithms.clone(),
        hs256_secret: non_empty(&a.hs256_secret),
        rsa_public_key_pem: Config::read_key_file(
            "auth.rsa_public_key_file",
            &a.rsa_public_key_file,
        )?,
        ec_public_key_pem: Config::read_key_file("auth.ec_public_key_file", &a.ec_public_key_file)?,
        jwks_json: Config::read_key_file("auth.jwks_file", &a.jwks_file)?,
        audience: non_empty(&a.audience),
        issuer: non_empty(&a.issuer),
        leeway_secs: a.leeway_secs,
        rooms_claim: a.rooms_claim.clone(),
    })
}

/// The JWT verifier; its errors name the `[auth]` option.
pub fn verifier(c: &Config) -> Result<Verifier, ConfigError> {
    Verifier::new(&auth_config(c)?).map_err(|e| ConfigError(e.to_string()))
}

/// The gRPC API's TLS (`core.tls_*`), files read here; `None` when off.
pub fn server_tls(c: &Config) -> Result<Option<ServerTlsConfig>, ConfigError> {
    let core = &c.core;
    let (Some(cert), Some(key)) = (
        Config::read_key_file("core.tls_cert_file", &core.tls_cert_file)?,
        Config::read_key_file("core.tls_key_file", &core.tls_key_file)?,
    ) else {
        return Ok(None);
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
    if let Some(ca) = Config::read_key_file("core.tls_client_ca_file", &core.tls_client_ca_file)? {
        tls = tls.client_ca_root(Certificate::from_pem(ca));
    }
    Ok(Some(tls))
}

/// The edge's HTTPS (`edge.tls_cert_file` / `edge.tls_key_file`), files read and checked here;
/// `None` when off. The error names the option at fault.
pub fn edge_tls(c: &Config) -> Result<Option<EdgeTls>, ConfigError> {
    const CERT: &str = "edge.tls_cert_file";
    const KEY: &str = "edge.tls_key_file";
    let e = &c.edge;
    let (Some(cert), Some(key)) = (
        Config::read_key_file(CERT, &e.tls_cert_file)?,
        Config::read_key_file(KEY, &e.tls_key_file)?,
    ) else {
        return Ok(None);
    };
    EdgeTls::from_pem(cert.as_bytes(), key.as_bytes())
        .map(Some)
        .map_err(|err| {
            let option = match err {
                TlsError::Certificate(_) => CERT,
                TlsError::Key(_) => KEY,
                TlsError::Rejected(_) => "edge.tls_cert_file / edge.tls_key_file",
            };
            ConfigError(format!("{option}: {err}"))
        })
}

/// TLS towards a core (`edge.core_ca_file`, `edge.core_cert_file` / `core_key_file`), for the
/// edge's link and the CLI; `None` when none of them is set.
pub fn client_tls(c: &Config) -> Result<Option<ClientTlsConfig>, ConfigError> {
    let e = &c.edge;
    let ca = Config::read_key_file("edge.core_ca_file", &e.core_ca_file)?;
    let cert = Config::read_key_file("edge.core_cert_file", &e.core_cert_file)?;
    let key = Config::read_key_file("edge.core_key_file", &e.core_key_file)?;
    tls_options(ca, cert.zip(key))
}

/// A client TLS configuration from PEM texts; `None` when both are absent.
pub fn tls_options(
    ca: Option<String>,
    identity: Option<(String, String)>,
) -> Result<Option<ClientTlsConfig>, ConfigError> {
    if ca.is_none() && identity.is_none() {
        return Ok(None);
    }
    let mut tls = ClientTlsConfig::new();
    if let Some(ca) = ca {
        tls = tls.ca_certificate(Certificate::from_pem(ca));
    }
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Ok(Some(tls))
}

/// What start-up checks beyond the file's shape and values: key and certificate files are
/// readable and the JWT verifier accepts `[auth]`. Run before anything listens.
pub fn preflight(c: &Config) -> Result<(), ConfigError> {
    verifier(c)?;
    server_tls(c)?;
    client_tls(c)?;
    edge_tls(c)?;
    Ok(())
}

/// `[core]` plus the namespaces.
pub fn core_config(c: &Config) -> CoreConfig {
    CoreConfig {
        service_tokens: c.core.service_tokens.clone(),
        namespaces: c.namespaces.iter().map(|n| n.name.clone()).collect(),
        max_event_bytes: c.core.max_event_bytes,
        link_queue: c.core.link_queue,
        subscriber_queue: c.core.subscriber_queue,
        broker_queue: c.core.broker_queue,
        idempotency_window: Duration::from_secs(c.core.idempotency_window_secs),
        store_url: non_empty(&c.store.url),
        handler_timeout: Duration::from_millis(c.core.handler_timeout_ms),
        // Set from server_tls(), which reads files and can fail.
        tls: None,
        policies: c
            .namespaces
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    NamespacePolicy {
                        presence_events: n.presence_events,
                        max_rooms_per_connection: usize::try_from(n.max_rooms_per_connection)
                            .unwrap_or(usize::MAX),
                        max_connections_per_user: usize::try_from(n.max_connections_per_user)
                            .unwrap_or(usize::MAX),
                        recovery_window: Duration::from_secs(n.recovery_window_secs),
                        recovery_max_events: usize::try_from(n.recovery_max_events)
                            .unwrap_or(usize::MAX),
                    },
                )
            })
            .collect(),
        cluster: non_empty(&c.broker.url).map(|url| ClusterConfig {
            url,
            cluster: c.broker.cluster,
            prefix: c.broker.key_prefix.clone(),
            heartbeat: Duration::from_millis(c.broker.heartbeat_ms),
            node_ttl: Duration::from_millis(c.broker.node_ttl_ms),
            command_timeout: Duration::from_millis(c.broker.command_timeout_ms),
            recovery_windows: c
                .namespaces
                .iter()
                .map(|n| (n.name.clone(), Duration::from_secs(n.recovery_window_secs)))
                .collect(),
        }),
        tasks: TaskConfig {
            queues: c.tasks.queues.clone(),
            default_max_attempts: c.tasks.default_max_attempts,
            default_attempt_timeout: Duration::from_millis(c.tasks.default_attempt_timeout_ms),
            retry_backoff: Duration::from_millis(c.tasks.retry_backoff_ms),
            retry_backoff_max: Duration::from_millis(c.tasks.retry_backoff_max_ms),
            heartbeat_interval: Duration::from_millis(c.tasks.heartbeat_interval_ms),
            ..TaskConfig::default()
        },
    }
}

/// `[edge]` plus the namespaces, linking to `core_url`.
pub fn edge_config(c: &Config, core_url: &str) -> Result<EdgeConfig, ConfigError> {
    edge_config_for(c, vec![core_url.to_owned()])
}

/// `[edge]` plus the namespaces, linking to the first of `core_urls` that answers.
pub fn edge_config_for(c: &Config, core_urls: Vec<String>) -> Result<EdgeConfig, ConfigError> {
    let mut ec = EdgeConfig::from_settings(&c.edge, verifier(c)?).map_err(ConfigError)?;
    ec.core_urls = core_urls;
    ec.core_tls = client_tls(c)?;
    ec.tls = edge_tls(c)?;
    ec.namespaces = c
        .namespaces
        .iter()
        .map(|n| NamespaceConfig {
            name: n.name.clone(),
            anonymous: n.anonymous,
            join_event: n.join_event.clone(),
            leave_event: n.leave_event.clone(),
            join_handler: n.join_handler,
            connect_handler: n.connect_handler,
            disconnect_handler: n.disconnect_handler,
            relay: n.relay.clone(),
            relay_room_field: n.relay_room_field.clone(),
            relay_rate_per_sec: n.relay_rate_per_sec,
            relay_burst: n.relay_burst,
            // validate() accepts only "connection" and "user".
            relay_exclude: if n.relay_exclude == "user" {
                RelayExclude::User
            } else {
                RelayExclude::Connection
            },
            room_field: n.room_field.clone(),
            user_event_rate_per_sec: n.user_event_rate_per_sec,
            user_event_burst: n.user_event_burst,
            forward: n.forward.clone(),
            // validate() accepts only "error" and "ignore".
            unknown_events: if n.unknown_events == "ignore" {
                UnknownEvents::Ignore
            } else {
                UnknownEvents::Error
            },
            room_aliases: n
                .room_aliases
                .iter()
                .map(|a| EdgeRoomAlias {
                    join: a.join.clone(),
                    leave: a.leave.clone(),
                    prefix: a.prefix.clone(),
                    field: a.field.clone(),
                })
                .collect(),
            max_rooms_per_connection: n.max_rooms_per_connection,
            connection_state_recovery: n.connection_state_recovery,
        })
        .collect();
    Ok(ec)
}
