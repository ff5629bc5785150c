//! The engine's shared state: the settings it runs with (parsed once from its configuration
//! section), its table of sessions, the limits that span them and the tasks of its sessions.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio_util::task::TaskTracker;

use crate::config::{EngineConfig, MIN_HEADER_BYTES, Rate};
use crate::handshake::open_packet;
use crate::limits::Limits;
use crate::origin::Origins;
use crate::peer::TrustedProxies;
use crate::sessions::Sessions;

/// Fewest frames an outbound queue holds (the control frames of a heartbeat and a close fit).
pub const MIN_OUTBOUND_QUEUE: usize = 8;

/// The values the engine runs with: [`EngineConfig`] with its durations, rates, proxies and
/// origins parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Engine.IO ping interval.
    pub ping_interval: Duration,
    /// How long to wait for a pong before closing a session.
    pub ping_timeout: Duration,
    /// Engine.IO `maxPayload`: largest accepted message / POST body, in bytes.
    pub max_payload: u64,
    /// Bounded outbound queue length, in frames (control frames included), per session.
    pub outbound_queue: usize,
    /// Longest wait for a complete HTTP request head.
    pub header_timeout: Duration,
    /// Largest HTTP request head, in bytes.
    pub max_header_bytes: usize,
    /// Longest time a polling POST may take to send its body.
    pub poll_body_timeout: Duration,
    /// Sessions held at once; 0: no limit.
    pub max_sessions: usize,
    /// Sessions per client IP address; 0: no limit.
    pub max_sessions_per_ip: usize,
    /// Handshakes per client IP address.
    pub handshake_rate: Rate,
    /// Packets from the sessions of one client IP address.
    pub message_rate: Rate,
    /// Proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: TrustedProxies,
    /// Origins browsers may connect from; empty allows all.
    pub allowed_origins: Origins,
}

impl EngineConfig {
    /// The settings this section describes; fails on values [`EngineConfig::validate`] refuses
    /// (`prefix` is the section the options are read from, e.g. `edge`).
    pub fn settings(&self, prefix: &str) -> Result<Settings, String> {
        self.validate(prefix)?;
        Ok(Settings {
            ping_interval: self.ping_interval(),
            ping_timeout: self.ping_timeout(),
            max_payload: self.max_payload,
            outbound_queue: self.outbound_queue,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            max_header_bytes: self.max_header_bytes,
            poll_body_timeout: Duration::from_millis(self.poll_body_timeout_ms),
            max_sessions: self.max_sessions,
            max_sessions_per_ip: self.max_sessions_per_ip,
            handshake_rate: self.handshake_rate(),
            message_rate: self.message_rate(),
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)?,
            allowed_origins: Origins::parse(&self.allowed_origins)?,
        })
    }
}

impl Default for Settings {
    /// The settings of the default [`EngineConfig`].
    fn default() -> Self {
        EngineConfig::default()
            .settings("edge")
            .unwrap_or_else(|e| unreachable!("the default engine configuration is valid: {e}"))
    }
}

impl Settings {
    /// Raises values a program set below what the engine needs to work.
    fn normalized(mut self) -> Self {
        self.outbound_queue = self.outbound_queue.max(MIN_OUTBOUND_QUEUE);
        self.max_header_bytes = self.max_header_bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// The largest payload as a length in memory.
    pub fn max_payload_bytes(&self) -> usize {
        usize::try_from(self.max_payload).unwrap_or(usize::MAX)
    }
}

/// An engine: what its sessions and transports share. `D` is the data the layer above attaches
/// to each session.
pub struct Engine<D> {
    pub settings: Settings,
    pub sessions: Sessions<D>,
    pub limits: Limits,
    /// The sessions' tasks (drivers, websocket transports); a server waits for them at shutdown.
    pub tasks: TaskTracker,
    /// Frames handed to the transports.
    pub frames_sent: Arc<AtomicU64>,
    /// TLS handshakes that failed (plain HTTP to the HTTPS port, scanners).
    pub tls_handshakes_failed: AtomicU64,
}

impl<D> Default for Engine<D> {
    /// An engine with the default settings.
    fn default() -> Self {
        Engine::new(Settings::default())
    }
}

impl<D> Engine<D> {
    /// An engine with no session yet.
    pub fn new(settings: Settings) -> Self {
        let settings = settings.normalized();
        let limits = Limits::new(
            settings.max_sessions,
            settings.max_sessions_per_ip,
            settings.handshake_rate,
            settings.message_rate,
        );
        Engine {
            settings,
            sessions: Sessions::default(),
            limits,
            tasks: TaskTracker::new(),
            frames_sent: Arc::default(),
            tls_handshakes_failed: AtomicU64::new(0),
        }
    }

    /// The OPEN packet text (`0{...}`) of session `sid`; `upgrades` offers the websocket upgrade
    /// (to a polling session).
    pub fn open_packet(&self, sid: &str, upgrades: bool) -> String {
        let s = &self.settings;
        open_packet(
            sid,
            upgrades,
            s.ping_interval,
            s.ping_timeout,
            s.max_payload,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_parsed_once_and_raised_to_what_the_engine_needs() {
        let c = EngineConfig {
            ping_interval_ms: 1500,
            allowed_origins: vec!["*.example.com".into()],
            ..EngineConfig::default()
        };
        let mut s = c.settings("edge").unwrap();
        assert_eq!(s.ping_interval, Duration::from_millis(1500));
        assert!(
            s.allowed_origins
                .allows(Some(b"https://a.example.com".as_slice()))
        );
        assert!(
            !s.allowed_origins
                .allows(Some(b"https://example.org".as_slice()))
        );
        s.outbound_queue = 1;
        s.max_header_bytes = 1;
        let e = Engine::<()>::new(s);
        assert_eq!(e.settings.outbound_queue, MIN_OUTBOUND_QUEUE);
        assert_eq!(e.settings.max_header_bytes, MIN_HEADER_BYTES);
        assert!(e.open_packet("x", true).contains(r#""pingInterval":1500"#));
    }

    #[test]
    fn a_bad_value_is_refused_with_its_option() {
        let c = EngineConfig {
            trusted_proxies: vec!["not an address".into()],
            ..EngineConfig::default()
        };
        assert!(c.settings("edge").unwrap_err().contains("trusted_proxies"));
    }
}
