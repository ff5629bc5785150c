//! `push_if_offline` on `Emit`: one task per targeted user with no connection, submitted once the
//! event is accepted, keyed so that a retried Emit never submits a second task for the same user.

use herald_proto::v1::{EmitRequest, Event, SubmitTaskRequest};
use serde_json::{Value, json};

use super::Api;
use crate::CoreError;

/// A checked `push_if_offline`, waiting for the event to be accepted.
pub(super) struct Push {
    queue: String,
    body: Value,
    /// The Emit's idempotency key (empty when it has none).
    key: String,
}

impl Api {
    /// Refuses a `push_if_offline` that could not be submitted, before the event is published.
    pub(super) fn check_push(&self, req: &EmitRequest) -> Result<Option<Push>, CoreError> {
        let Some(push) = &req.push_if_offline else {
            return Ok(None);
        };
        let tasks = self.tasks()?;
        if !tasks.config.queues.contains(&push.queue) {
            return Err(CoreError::InvalidArgument(format!(
                "push_if_offline.queue: unknown queue {:?}; configured: {}",
                push.queue,
                tasks.config.queues.join(", ")
            )));
        }
        let body = if push.payload_json.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&push.payload_json).map_err(|e| {
                CoreError::InvalidArgument(format!(
                    "push_if_offline.payload_json: not valid JSON: {e}"
                ))
            })?
        };
        Ok(Some(Push {
            queue: push.queue.clone(),
            body,
            key: req.idempotency_key.clone(),
        }))
    }

    /// Once `event` is accepted, submits one push task per offline user. The task's idempotency key is
    /// derived from the Emit's idempotency key when it has one (a retry gets a new event id), else from
    /// the event id.
    pub(super) async fn push(
        &self,
        push: Option<Push>,
        event: &Event,
        offline_users: &[String],
    ) -> Result<(), CoreError> {
        let Some(push) = push else { return Ok(()) };
        let key_base = if push.key.is_empty() {
            &event.id
        } else {
            &push.key
        };
        for user in offline_users {
            let payload_json = json!({
                "user_id": user,
                "event_id": event.id,
                "namespace": event.namespace,
                "event": event.name,
                "payload": push.body,
            })
            .to_string();
            self.submit_task(SubmitTaskRequest {
                queue: push.queue.clone(),
                payload_json,
                idempotency_key: format!("push:{key_base}:{user}"),
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }
}
