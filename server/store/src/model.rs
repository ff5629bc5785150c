//! Plain data types of the store: task status, new and stored tasks, attempts and dead letters.

use std::fmt;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Waiting for a worker (also between retries).
    Queued,
    /// Assigned to a worker under a lease.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Failed with a non-retryable error.
    Failed,
    /// Cancelled by a caller.
    Cancelled,
    /// Ran out of attempts.
    Dead,
}

impl TaskStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Dead => "dead",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "queued" => TaskStatus::Queued,
            "running" => TaskStatus::Running,
            "succeeded" => TaskStatus::Succeeded,
            "failed" => TaskStatus::Failed,
            "cancelled" => TaskStatus::Cancelled,
            "dead" => TaskStatus::Dead,
            _ => return None,
        })
    }

    /// True once the task can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled | TaskStatus::Dead
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The worker returned a result.
    Succeeded,
    /// The worker reported an error (retryable or not).
    Failed,
    /// The worker was lost or its lease lapsed.
    Released,
    /// The task was cancelled while running.
    Cancelled,
    /// The server restarted while the attempt ran.
    Restarted,
}

impl AttemptOutcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Released => "released",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Restarted => "restarted",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(s: &str) -> Option<AttemptOutcome> {
        Some(match s {
            "succeeded" => AttemptOutcome::Succeeded,
            "failed" => AttemptOutcome::Failed,
            "released" => AttemptOutcome::Released,
            "cancelled" => AttemptOutcome::Cancelled,
            "restarted" => AttemptOutcome::Restarted,
            _ => return None,
        })
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task to create. Defaults (max attempts, timeout) are applied by the caller, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub id: String,
    pub queue: String,
    /// JSON text, validated by the caller.
    pub payload_json: String,
    /// Empty: no idempotency. Otherwise unique across all tasks.
    pub idempotency_key: String,
    pub max_attempts: u32,
    pub attempt_timeout_ms: u32,
    /// Opaque JSON text of the notification settings.
    pub notify_json: String,
    /// Creation time; the task is runnable from then on.
    pub now_ms: i64,
}

/// A stored task.
///
/// `worker`, `lease_token` and `lease_deadline_ms` describe the latest attempt; the worker holds the task
/// only while `status` is [`TaskStatus::Running`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub id: String,
    pub queue: String,
    pub payload_json: String,
    pub status: TaskStatus,
    /// Attempts started so far.
    pub attempt: u32,
    pub max_attempts: u32,
    pub attempt_timeout_ms: u32,
    /// JSON text of the result once succeeded, else empty.
    pub result_json: String,
    pub last_error: String,
    pub idempotency_key: String,
    pub notify_json: String,
    pub worker: String,
    pub lease_token: u64,
    pub lease_deadline_ms: i64,
    /// Not runnable before this time (set on submit and on retry).
    pub run_at_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// JSON text of the last progress report of the current attempt, else empty.
    pub progress_json: String,
}

/// One attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub task_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
    pub worker: String,
    pub lease_token: u64,
    pub lease_deadline_ms: i64,
    pub started_ms: i64,
    /// None while the attempt runs.
    pub ended_ms: Option<i64>,
    /// None while the attempt runs.
    pub outcome: Option<AttemptOutcome>,
    /// The error or reason it ended with; empty on success.
    pub error: String,
}

/// A task that ran out of attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    pub task_id: String,
    pub queue: String,
    pub payload_json: String,
    pub attempts: u32,
    pub last_error: String,
    pub dead_ms: i64,
}

/// Lease tokens are u64 on the wire and BIGINT in the database: the bits are kept, so every token round-trips.
pub(crate) fn token_to_db(token: u64) -> i64 {
    i64::from_ne_bytes(token.to_ne_bytes())
}

/// Inverse of [`token_to_db`].
pub(crate) fn token_from_db(token: i64) -> u64 {
    u64::from_ne_bytes(token.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for t in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(token_from_db(token_to_db(t)), t);
        }
    }

    #[test]
    fn statuses_round_trip() {
        use TaskStatus::*;
        for s in [Queued, Running, Succeeded, Failed, Cancelled, Dead] {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TaskStatus::parse("bogus"), None);
        assert!(Dead.is_terminal() && !Running.is_terminal());
    }
}
