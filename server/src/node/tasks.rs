//! Submitting tasks: the checks every submitter passes (a backend's `SubmitTask`, an Emit's
//! `push_if_offline`) and the hand-over to the tasks engine.

use std::time::Duration;

use herald_proto::v1::{SubmitTaskRequest, SubmitTaskResponse};
use herald_store::NewTask;

use super::Node;
use crate::CoreError;
use crate::clock::now_ms;
use crate::tasks::{NotifySpec, Tasks, to_proto};
use crate::validate;

/// Most attempts a task may ask for.
const MAX_ATTEMPTS: u32 = 100;
/// Longest a submit waits for the store before answering UNAVAILABLE (the task may or may not be stored:
/// an idempotency key makes the retry safe).
const SUBMIT_TIMEOUT: Duration = Duration::from_millis(1800);

impl Node {
    pub fn tasks(&self) -> Result<&Tasks, CoreError> {
        self.tasks
            .as_ref()
            .ok_or_else(|| CoreError::Unavailable("tasks are not enabled on this core".into()))
    }

    pub async fn submit_task(
        &self,
        req: SubmitTaskRequest,
    ) -> Result<SubmitTaskResponse, CoreError> {
        let tasks = self.tasks()?;
        if !tasks.config.queues.contains(&req.queue) {
            return Err(CoreError::InvalidArgument(format!(
                "queue: unknown queue {:?}; configured: {}",
                req.queue,
                tasks.config.queues.join(", ")
            )));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&req.payload_json).map_err(|e| {
            CoreError::InvalidArgument(format!("payload_json: not valid JSON: {e}"))
        })?;
        if req.payload_json.len() > self.config.max_event_bytes {
            return Err(CoreError::TooLarge(format!(
                "payload_json: {} bytes; the limit is {}",
                req.payload_json.len(),
                self.config.max_event_bytes
            )));
        }
        if req.max_attempts > MAX_ATTEMPTS {
            return Err(CoreError::InvalidArgument(format!(
                "max_attempts: at most {MAX_ATTEMPTS}"
            )));
        }
        let notify = NotifySpec::from_proto(req.notify);
        if !notify.topic.is_empty() {
            validate::namespace(&self.config, &notify.namespace)?;
            validate::topics(std::slice::from_ref(&notify.topic), "notify.topic")?;
            for e in [
                &notify.completed_event,
                &notify.failed_event,
                &notify.progress_event,
            ] {
                if !e.is_empty() {
                    validate::event_name(e)?;
                }
            }
        }
        let new = NewTask {
            id: new_task_id(),
            queue: req.queue,
            payload_json: req.payload_json,
            idempotency_key: req.idempotency_key,
            max_attempts: if req.max_attempts == 0 {
                tasks.config.default_max_attempts
            } else {
                req.max_attempts
            },
            attempt_timeout_ms: if req.attempt_timeout_ms == 0 {
                u32::try_from(tasks.config.default_attempt_timeout.as_millis()).unwrap_or(u32::MAX)
            } else {
                req.attempt_timeout_ms
            },
            notify_json: notify.to_json(),
            now_ms: now_ms(),
        };
        let (row, created) = tokio::time::timeout(SUBMIT_TIMEOUT, tasks.store.submit(new))
            .await
            .map_err(|_| {
                CoreError::StoreUnavailable(format!(
                    "the task store did not answer within {SUBMIT_TIMEOUT:?}; submit again with the same \
                     idempotency key"
                ))
            })??;
        if created {
            tasks.changed(&row);
            tasks.wake();
        }
        Ok(SubmitTaskResponse {
            task: Some(to_proto(&row)),
            created,
        })
    }
}

/// 128 random bits, hex.
fn new_task_id() -> String {
    let v: u128 = rand::random();
    format!("t_{v:032x}")
}
