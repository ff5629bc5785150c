//! `push_if_offline` on `Emit`: one task per targeted user with no connection, submitted once the
//! event is accepted, keyed so that a retried Emit never submits a second task for the same user.

use herald_proto::v1::{Event, SubmitTaskRequest};
use serde_json::{Value, json};

use super::Node;
use crate::CoreError;

/// A checked `push_if_offline`, waiting for the event to be accepted.
pub struct Push {
    /// A configured queue.
    pub queue: String,
    pub body: Value,
    /// The Emit's idempotency key (empty when it has none).
    pub key: String,
}

impl Node {
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
