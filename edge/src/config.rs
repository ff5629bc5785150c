//! `EdgeConfig`: everything the edge needs to run, with the documented defaults.

use std::path::PathBuf;
use std::time::Duration;

use herald_auth::Verifier;

/// One Socket.IO namespace the edge accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceConfig {
    /// E.g. `"/"` or `"/v1/conversation"`.
    pub name: String,
    /// When true, connections without a token are accepted (no user topic).
    pub anonymous: bool,
}

/// Settings of one edge process.
pub struct EdgeConfig {
    /// A name for logs and for the core (`LinkHello.edge_name`).
    pub name: String,
    /// The core's gRPC address, e.g. `"http://127.0.0.1:50051"`.
    pub core_url: String,
    /// Sent as `authorization: Bearer ...` on the Link stream.
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
            core_url: core_url.into(),
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
        }
    }

    /// The namespace's settings, if it is accepted.
    pub(crate) fn namespace(&self, name: &str) -> Option<&NamespaceConfig> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// Fills in the defaults that depend on other fields.
    pub(crate) fn normalize(&mut self) {
        if self.namespaces.is_empty() {
            self.namespaces.push(NamespaceConfig {
                name: "/".to_owned(),
                anonymous: false,
            });
        }
        self.outbound_queue = self.outbound_queue.max(8);
    }
}
