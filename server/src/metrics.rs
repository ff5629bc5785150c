//! The core's metrics: counters kept by the API and the fan-out (atomics, one lookup per event,
//! nothing per recipient), task metrics, and the Prometheus text of it all.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use herald_edge::prom::{Histogram, family, label};
use herald_proto::v1::{Task, TaskStatus};
use parking_lot::{Mutex, RwLock};

use crate::CoreError;
use crate::rpc::Api;

/// Namespaces with their own series; others (never reached: namespaces are validated) share one.
const MAX_NAMESPACES: usize = 256;

/// How an Emit call ended (the `result` label of `herald_emits_total`).
#[derive(Debug, Clone, Copy)]
pub enum EmitResult {
    Ok,
    /// Refused: invalid argument, too large, unknown namespace.
    Invalid,
    /// Broker or store unavailable, or shutting down.
    Unavailable,
    Error,
}

impl EmitResult {
    const NAMES: [&'static str; 4] = ["ok", "invalid", "unavailable", "error"];

    pub fn of<T>(r: &Result<T, CoreError>) -> Self {
        match r {
            Ok(_) => EmitResult::Ok,
            Err(CoreError::InvalidArgument(_) | CoreError::TooLarge(_)) => EmitResult::Invalid,
            Err(
                CoreError::BrokerUnavailable(_)
                | CoreError::StoreUnavailable(_)
                | CoreError::Unavailable(_)
                | CoreError::ShuttingDown,
            ) => EmitResult::Unavailable,
            Err(_) => EmitResult::Error,
        }
    }
}

/// The counters of one namespace.
#[derive(Debug, Default)]
pub struct NsCounters {
    emits: [AtomicU64; 4],
    delivered: AtomicU64,
    dropped: AtomicU64,
}

impl NsCounters {
    pub fn emitted(&self, r: EmitResult) {
        self.emits[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Emits accepted so far.
    pub fn accepted(&self) -> u64 {
        self.emits[EmitResult::Ok as usize].load(Ordering::Relaxed)
    }

    /// One copy of an event queued to an edge link or a direct subscriber (or dropped: full).
    pub fn delivered(&self, ok: bool) {
        if ok { &self.delivered } else { &self.dropped }.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters of the hub and the API.
#[derive(Debug, Default)]
pub struct CoreMetrics {
    namespaces: RwLock<HashMap<Box<str>, Arc<NsCounters>>>,
    other: Arc<NsCounters>,
    slow_links: AtomicU64,
    slow_subscribers: AtomicU64,
}

impl CoreMetrics {
    /// The counters of `ns` (`""` is `/`).
    pub fn namespace(&self, ns: &str) -> Arc<NsCounters> {
        let ns = if ns.is_empty() { "/" } else { ns };
        if let Some(c) = self.namespaces.read().get(ns) {
            return c.clone();
        }
        let mut map = self.namespaces.write();
        if map.len() >= MAX_NAMESPACES && !map.contains_key(ns) {
            return self.other.clone();
        }
        map.entry(Box::from(ns)).or_default().clone()
    }

    pub fn slow_link(&self) {
        self.slow_links.fetch_add(1, Ordering::Relaxed);
    }

    pub fn slow_subscriber(&self) {
        self.slow_subscribers.fetch_add(1, Ordering::Relaxed);
    }
}

/// Tasks finishing, and the live workers (kept by the task engine).
#[derive(Debug)]
pub struct TaskMetrics {
    duration: Histogram,
    attempts: Histogram,
    /// Per queue: (workers, capacity, busy).
    workers: Mutex<Vec<(String, u64, u64, u64)>>,
}

/// Buckets of `herald_task_attempts`.
const ATTEMPT_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 5.0, 10.0, 20.0];
/// Buckets of `herald_task_duration_seconds` (a task may wait and retry for minutes).
const TASK_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

impl Default for TaskMetrics {
    fn default() -> Self {
        Self {
            duration: Histogram::new(TASK_BUCKETS),
            attempts: Histogram::new(ATTEMPT_BUCKETS),
            workers: Mutex::new(Vec::new()),
        }
    }
}

impl TaskMetrics {
    /// A task changed; one that reached a final status is measured.
    pub fn changed(&self, t: &Task) {
        let done = matches!(
            TaskStatus::try_from(t.status),
            Ok(TaskStatus::Succeeded
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::Dead)
        );
        if done {
            #[allow(clippy::cast_precision_loss)]
            self.duration
                .observe((t.updated_ms - t.created_ms).max(0) as f64 / 1000.0);
            self.attempts.observe(f64::from(t.attempt));
        }
    }

    /// The live workers per queue: (queue, workers, capacity, busy).
    pub fn set_workers(&self, per_queue: Vec<(String, u64, u64, u64)>) {
        *self.workers.lock() = per_queue;
    }
}

fn n(x: usize) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// The core's metrics as Prometheus text (without the `process_*` ones).
pub async fn render(api: &Api) -> String {
    let mut out = String::with_capacity(8192);
    let m = &api.hub.metrics;
    let namespaces: Vec<(String, Arc<NsCounters>)> = m
        .namespaces
        .read()
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut emits = Vec::new();
    let mut deliveries = Vec::new();
    for (ns, c) in &namespaces {
        let nl = label("namespace", ns);
        for (i, name) in EmitResult::NAMES.iter().enumerate() {
            emits.push((
                format!("{nl},result=\"{name}\""),
                c.emits[i].load(Ordering::Relaxed),
            ));
        }
        deliveries.push((
            format!("{nl},result=\"queued\""),
            c.delivered.load(Ordering::Relaxed),
        ));
        deliveries.push((
            format!("{nl},result=\"dropped\""),
            c.dropped.load(Ordering::Relaxed),
        ));
    }
    family(
        &mut out,
        "herald_emits_total",
        "counter",
        "Emit calls by namespace and result (ok, invalid, unavailable, error).",
        &emits,
    );
    family(
        &mut out,
        "herald_deliveries_total",
        "counter",
        "Event copies handed to edge links and direct subscribers, by namespace and result (queued, dropped: queue full).",
        &deliveries,
    );
    family(
        &mut out,
        "herald_slow_disconnects_total",
        "counter",
        "Edge links and direct subscribers dropped because their queue was full.",
        &[
            (
                "kind=\"link\"".to_owned(),
                m.slow_links.load(Ordering::Relaxed),
            ),
            (
                "kind=\"subscriber\"".to_owned(),
                m.slow_subscribers.load(Ordering::Relaxed),
            ),
        ],
    );
    // This process's own figures: a cluster's are the sum over its cores.
    let stats = api.local_stats();
    let per_ns = |f: fn(&herald_proto::v1::NamespaceStats) -> u32| -> Vec<(String, u64)> {
        stats
            .namespaces
            .iter()
            .map(|s| (label("namespace", &s.namespace), u64::from(f(s))))
            .collect()
    };
    family(
        &mut out,
        "herald_connections",
        "gauge",
        "Connections per namespace (every edge of this core).",
        &per_ns(|s| s.connections),
    );
    family(
        &mut out,
        "herald_users",
        "gauge",
        "Online users per namespace.",
        &per_ns(|s| s.users),
    );
    family(
        &mut out,
        "herald_rooms",
        "gauge",
        "Non-empty rooms per namespace.",
        &per_ns(|s| s.rooms),
    );
    for (name, help, v) in [
        (
            "herald_edges",
            "Edges linked to the core.",
            u64::from(stats.edges),
        ),
        (
            "herald_subscribers",
            "Direct subscribers of the core.",
            u64::from(stats.subscribers),
        ),
        (
            "herald_handlers",
            "Client-event handlers registered with the core.",
            u64::from(stats.handlers),
        ),
        (
            "herald_link_queue_depth",
            "Deliveries waiting in the edge links' queues (all links).",
            n(api.hub.link_queue_depth()),
        ),
        (
            "herald_subscriber_queue_depth",
            "Events waiting in the direct subscribers' queues (all subscribers).",
            n(api.hub.subscriber_queue_depth()),
        ),
    ] {
        family(&mut out, name, "gauge", help, &[(String::new(), v)]);
    }
    if let Some(c) = &api.cluster {
        c.redis.stats.render(&mut out, c.seen.count());
    }
    if let Some(tasks) = &api.tasks {
        render_tasks(&mut out, tasks).await;
    }
    out
}

async fn render_tasks(out: &mut String, tasks: &crate::tasks::Tasks) {
    match tasks.store.counts().await {
        Ok(rows) => {
            let samples: Vec<(String, u64)> = rows
                .iter()
                .map(|(q, s, c)| {
                    (
                        format!("{},{}", label("queue", q), label("status", s)),
                        u64::try_from(*c).unwrap_or(0),
                    )
                })
                .collect();
            family(
                out,
                "herald_tasks",
                "gauge",
                "Tasks in the store by queue and status.",
                &samples,
            );
        }
        Err(e) => tracing::warn!(error = %e, "task counts for /metrics failed"),
    }
    let tm = &tasks.watchers.metrics;
    tm.duration.render(
        out,
        "herald_task_duration_seconds",
        "From submit to a final status (succeeded, failed, cancelled, dead).",
    );
    tm.attempts.render(
        out,
        "herald_task_attempts",
        "Attempts a task took to reach its final status.",
    );
    let workers = tm.workers.lock().clone();
    let per = |i: usize| -> Vec<(String, u64)> {
        workers
            .iter()
            .map(|w| {
                let v = match i {
                    0 => w.1,
                    1 => w.2,
                    _ => w.3,
                };
                (label("queue", &w.0), v)
            })
            .collect()
    };
    family(
        out,
        "herald_workers",
        "gauge",
        "Live workers per queue they take from.",
        &per(0),
    );
    family(
        out,
        "herald_worker_capacity",
        "gauge",
        "Tasks the live workers of a queue may hold at once.",
        &per(1),
    );
    family(
        out,
        "herald_worker_busy",
        "gauge",
        "Tasks the live workers of a queue hold now (load).",
        &per(2),
    );
}
