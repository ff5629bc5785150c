//! The proto view of stored tasks, and the notification settings kept with each task.

use herald_proto::v1::{Task, TaskNotify, TaskStatus};
use herald_store::{TaskRow, TaskStatus as Stored};
use serde::{Deserialize, Serialize};

/// `TaskNotify` as stored (JSON) with the task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifySpec {
    pub namespace: String,
    pub topic: String,
    pub completed_event: String,
    pub failed_event: String,
    pub progress_event: String,
}

impl NotifySpec {
    pub fn from_proto(n: Option<TaskNotify>) -> Self {
        let n = n.unwrap_or_default();
        Self {
            namespace: n.namespace,
            topic: n.topic,
            completed_event: n.completed_event,
            failed_event: n.failed_event,
            progress_event: n.progress_event,
        }
    }

    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    fn to_proto(&self) -> TaskNotify {
        TaskNotify {
            namespace: self.namespace.clone(),
            topic: self.topic.clone(),
            completed_event: self.completed_event.clone(),
            failed_event: self.failed_event.clone(),
            progress_event: self.progress_event.clone(),
        }
    }
}

pub fn status(s: Stored) -> TaskStatus {
    match s {
        Stored::Queued => TaskStatus::Queued,
        Stored::Running => TaskStatus::Running,
        Stored::Succeeded => TaskStatus::Succeeded,
        Stored::Failed => TaskStatus::Failed,
        Stored::Cancelled => TaskStatus::Cancelled,
        Stored::Dead => TaskStatus::Dead,
    }
}

/// A stored task as the API shows it.
pub fn to_proto(r: &TaskRow) -> Task {
    Task {
        id: r.id.clone(),
        queue: r.queue.clone(),
        payload_json: r.payload_json.clone(),
        status: status(r.status).into(),
        attempt: r.attempt,
        max_attempts: r.max_attempts,
        attempt_timeout_ms: r.attempt_timeout_ms,
        result_json: r.result_json.clone(),
        last_error: r.last_error.clone(),
        idempotency_key: r.idempotency_key.clone(),
        notify: Some(NotifySpec::parse(&r.notify_json).to_proto()),
        // The row keeps the last worker; only a running task is held by one.
        worker: if r.status == Stored::Running {
            r.worker.clone()
        } else {
            String::new()
        },
        created_ms: r.created_ms,
        updated_ms: r.updated_ms,
        progress_json: r.progress_json.clone(),
    }
}
