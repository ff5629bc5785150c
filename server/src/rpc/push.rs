//! `push_if_offline` on `Emit`: the queue must be configured and the payload valid JSON before the
//! event is published.

use herald_proto::v1::EmitRequest;
use serde_json::Value;

use super::Api;
use crate::CoreError;
use crate::node::push::Push;

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
}
