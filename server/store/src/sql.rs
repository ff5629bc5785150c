//! SQL text shared by both backends (`$n` parameters work in SQLite and PostgreSQL alike).

/// The task columns, in the order [`crate::decode::task`] reads them by name.
macro_rules! task_cols {
    () => {
        "id, queue, payload_json, status, attempt, max_attempts, attempt_timeout_ms, result_json, \
         last_error, idempotency_key, notify_json, worker, lease_token, lease_deadline_ms, run_at_ms, \
         created_ms, updated_ms, progress_json"
    };
}

/// $1 id, $2 queue, $3 payload, $4 max_attempts, $5 timeout, $6 key, $7 notify, $8 now.
/// Any unique clash (id or non-empty key) inserts nothing.
pub(crate) const INSERT_TASK: &str = concat!(
    "INSERT INTO tasks (id, queue, payload_json, status, attempt, max_attempts, attempt_timeout_ms, \
     idempotency_key, notify_json, run_at_ms, created_ms, updated_ms) \
     VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $8, $8, $8) ON CONFLICT DO NOTHING RETURNING ",
    task_cols!()
);

pub(crate) const GET_TASK: &str = concat!("SELECT ", task_cols!(), " FROM tasks WHERE id = $1");

pub(crate) const GET_BY_KEY: &str = concat!(
    "SELECT ",
    task_cols!(),
    " FROM tasks WHERE idempotency_key = $1 AND idempotency_key <> ''"
);

/// $1 queue, $2 now, $3 limit.
pub(crate) const RUNNABLE: &str = concat!(
    "SELECT ",
    task_cols!(),
    " FROM tasks WHERE queue = $1 AND status = 'queued' AND run_at_ms <= $2 \
      ORDER BY run_at_ms, seq LIMIT $3"
);

pub(crate) const NEXT_RUN_AT: &str =
    "SELECT MIN(run_at_ms) FROM tasks WHERE queue = $1 AND status = 'queued'";

/// The claim of the next due task of a queue: $1 queue, $2 worker, $3 token, $4 lease length for a task that
/// names none, $5 now; the lease ends at now plus the task's attempt timeout. `$lock`
/// is how the candidate row is locked (PostgreSQL skips rows another core is claiming; SQLite has one
/// writer at a time).
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE tasks SET status = 'running', attempt = attempt + 1, worker = $2, lease_token = $3, \
             lease_deadline_ms = $5 + CASE WHEN attempt_timeout_ms > 0 THEN attempt_timeout_ms ELSE $4 END, \
             progress_json = '', updated_ms = $5 \
             WHERE id = (SELECT id FROM tasks WHERE queue = $1 AND status = 'queued' AND run_at_ms <= $5 \
             ORDER BY run_at_ms, seq LIMIT 1 ",
            $lock,
            ") AND status = 'queued' RETURNING ",
            task_cols!()
        )
    };
}

pub(crate) const CLAIM_SQLITE: &str = claim!("");
pub(crate) const CLAIM_POSTGRES: &str = claim!("FOR UPDATE SKIP LOCKED");

/// $1 now, $2 limit. Running attempts whose lease ended at or before `now`.
pub(crate) const EXPIRED: &str = "SELECT id, lease_token FROM tasks \
     WHERE status = 'running' AND lease_deadline_ms <= $1 ORDER BY lease_deadline_ms LIMIT $2";

/// The earliest lease deadline of a running task.
pub(crate) const NEXT_DEADLINE: &str =
    "SELECT MIN(lease_deadline_ms) FROM tasks WHERE status = 'running'";

/// $1 id, $2 worker, $3 token, $4 deadline, $5 now.
pub(crate) const START: &str = concat!(
    "UPDATE tasks SET status = 'running', attempt = attempt + 1, worker = $2, lease_token = $3, \
     lease_deadline_ms = $4, progress_json = '', updated_ms = $5 \
     WHERE id = $1 AND status = 'queued' AND run_at_ms <= $5 RETURNING ",
    task_cols!()
);

/// $1 id, $2 token, $3 progress, $4 now.
pub(crate) const PROGRESS: &str = concat!(
    "UPDATE tasks SET progress_json = $3, updated_ms = $4 \
     WHERE id = $1 AND status = 'running' AND lease_token = $2 AND lease_deadline_ms > $4 RETURNING ",
    task_cols!()
);

/// $1 id, $2 token, $3 result, $4 now. A result after the lease deadline is refused (fencing).
pub(crate) const SUCCEED: &str = concat!(
    "UPDATE tasks SET status = 'succeeded', result_json = $3, updated_ms = $4 \
     WHERE id = $1 AND status = 'running' AND lease_token = $2 AND lease_deadline_ms > $4 RETURNING ",
    task_cols!()
);

/// Whether the task has attempts left: attempts cut short by a restart (outcome `restarted`) do not count.
macro_rules! attempts_left {
    () => {
        "attempt - (SELECT COUNT(*) FROM attempts a WHERE a.task_id = tasks.id \
         AND a.outcome = 'restarted') < max_attempts"
    };
}

/// $1 id, $2 token, $3 retryable, $4 retry_at, $5 error, $6 now, $7 whether a lapsed lease matches too
/// (a release does; a worker's failure after its lease deadline is refused like a late result, and the
/// lease sweep takes the task back instead).
pub(crate) const FAIL: &str = concat!(
    "UPDATE tasks SET status = CASE WHEN $3 AND ",
    attempts_left!(),
    " THEN 'queued' WHEN $3 THEN 'dead' ELSE 'failed' END, run_at_ms = CASE WHEN $3 AND ",
    attempts_left!(),
    " THEN $4 ELSE run_at_ms END, \
       last_error = $5, updated_ms = $6 \
     WHERE id = $1 AND status = 'running' AND lease_token = $2 AND ($7 OR lease_deadline_ms > $6) RETURNING ",
    task_cols!()
);

/// $1 id, $2 reason, $3 now.
pub(crate) const CANCEL: &str = concat!(
    "UPDATE tasks SET status = 'cancelled', last_error = $2, updated_ms = $3 \
     WHERE id = $1 AND status IN ('queued', 'running') RETURNING ",
    task_cols!()
);

/// $1 task, $2 attempt, $3 worker, $4 token, $5 deadline, $6 now.
pub(crate) const OPEN_ATTEMPT: &str = "INSERT INTO attempts (task_id, attempt, worker, lease_token, \
     lease_deadline_ms, started_ms) VALUES ($1, $2, $3, $4, $5, $6)";

/// $1 task, $2 attempt, $3 now, $4 outcome, $5 error. Only an open attempt is closed.
pub(crate) const CLOSE_ATTEMPT: &str = "UPDATE attempts SET ended_ms = $3, outcome = $4, error = $5 \
     WHERE task_id = $1 AND attempt = $2 AND ended_ms IS NULL";

/// $1 id. Copies a dead task into dead_letters once.
pub(crate) const DEAD_LETTER: &str = "INSERT INTO dead_letters (task_id, queue, payload_json, attempts, \
     last_error, dead_ms) SELECT id, queue, payload_json, attempt, last_error, updated_ms FROM tasks \
     WHERE id = $1 AND status = 'dead' ON CONFLICT DO NOTHING";

/// $1 now, $2 outcome, $3 error.
pub(crate) const RESTART_CLOSE_ATTEMPTS: &str = "UPDATE attempts SET ended_ms = $1, outcome = $2, error = $3 \
     WHERE ended_ms IS NULL AND task_id IN (SELECT id FROM tasks WHERE status = 'running')";

/// $1 now, $2 error. A restart is not a failed attempt: every task left running is queued again.
pub(crate) const RESTART_REQUEUE: &str = "UPDATE tasks SET status = 'queued', \
       run_at_ms = $1, last_error = $2, updated_ms = $1 \
     WHERE status = 'running'";

pub(crate) const ATTEMPTS: &str = "SELECT task_id, attempt, worker, lease_token, lease_deadline_ms, \
     started_ms, ended_ms, outcome, error FROM attempts WHERE task_id = $1 ORDER BY attempt";

pub(crate) const DEAD_LETTERS: &str = "SELECT task_id, queue, payload_json, attempts, last_error, dead_ms \
     FROM dead_letters ORDER BY dead_ms, task_id";

/// $1 id, $2 now. A task that just reached its final state owes its notification.
pub(crate) const OWE_ANNOUNCE: &str = "UPDATE tasks SET announce_ms = $2 WHERE id = $1";

/// $1 id, $2 when the notification went out. A debt newer than that (the task ended again since) stays.
pub(crate) const PAID_ANNOUNCE: &str =
    "UPDATE tasks SET announce_ms = 0 WHERE id = $1 AND announce_ms <= $2";

/// $1 before, $2 limit. Finished tasks whose notification is owed since `before` or earlier.
pub(crate) const OWED_ANNOUNCES: &str = concat!(
    "SELECT ",
    task_cols!(),
    ", announce_ms FROM tasks WHERE announce_ms > 0 AND announce_ms <= $1 ORDER BY announce_ms LIMIT $2"
);
