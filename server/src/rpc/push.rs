//! `push_if_offline` on `Emit`: one task per targeted user with no connection, submitted once the
//! event is accepted, keyed so that a retried Emit never submits a second task for the same user.

use herald_proto::v1::{PushIfOffline, SubmitTaskRequest};
use serde_json::{Value, json};

use super::Api;
use crate::CoreError;

impl Api {
    /// Refuses a `push_if_offline` that could not be submitted, before the event is published.
    pub(super) fn check_push(&self, push: Option<&PushIfOffline>) -> Result<(), CoreError> {
        let Some(push) = push else { return Ok(()) };
        let tasks = self.tasks()?;
        if !tasks.config.queues.contains(&push.queue) {
            return Err(CoreError::InvalidArgument(format!(
                "push_if_offline.queue: unknown queue {:?}; configured: {}",
                push.queue,
                tasks.config.queues.join(", ")
            )));
        }
        payload(push).map(|_| ())
    }

    /// Submits one push task per offline user. The task's idempotency key is derived from the Emit's
    /// idempotency key when it has one (a retry gets a new event id), else from the event id.
    pub(super) async fn push_offline(
        &self,
        push: Option<&PushIfOffline>,
        namespace: &str,
        event: &str,
        event_id: &str,
        idempotency_key: &str,
        offline_users: &[String],
    ) -> Result<(), CoreError> {
        let Some(push) = push else { return Ok(()) };
        let body = payload(push)?;
        let key_base = if idempotency_key.is_empty() {
            event_id
        } else {
            idempotency_key
        };
        for user in offline_users {
            let payload_json = json!({
                "user_id": user,
                "event_id": event_id,
                "namespace": namespace,
                "event": event,
                "payload": body,
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

/// The caller's payload as a JSON value (`null` when empty).
fn payload(push: &PushIfOffline) -> Result<Value, CoreError> {
    if push.payload_json.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&push.payload_json).map_err(|e| {
        CoreError::InvalidArgument(format!("push_if_offline.payload_json: not valid JSON: {e}"))
    })
}
