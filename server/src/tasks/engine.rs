//! The task engine: an actor that owns the live workers, their slots and the
//! leases they hold, assigns runnable tasks, and records every outcome in the
//! store (the source of truth) before telling workers, watchers and users.
//! A lease is let go only once the store has recorded what became of it: an
//! outcome the store could not write stays pending and is written again until
//! it is, so no task stays `running` because a write failed.

mod admin;
mod dispatch;
mod outcome;
mod owed;
mod roster;
mod sweep;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use herald_proto::v1::{
    Arg, EmitRequest, ScrapeTaskResponse, TaskRejected, TaskRevoked, arg, scrape_task_response,
};
use herald_store::{Store, StoreError, TaskRow, TaskStatus as Stored};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::backoff;
use super::model::{NotifySpec, status, to_proto};
use super::pick::Slot;
use super::watch::Watchers;
use crate::clock::now_ms;
use crate::feed::{Feed, FeedError};

pub use admin::AdminCmd;

/// `[tasks]` settings.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    pub queues: Vec<String>,
    pub default_max_attempts: u32,
    pub default_attempt_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub heartbeat_interval: Duration,
    /// How often the store is polled for due retries and tasks from other cores.
    pub poll_interval: Duration,
}

impl Default for TaskConfig {
    fn default() -> Self {
        Self {
            queues: vec!["scrape".into(), "push".into()],
            default_max_attempts: 3,
            default_attempt_timeout: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(10),
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// What the engine is told.
pub enum Cmd {
    /// Something may be runnable now.
    Wake,
    Joined {
        worker: u64,
        name: String,
        queues: Vec<String>,
        capacity: u32,
        feed: Feed<ScrapeTaskResponse>,
    },
    Gone {
        worker: u64,
    },
    Progress {
        worker: u64,
        task_id: String,
        token: u64,
        json: String,
    },
    Result {
        worker: u64,
        task_id: String,
        token: u64,
        json: String,
    },
    Failure {
        worker: u64,
        task_id: String,
        token: u64,
        error: String,
        retryable: bool,
    },
    /// A task was cancelled in the store: take it back from its worker.
    Cancelled {
        task: TaskRow,
    },
    /// Operators: see `admin`.
    Admin(admin::AdminCmd),
}

/// The handle RPCs use.
#[derive(Clone)]
pub struct Tasks {
    pub store: Store,
    pub config: Arc<TaskConfig>,
    pub watchers: Arc<Watchers>,
    cmd: mpsc::Sender<Cmd>,
}

struct WorkerRt {
    name: String,
    feed: Feed<ScrapeTaskResponse>,
}

struct Held {
    worker: u64,
    token: u64,
    deadline_ms: i64,
    /// What the store must still record for this lease (a write failed, or is about to be made).
    pending: Option<Pending>,
    /// When to write `pending` again.
    retry_ms: i64,
}

/// An outcome of a lease not yet recorded in the store.
#[derive(Debug, Clone)]
enum Pending {
    /// The worker's result.
    Succeed(String),
    /// The worker's failure.
    Fail { error: String, retryable: bool },
    /// The worker lost the task (it left, or let its lease lapse): queue it again.
    Release(&'static str),
}

impl Held {
    /// Whether the lease still takes a slot of its worker (until revoked or recorded).
    fn takes_slot(&self) -> bool {
        !matches!(self.pending, Some(Pending::Release(_)))
    }
}

struct Engine {
    store: Store,
    config: Arc<TaskConfig>,
    watchers: Arc<Watchers>,
    notify: mpsc::Sender<EmitRequest>,
    workers: HashMap<u64, WorkerRt>,
    slots: HashMap<u64, Slot>,
    held: HashMap<String, Held>,
    picks: u64,
    /// Whether other cores share the store: leases of theirs are swept here too.
    shared: bool,
    /// Whether the store wakes the engine when tasks are queued (PostgreSQL).
    listening: bool,
    /// When to sweep expired leases next (shared store only).
    next_sweep_ms: i64,
    /// When the earliest queued task not yet due becomes due, as last read.
    next_due_ms: Option<i64>,
    /// Final notifications sent and not yet marked as sent in the store (shared store only).
    unpaid: VecDeque<(String, i64)>,
    /// Not before this time is marking them tried again (the store failed the last try).
    pay_retry_ms: i64,
    /// This core's id among those publishing their workers to the shared store.
    core_id: String,
    /// When to publish the workers next, and whether the last publish listed any.
    next_publish_ms: i64,
    published_any: bool,
}

/// The longest a stopping core spends handing back its leases.
const HAND_BACK_LIMIT: Duration = Duration::from_secs(3);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A fencing token: random, non-zero, fits the store's signed 64-bit column.
fn new_token() -> u64 {
    (rand::random::<u64>() >> 1).max(1)
}

impl Tasks {
    /// Starts the engine; emits for notifications go to `notify`. With `shared`, other cores use the same
    /// store: a start re-queues only leases that expired (swept), never the tasks other cores run. Alone,
    /// every task left running by the previous run is queued again at once.
    pub async fn start(
        store: Store,
        config: TaskConfig,
        shared: bool,
        notify: mpsc::Sender<EmitRequest>,
        cancel: CancellationToken,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        if !shared {
            let requeued = store.requeue_running(now_ms()).await?;
            if requeued > 0 {
                tracing::info!(
                    requeued,
                    "tasks left running by the previous run are queued again"
                );
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        let listener = sweep::spawn_listener(&store, tx.clone(), cancel.clone()).await?;
        let config = Arc::new(config);
        let watchers = Arc::new(Watchers::default());
        let engine = Engine {
            store: store.clone(),
            config: config.clone(),
            watchers: watchers.clone(),
            notify,
            workers: HashMap::new(),
            slots: HashMap::new(),
            held: HashMap::new(),
            picks: 0,
            shared,
            listening: listener.is_some(),
            next_sweep_ms: 0,
            next_due_ms: None,
            unpaid: VecDeque::new(),
            pay_retry_ms: 0,
            core_id: roster::new_core_id(),
            next_publish_ms: 0,
            published_any: false,
        };
        let handle = tokio::spawn(async move {
            engine.run(rx, cancel).await;
            if let Some(listener) = listener {
                let _ = listener.await;
            }
        });
        Ok((
            Self {
                store,
                config,
                watchers,
                cmd: tx,
            },
            handle,
        ))
    }

    /// Tells the engine; waits for room (the queue is bounded).
    pub async fn tell(&self, cmd: Cmd) {
        let _ = self.cmd.send(cmd).await;
    }

    /// A nudge that may be dropped when the engine is busy (it polls anyway).
    pub fn wake(&self) {
        let _ = self.cmd.try_send(Cmd::Wake);
    }

    /// Publishes a changed task to watchers.
    pub fn changed(&self, row: &TaskRow) {
        self.watchers.publish(&to_proto(row));
    }
}

impl Engine {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>, cancel: CancellationToken) {
        loop {
            let wait = self.next_wait();
            tokio::select! {
                () = cancel.cancelled() => break,
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => break,
                },
                () = tokio::time::sleep(wait) => {}
            }
            self.retry_pending().await;
            self.expire_leases().await;
            if self.shared {
                self.sweep().await;
                self.pay_sent().await;
                self.publish_workers().await;
            }
            self.dispatch().await;
            self.report_workers();
        }
        if self.shared {
            // Other cores carry on: hand back the leases now rather than after their deadline.
            if tokio::time::timeout(HAND_BACK_LIMIT, self.hand_back())
                .await
                .is_err()
            {
                tracing::warn!("shutting down before every lease was handed back; the rest expire");
            }
        }
    }

    /// The leases of `worker` (of every worker with `None`), each with what to write for it: the outcome
    /// its worker reported if the store has not recorded it yet, else a release for `reason`.
    fn letting_go(&self, worker: Option<u64>, reason: &'static str) -> Vec<(String, Pending)> {
        self.held
            .iter()
            .filter(|(_, h)| worker.is_none_or(|w| h.worker == w))
            .map(|(id, h)| {
                let p = h.pending.clone().unwrap_or(Pending::Release(reason));
                (id.clone(), p)
            })
            .collect()
    }

    /// At shutdown with a shared store: records the outcomes still pending and queues again the tasks this
    /// core's workers hold, so that other cores run them at once.
    async fn hand_back(&mut self) {
        let held = self.letting_go(None, "core shut down");
        if !held.is_empty() {
            tracing::info!(leases = held.len(), "handing back this core's leases");
        }
        for (id, outcome) in held {
            self.record(&id, outcome).await;
        }
    }

    /// Publishes the live workers and their load per queue for `/metrics`.
    fn report_workers(&self) {
        let per_queue = self
            .config
            .queues
            .iter()
            .map(|q| {
                let on: Vec<_> = self
                    .slots
                    .values()
                    .filter(|s| s.queues.contains(q))
                    .collect();
                (
                    q.clone(),
                    on.len() as u64,
                    on.iter().map(|s| u64::from(s.capacity)).sum(),
                    on.iter().map(|s| u64::from(s.busy)).sum(),
                )
            })
            .collect();
        self.watchers.metrics.set_workers(per_queue);
    }

    fn next_wait(&self) -> Duration {
        let now = now_ms();
        let lease = self
            .held
            .values()
            .map(|h| {
                if h.pending.is_some() {
                    h.retry_ms
                } else {
                    h.deadline_ms
                }
            })
            .min()
            .map(|d| Duration::from_millis(u64::try_from(d - now).unwrap_or(0)));
        let until = |at: i64| Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
        let mut wait = if self.slots.is_empty() {
            Duration::from_secs(3600)
        } else {
            let due = self.next_due_ms.map_or(Duration::MAX, until);
            self.idle_poll().min(due)
        };
        if self.shared {
            wait = wait.min(until(self.next_sweep_ms));
            for at in [self.next_payment_ms(), self.next_publish_at()]
                .into_iter()
                .flatten()
            {
                wait = wait.min(until(at));
            }
        }
        lease.map_or(wait, |l| l.min(wait))
    }

    async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Wake => {}
            Cmd::Joined {
                worker,
                name,
                queues,
                capacity,
                feed,
            } => {
                tracing::info!(worker, %name, ?queues, capacity, "worker joined");
                self.slots.insert(
                    worker,
                    Slot {
                        queues,
                        capacity,
                        busy: 0,
                        last_pick: 0,
                    },
                );
                self.workers.insert(worker, WorkerRt { name, feed });
            }
            Cmd::Gone { worker } => self.worker_gone(worker).await,
            Cmd::Progress {
                worker,
                task_id,
                token,
                json,
            } => self.progress(worker, &task_id, token, &json).await,
            Cmd::Result {
                worker,
                task_id,
                token,
                json,
            } => self.result(worker, &task_id, token, &json).await,
            Cmd::Failure {
                worker,
                task_id,
                token,
                error,
                retryable,
            } => {
                self.failure(worker, &task_id, token, &error, retryable)
                    .await
            }
            Cmd::Cancelled { task } => {
                if let Some(h) = self.held.remove(&task.id) {
                    if h.takes_slot() {
                        self.release_slot(h.worker);
                    }
                    self.send(
                        h.worker,
                        scrape_task_response::Msg::Revoked(TaskRevoked {
                            task_id: task.id.clone(),
                            lease_token: h.token,
                            reason: "cancelled".into(),
                        }),
                    );
                }
                self.announce(&task).await;
            }
            Cmd::Admin(cmd) => self.admin(cmd).await,
        }
    }

    fn send(&mut self, worker: u64, msg: scrape_task_response::Msg) -> bool {
        let Some(w) = self.workers.get(&worker) else {
            return false;
        };
        match w.feed.try_send(ScrapeTaskResponse { msg: Some(msg) }) {
            Ok(()) => true,
            Err(FeedError::Full) => {
                w.feed.close(tonic::Status::resource_exhausted(
                    "worker is not reading its stream",
                ));
                false
            }
            Err(FeedError::Closed) => false,
        }
    }

    fn reject(&mut self, worker: u64, task_id: &str, token: u64, code: Code, message: String) {
        tracing::debug!(worker, task_id, %message, "task message refused");
        self.send(
            worker,
            scrape_task_response::Msg::Rejected(TaskRejected {
                task_id: task_id.to_owned(),
                lease_token: token,
                code: code as i32,
                message,
            }),
        );
    }

    fn release_slot(&mut self, worker: u64) {
        if let Some(s) = self.slots.get_mut(&worker) {
            s.busy = s.busy.saturating_sub(1);
        }
    }

    fn retry_at(&self, attempt: u32) -> i64 {
        now_ms()
            + ms(backoff::delay(
                attempt,
                self.config.retry_backoff,
                self.config.retry_backoff_max,
            ))
    }

    /// Checks that `worker` holds `task_id` under `token` and has not reported its outcome yet;
    /// refuses otherwise.
    fn check_held(&mut self, worker: u64, task_id: &str, token: u64) -> bool {
        let reason = match self.held.get(task_id) {
            Some(h) if h.worker == worker && h.token == token => match &h.pending {
                None => return true,
                Some(Pending::Release(why)) => {
                    format!("task {task_id} is no longer held by this worker ({why})")
                }
                Some(_) => format!("task {task_id}: this attempt's outcome was already reported"),
            },
            Some(h) if h.worker == worker => format!(
                "stale lease token for task {task_id}: the current attempt has another token"
            ),
            _ => format!(
                "task {task_id} is not held by this worker (lease expired, cancelled or never assigned)"
            ),
        };
        self.reject(worker, task_id, token, Code::FailedPrecondition, reason);
        false
    }

    /// Refuses a report whose JSON does not parse; the lease stays usable.
    fn check_json(
        &mut self,
        worker: u64,
        task_id: &str,
        token: u64,
        json: &str,
        what: &str,
    ) -> bool {
        match serde_json::from_str::<serde::de::IgnoredAny>(json) {
            Ok(_) => true,
            Err(e) => {
                let msg = format!("{what} is not JSON: {e}");
                self.reject(worker, task_id, token, Code::InvalidArgument, msg);
                false
            }
        }
    }

    async fn progress(&mut self, worker: u64, task_id: &str, token: u64, json: &str) {
        if !self.check_json(worker, task_id, token, json, "progress")
            || !self.check_held(worker, task_id, token)
        {
            return;
        }
        match self.store.progress(task_id, token, json, now_ms()).await {
            Ok(row) => {
                self.watchers.publish(&to_proto(&row));
                let spec = NotifySpec::parse(&row.notify_json);
                if !spec.progress_event.is_empty() {
                    let body = json!({
                        "task_id": row.id, "queue": row.queue, "status": "running",
                        "progress": serde_json::from_str::<Value>(json).unwrap_or(Value::Null),
                    });
                    self.emit(&spec, &spec.progress_event, body, String::new())
                        .await;
                }
            }
            Err(e) => self.store_refusal(worker, task_id, token, e),
        }
    }

    async fn result(&mut self, worker: u64, task_id: &str, token: u64, json: &str) {
        if !self.check_json(worker, task_id, token, json, "result") {
            return;
        }
        let outcome = Pending::Succeed(json.to_owned());
        if !self.held.contains_key(task_id) {
            self.adopt(worker, task_id, token, outcome).await;
            return;
        }
        if self.check_held(worker, task_id, token) {
            self.record(task_id, outcome).await;
        }
    }

    async fn failure(
        &mut self,
        worker: u64,
        task_id: &str,
        token: u64,
        error: &str,
        retryable: bool,
    ) {
        let pending = Pending::Fail {
            error: error.to_owned(),
            retryable,
        };
        if !self.held.contains_key(task_id) {
            self.adopt(worker, task_id, token, pending).await;
            return;
        }
        if self.check_held(worker, task_id, token) {
            self.record(task_id, pending).await;
        }
    }

    /// Watchers always; users when the task reached a state they asked to hear about.
    async fn announce(&mut self, row: &TaskRow) {
        self.watchers.publish(&to_proto(row));
        let spec = NotifySpec::parse(&row.notify_json);
        let (event, body) = match row.status {
            Stored::Succeeded => (
                &spec.completed_event,
                json!({
                    "task_id": row.id, "queue": row.queue, "status": "succeeded", "attempt": row.attempt,
                    "result": serde_json::from_str::<Value>(&row.result_json).unwrap_or(Value::Null),
                }),
            ),
            Stored::Failed | Stored::Dead | Stored::Cancelled => (
                &spec.failed_event,
                json!({
                    "task_id": row.id, "queue": row.queue, "status": status(row.status).as_str_name()
                        .trim_start_matches("TASK_STATUS_").to_ascii_lowercase(),
                    "attempt": row.attempt, "error": row.last_error,
                }),
            ),
            _ => return,
        };
        if !event.is_empty() {
            let event = event.clone();
            self.emit(&spec, &event, body, owed::announce_key(row))
                .await;
        }
        self.sent_final(row);
    }

    /// Emits `event` to the task's topic; a non-empty `key` makes a repeated emit a no-op.
    async fn emit(&self, spec: &NotifySpec, event: &str, body: Value, key: String) {
        if spec.topic.is_empty() {
            return;
        }
        let req = EmitRequest {
            namespace: spec.namespace.clone(),
            targets: vec![spec.topic.clone()],
            event: event.to_owned(),
            args: vec![Arg {
                value: Some(arg::Value::Json(body.to_string())),
            }],
            idempotency_key: key,
            ..Default::default()
        };
        if self.notify.send(req).await.is_err() {
            tracing::warn!(event, "notification dropped: the core is shutting down");
        }
    }

    async fn worker_gone(&mut self, worker: u64) {
        let Some(w) = self.workers.remove(&worker) else {
            return;
        };
        self.slots.remove(&worker);
        // A reported outcome still waiting for the store stays as it is; the rest is queued again.
        let lost = self.letting_go(Some(worker), "worker disconnected");
        tracing::info!(worker, name = %w.name, in_flight = lost.len(), "worker left; its tasks are queued again");
        for (id, outcome) in lost {
            self.record(&id, outcome).await;
        }
    }

    async fn expire_leases(&mut self) {
        let now = now_ms();
        let expired: Vec<(String, u64, u64)> = self
            .held
            .iter()
            .filter(|(_, h)| h.pending.is_none() && h.deadline_ms <= now)
            .map(|(id, h)| (id.clone(), h.worker, h.token))
            .collect();
        for (id, worker, token) in expired {
            self.release_slot(worker);
            self.send(
                worker,
                scrape_task_response::Msg::Revoked(TaskRevoked {
                    task_id: id.clone(),
                    lease_token: token,
                    reason: "lease expired".into(),
                }),
            );
            self.record(&id, Pending::Release("lease expired")).await;
        }
    }
}
