//! Turns the configuration file into the settings of each part: the core's,
//! the edge's and the JWT verifier's.

use std::path::PathBuf;
use std::time::Duration;

use herald_auth::{AuthConfig, Verifier};
use herald_edge::{EdgeConfig, NamespaceConfig};

use crate::config::{Config, ConfigError};
use crate::run::CoreConfig;
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
    let e = &c.edge;
    let mut ec = EdgeConfig::new(core_url, e.service_token.clone(), verifier(c)?);
    ec.name = e.name.clone();
    ec.ping_interval = Duration::from_millis(e.ping_interval_ms);
    ec.ping_timeout = Duration::from_millis(e.ping_timeout_ms);
    ec.max_payload = e.max_payload;
    ec.outbound_queue = e.outbound_queue;
    ec.connect_timeout = Duration::from_millis(e.connect_timeout_ms);
    ec.shutdown_grace = Duration::from_millis(e.shutdown_grace_ms);
    ec.static_dir = non_empty(&e.static_dir).map(PathBuf::from);
    ec.namespaces = c
        .namespaces
        .iter()
        .map(|n| NamespaceConfig {
            name: n.name.clone(),
            anonymous: n.anonymous,
        })
        .collect();
    Ok(ec)
}
