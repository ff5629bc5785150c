//! What a node's Redis traffic looks like to an operator: commands by outcome and their latency,
//! the subscriber connection, catch-ups after it broke, and the resyncs and dropped events of a
//! core that fell behind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use herald_edge::prom::{Histogram, family};

/// Buckets of `herald_redis_command_seconds` (a healthy local Redis answers in well under 1 ms; the
/// command timeout is seconds).
const COMMAND_BUCKETS: &[f64] = &[
    0.000_25, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Why a core told its edges and subscribers to resynchronise.
#[derive(Debug, Clone, Copy)]
pub enum ResyncCause {
    /// Events from Redis found the core's broker queue full.
    Overflow,
    /// After a reconnect, the logs no longer held what was missed.
    LostEvents,
    /// After a reconnect, the logs could not be read.
    Unavailable,
}

impl ResyncCause {
    const NAMES: [&'static str; 3] = ["overflow", "lost_events", "unavailable"];
}

/// The counters (atomics; one add per command or event, nothing per recipient).
#[derive(Debug)]
pub struct RedisStats {
    /// Commands that answered, failed, timed out.
    commands: [AtomicU64; 3],
    latency: Histogram,
    subscriber_up: AtomicBool,
    reconnects: AtomicU64,
    caught_up: AtomicU64,
    resyncs: [AtomicU64; 3],
    dropped: AtomicU64,
    topics: AtomicU64,
}

impl Default for RedisStats {
    fn default() -> Self {
        Self {
            commands: Default::default(),
            latency: Histogram::new(COMMAND_BUCKETS),
            subscriber_up: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            caught_up: AtomicU64::new(0),
            resyncs: Default::default(),
            dropped: AtomicU64::new(0),
            topics: AtomicU64::new(0),
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Ok,
    Error,
    Timeout,
}

impl RedisStats {
    pub fn command(&self, outcome: Outcome, took: Duration) {
        self.commands[outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(took.as_secs_f64());
    }

    pub fn subscriber(&self, up: bool) {
        self.subscriber_up.store(up, Ordering::Relaxed);
    }

    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn caught_up(&self, events: usize) {
        self.caught_up
            .fetch_add(u64::try_from(events).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn resync(&self, cause: ResyncCause) {
        self.resyncs[cause as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The topic channels and patterns the subscriber connection follows now.
    pub fn set_topics(&self, n: usize) {
        self.topics
            .store(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// An event from Redis found the broker queue full.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Events dropped so far (the core resyncs after them).
    pub fn dropped_count(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends the families; `nodes` is the live nodes at the last sweep.
    pub fn render(&self, out: &mut String, nodes: usize) {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let labelled = |names: &[&str], values: &[AtomicU64], label: &str| -> Vec<(String, u64)> {
            names
                .iter()
                .zip(values)
                .map(|(name, v)| (format!("{label}=\"{name}\""), load(v)))
                .collect()
        };
        family(
            out,
            "herald_redis_commands_total",
            "counter",
            "Redis commands and scripts this core ran, by result (ok, error, timeout).",
            &labelled(&["ok", "error", "timeout"], &self.commands, "result"),
        );
        self.latency.render(
            out,
            "herald_redis_command_seconds",
            "Time from sending a Redis command or script to its answer (or the timeout).",
        );
        let single = |v: u64| [(String::new(), v)];
        for (name, kind, help, v) in [
            (
                "herald_redis_subscriber_connected",
                "gauge",
                "1 while the core's Redis subscriber connection is up.",
                u64::from(self.subscriber_up.load(Ordering::Relaxed)),
            ),
            (
                "herald_redis_subscriber_reconnects_total",
                "counter",
                "Times the subscriber connection came back after breaking.",
                load(&self.reconnects),
            ),
            (
                "herald_broker_caught_up_events_total",
                "counter",
                "Events read back from the topic logs after the subscriber connection came back.",
                load(&self.caught_up),
            ),
            (
                "herald_broker_dropped_events_total",
                "counter",
                "Events from Redis that found the core's broker queue full (core.broker_queue); each run of them ends in a resync.",
                load(&self.dropped),
            ),
            (
                "herald_broker_topics",
                "gauge",
                "Topic channels and patterns the core's subscriber connection follows.",
                load(&self.topics),
            ),
            (
                "herald_cluster_nodes",
                "gauge",
                "Live cores in the cluster at the last sweep, this one included.",
                n(nodes),
            ),
        ] {
            family(out, name, kind, help, &single(v));
        }
        family(
            out,
            "herald_broker_resyncs_total",
            "counter",
            "Times the core closed its edge links and subscriber streams so that they resume from their positions, by cause (overflow, lost_events, unavailable).",
            &labelled(&ResyncCause::NAMES, &self.resyncs, "cause"),
        );
    }
}
