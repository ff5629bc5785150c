//! `ScrapeTask`: a worker's bidirectional session. The hello is checked before
//! the stream is answered; then every message is handed to the task engine,
//! pings keep the session alive and a silent worker is let go.

use std::sync::Arc;
use std::time::Duration;

use herald_proto::v1::{
    ScrapeTaskRequest, ScrapeTaskResponse, WorkerHello, WorkerPing, WorkerWelcome,
    scrape_task_request, scrape_task_response,
};
use tonic::{Status, Streaming};

use super::Api;
use crate::CoreError;
use crate::feed::{FeedStream, feed};
use crate::tasks::{Cmd, Tasks};

/// Largest capacity a worker may declare.
const MAX_CAPACITY: u32 = 10_000;
/// Time a worker has to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Missed heartbeat intervals before a worker is considered gone.
const MISSED_BEATS: u32 = 3;

fn check_hello(tasks: &Tasks, h: &WorkerHello) -> Result<(), CoreError> {
    if h.capacity == 0 || h.capacity > MAX_CAPACITY {
        return Err(CoreError::InvalidArgument(format!(
            "hello.capacity: must be between 1 and {MAX_CAPACITY}, got {}",
            h.capacity
        )));
    }
    if h.queues.is_empty() {
        return Err(CoreError::InvalidArgument(
            "hello.queues: name at least one queue".into(),
        ));
    }
    if let Some(q) = h.queues.iter().find(|q| !tasks.config.queues.contains(q)) {
        return Err(CoreError::InvalidArgument(format!(
            "hello.queues: unknown queue {q:?}; configured: {}",
            tasks.config.queues.join(", ")
        )));
    }
    Ok(())
}

impl Api {
    pub async fn scrape_task(
        self: Arc<Self>,
        mut inbound: Streaming<ScrapeTaskRequest>,
    ) -> Result<FeedStream<ScrapeTaskResponse>, Status> {
        let tasks = self.tasks()?.clone();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 10 s"))??;
        let hello = match first.and_then(|m| m.msg) {
            Some(scrape_task_request::Msg::Hello(h)) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        if let Err(e) = check_hello(&tasks, &hello) {
            tracing::warn!(worker = %hello.name, reason = %e, "worker refused");
            return Err(e.into());
        }
        let worker = self.hub.next_id();
        let name = if hello.name.is_empty() {
            format!("worker-{worker}")
        } else {
            hello.name.clone()
        };
        // Room for every assignment the worker may hold plus control messages.
        let capacity = usize::try_from(hello.capacity).unwrap_or(1) * 2 + 64;
        let (tx, rx) = feed(capacity, &self.hub.cancel);
        let beat = tasks.config.heartbeat_interval;
        tx.try_send(ScrapeTaskResponse {
            msg: Some(scrape_task_response::Msg::Welcome(WorkerWelcome {
                worker_id: worker.to_string(),
                heartbeat_interval_ms: u32::try_from(beat.as_millis()).unwrap_or(u32::MAX),
            })),
        })
        .map_err(|_| Status::unavailable("server is shutting down"))?;
        tasks
            .tell(Cmd::Joined {
                worker,
                name,
                queues: hello.queues,
                capacity: hello.capacity,
                feed: tx.clone(),
            })
            .await;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(beat);
            ticker.tick().await;
            let mut silent = 0u32;
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    _ = ticker.tick() => {
                        silent += 1;
                        if silent > MISSED_BEATS {
                            tx.close(Status::deadline_exceeded("worker missed its heartbeats"));
                            break;
                        }
                        let _ = tx.try_send(ScrapeTaskResponse {
                            msg: Some(scrape_task_response::Msg::Ping(WorkerPing {})),
                        });
                    }
                    msg = inbound.message() => match msg {
                        Ok(Some(m)) => {
                            silent = 0;
                            if let Some(cmd) = to_cmd(worker, m) {
                                tasks.tell(cmd).await;
                            }
                        }
                        Ok(None) | Err(_) => break,
                    },
                }
            }
            tasks.tell(Cmd::Gone { worker }).await;
        });
        Ok(rx)
    }
}

fn to_cmd(worker: u64, m: ScrapeTaskRequest) -> Option<Cmd> {
    use scrape_task_request::Msg;
    match m.msg? {
        Msg::Hello(_) | Msg::Heartbeat(_) | Msg::Ack(_) => None,
        Msg::Progress(p) => Some(Cmd::Progress {
            worker,
            task_id: p.task_id,
            token: p.lease_token,
            json: p.progress_json,
        }),
        Msg::Result(r) => Some(Cmd::Result {
            worker,
            task_id: r.task_id,
            token: r.lease_token,
            json: r.result_json,
        }),
        Msg::Failure(f) => Some(Cmd::Failure {
            worker,
            task_id: f.task_id,
            token: f.lease_token,
            error: f.error,
            retryable: f.retryable,
        }),
    }
}
