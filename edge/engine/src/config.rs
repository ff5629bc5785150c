//! The engine's configuration: its options as they appear in the `[edge]` section of the
//! configuration file (the binary nests [`EngineConfig`] there), each default written once here,
//! and the values the engine runs with.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::origin::Origins;
use crate::peer::TrustedProxies;

/// Smallest `max_header_bytes` accepted (a browser's request head needs about this much).
pub const MIN_HEADER_BYTES: usize = 1024;

/// The Engine.IO layer's options. Every default is in its `Default` impl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Engine.IO ping interval.
    pub ping_interval_ms: u64,
    /// How long to wait for a pong before closing.
    pub ping_timeout_ms: u64,
    /// Largest Engine.IO message or polling body, in bytes.
    pub max_payload: u64,
    /// Frames queued per session (control frames included) before it is disconnected as too slow.
    pub outbound_queue: usize,

    // ----- limits of the HTTP / Engine.IO layer -----
    /// Longest wait for a complete HTTP request head on a connection (slow clients are dropped).
    pub header_timeout_ms: u64,
    /// Largest HTTP request head, in bytes (431 above it).
    pub max_header_bytes: usize,
    /// Longest time a polling POST may take to send its body (408 and the session closed).
    pub poll_body_timeout_ms: u64,
    /// Engine.IO sessions this server holds at once (503 above it); 0: no limit.
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

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            outbound_queue: 1024,

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

/// A sustained rate with a burst (a token bucket); `per_sec == 0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: u32,
    pub burst: u32,
}

impl EngineConfig {
    /// Checks the values of the limits and origins; the error names the option (`prefix` is
    /// the section the options are read from, e.g. `edge`).
    pub fn validate(&self, prefix: &str) -> Result<(), String> {
        for (name, v) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("poll_body_timeout_ms", self.poll_body_timeout_ms),
        ] {
            if v == 0 {
                return Err(format!("{prefix}.{name}: must be greater than 0"));
            }
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err(format!(
                "{prefix}.max_header_bytes: must be at least {MIN_HEADER_BYTES}"
            ));
        }
        for (name, rate, burst) in [
            (
                "handshake_burst_per_ip",
                self.handshakes_per_ip_per_sec,
                self.handshake_burst_per_ip,
            ),
            (
                "message_burst_per_ip",
                self.messages_per_ip_per_sec,
                self.message_burst_per_ip,
            ),
        ] {
            if rate > 0 && burst == 0 {
                return Err(format!(
                    "{prefix}.{name}: must be greater than 0 when its rate is set"
                ));
            }
        }
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| format!("{prefix}.trusted_proxies: {e}"))?;
        Origins::parse(&self.allowed_origins)
            .map(|_| ())
            .map_err(|e| format!("{prefix}.allowed_origins: {e}"))
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }

    /// The rate of handshakes per address.
    pub fn handshake_rate(&self) -> Rate {
        Rate {
            per_sec: self.handshakes_per_ip_per_sec,
            burst: self.handshake_burst_per_ip,
        }
    }

    /// The rate of packets per address.
    pub fn message_rate(&self) -> Rate {
        Rate {
            per_sec: self.messages_per_ip_per_sec,
            burst: self.message_burst_per_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_section_keeps_the_other_defaults() {
        let c: EngineConfig = serde_json::from_str(
            r#"{"max_sessions": 7, "allowed_origins": ["https://a.example"]}"#,
        )
        .unwrap();
        assert_eq!(c.max_sessions, 7);
        assert_eq!(c.allowed_origins, vec!["https://a.example".to_owned()]);
        assert_eq!(c.ping_interval_ms, EngineConfig::default().ping_interval_ms);
        assert!(c.validate("edge").is_ok());
    }

    #[test]
    fn a_bad_value_names_its_option() {
        let c = EngineConfig {
            max_header_bytes: 10,
            ..EngineConfig::default()
        };
        let e = c.validate("edge").unwrap_err();
        assert!(e.starts_with("edge.max_header_bytes:"), "{e}");
        let c = EngineConfig {
            messages_per_ip_per_sec: 5,
            message_burst_per_ip: 0,
            ..EngineConfig::default()
        };
        assert!(
            c.validate("edge")
                .unwrap_err()
                .starts_with("edge.message_burst_per_ip:")
        );
    }
}
