//! The edge's counters (read when `GET /metrics` and the admin API are served) and the
//! reasons of refused Socket.IO connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use herald_engine::Transport;

use crate::prom::{Histogram, LATENCY_BUCKETS};

/// Why a Socket.IO CONNECT was refused (the `reason` label of `herald_edge_connect_refusals_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Missing, invalid or expired token.
    Auth,
    /// Unknown namespace.
    Namespace,
    /// A limit of the core (connections per user).
    Limits,
    /// No core, or shutting down.
    Unavailable,
    /// A `$connect` handler said no.
    Handler,
    /// A session restore was refused.
    Recovery,
    Other,
}

impl Refusal {
    pub(crate) const ALL: [Refusal; 7] = [
        Refusal::Auth,
        Refusal::Namespace,
        Refusal::Limits,
        Refusal::Unavailable,
        Refusal::Handler,
        Refusal::Recovery,
        Refusal::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Auth => "auth",
            Refusal::Namespace => "namespace",
            Refusal::Limits => "limits",
            Refusal::Unavailable => "unavailable",
            Refusal::Handler => "handler",
            Refusal::Recovery => "recovery",
            Refusal::Other => "other",
        }
    }
}

/// Renders metrics the edge does not own (the in-process core's, under `herald serve`).
pub type ExtraMetrics = Arc<dyn Fn() -> futures::future::BoxFuture<'static, String> + Send + Sync>;

/// The Prometheus text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The edge's counters (gauges are read from the live state when scraped).
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) handshakes_polling: AtomicU64,
    pub(crate) handshakes_websocket: AtomicU64,
    pub(crate) refusals: [AtomicU64; 7],
    /// From the core accepting an event to its frame being handed to the edge's sockets.
    pub(crate) emit_to_write: Histogram,
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) relayed: AtomicU64,
    pub(crate) relay_refused: AtomicU64,
    pub(crate) user_rate_limited: AtomicU64,
    pub(crate) forwarded: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) not_recovered: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            handshakes_polling: AtomicU64::new(0),
            handshakes_websocket: AtomicU64::new(0),
            refusals: Default::default(),
            emit_to_write: Histogram::new(LATENCY_BUCKETS),
            sessions_opened: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            relayed: AtomicU64::new(0),
            relay_refused: AtomicU64::new(0),
            user_rate_limited: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            not_recovered: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn session_opened(&self, transport: Transport) {
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
        match transport {
            Transport::Websocket => &self.handshakes_websocket,
            Transport::Polling | Transport::Upgrading => &self.handshakes_polling,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// A refused Socket.IO CONNECT.
    pub fn refused(&self, why: Refusal) {
        let i = Refusal::ALL.iter().position(|r| *r == why).unwrap_or(6);
        if let Some(c) = self.refusals.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An event handed to this edge's sockets, `timestamp_ms` being when the core accepted it.
    pub fn delivered(&self, timestamp_ms: i64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        #[allow(clippy::cast_precision_loss)]
        self.emit_to_write
            .observe((now - timestamp_ms).max(0) as f64 / 1000.0);
    }

    /// A session closed because its outbound queue was full.
    pub fn slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    /// A session closed for a malformed or forbidden packet.
    pub fn malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn relayed(&self) {
        self.relayed.fetch_add(1, Ordering::Relaxed);
    }

    /// A client event refused because its user went over `user_event_rate_per_sec`.
    pub fn user_rate_limited(&self) {
        self.user_rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// A relay event refused at the edge (rate limited, no room, not a member).
    pub fn relay_refused(&self) {
        self.relay_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn forwarded(&self) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
    }

    /// A returning client got its session back.
    pub fn recovered(&self) {
        self.recovered.fetch_add(1, Ordering::Relaxed);
    }

    /// A returning client asked for its session and got a fresh one.
    pub fn not_recovered(&self) {
        self.not_recovered.fetch_add(1, Ordering::Relaxed);
    }
}
