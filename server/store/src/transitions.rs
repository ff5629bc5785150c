//! State changes of a task. Each one is a conditional `UPDATE ... RETURNING` (matching the expected status and,
//! for a worker's report, the lease token) plus its bookkeeping, in one transaction: of two concurrent callers
//! at most one can win.

use crate::backend::{Backend, BeginWrite};
use crate::decode;
use crate::error::StoreError;
use crate::model::{AttemptOutcome, TaskRow, TaskStatus, token_to_db};
use crate::sql;
use crate::store::Store;

/// The error recorded for attempts cut short by a restart.
pub const RESTART_ERROR: &str = "server restarted";

/// A bind value of a transition's UPDATE.
enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
}

/// Bookkeeping done in the same transaction when the UPDATE matched.
enum Then<'a> {
    Nothing,
    /// The attempt's lease deadline is the one the UPDATE wrote.
    OpenAttempt {
        worker: &'a str,
        token: i64,
    },
    CloseAttempt {
        outcome: AttemptOutcome,
        error: &'a str,
    },
}

impl Store {
    /// Hands a queued, due task to `worker` under `lease_token`: `attempt += 1`, status running, and an open
    /// attempt row. A task that is not queued, or not yet due, is a [`StoreError::Conflict`].
    pub async fn start_attempt(
        &self,
        id: &str,
        worker: &str,
        lease_token: u64,
        lease_deadline_ms: i64,
        now_ms: i64,
    ) -> Result<TaskRow, StoreError> {
        let token = token_to_db(lease_token);
        let args = [
            Arg::Text(id),
            Arg::Text(worker),
            Arg::Int(token),
            Arg::Int(lease_deadline_ms),
            Arg::Int(now_ms),
        ];
        let then = Then::OpenAttempt { worker, token };
        match self.transition(sql::START, &args, then, now_ms).await? {
            Some(task) => Ok(task),
            None => Err(self.conflict(id).await),
        }
    }

    /// Hands the next due task of `queue` to `worker` under `lease_token`, like [`Store::start_attempt`] on
    /// the task a [`Store::runnable`] call would list first; the lease lasts the task's attempt timeout
    /// (`default_timeout_ms` when it names none). Several cores claiming at once each get a different task
    /// (PostgreSQL skips rows another claim holds). `None`: nothing of `queue` is due.
    pub async fn claim(
        &self,
        queue: &str,
        worker: &str,
        lease_token: u64,
        default_timeout_ms: i64,
        now_ms: i64,
    ) -> Result<Option<TaskRow>, StoreError> {
        let token = token_to_db(lease_token);
        let args = [
            Arg::Text(queue),
            Arg::Text(worker),
            Arg::Int(token),
            Arg::Int(default_timeout_ms),
            Arg::Int(now_ms),
        ];
        let then = Then::OpenAttempt { worker, token };
        let sql = match self.backend {
            Backend::Sqlite(_) => sql::CLAIM_SQLITE,
            Backend::Postgres(_) => sql::CLAIM_POSTGRES,
        };
        self.transition(sql, &args, then, now_ms).await
    }

    /// Records the latest progress report of the lease holder.
    pub async fn progress(
        &self,
        id: &str,
        lease_token: u64,
        progress_json: &str,
        now_ms: i64,
    ) -> Result<TaskRow, StoreError> {
        let args = [
            Arg::Text(id),
            Arg::Int(token_to_db(lease_token)),
            Arg::Text(progress_json),
            Arg::Int(now_ms),
        ];
        match self
            .transition(sql::PROGRESS, &args, Then::Nothing, now_ms)
            .await?
        {
            Some(task) => Ok(task),
            None => Err(self.stale(id, lease_token).await),
        }
    }

    /// The lease holder's result: running -> succeeded. Refused (stale) once the lease deadline has passed.
    pub async fn succeed(
        &self,
        id: &str,
        lease_token: u64,
        result_json: &str,
        now_ms: i64,
    ) -> Result<TaskRow, StoreError> {
        let args = [
            Arg::Text(id),
            Arg::Int(token_to_db(lease_token)),
            Arg::Text(result_json),
            Arg::Int(now_ms),
        ];
        let then = Then::CloseAttempt {
            outcome: AttemptOutcome::Succeeded,
            error: "",
        };
        match self.transition(sql::SUCCEED, &args, then, now_ms).await? {
            Some(task) => Ok(task),
            None => Err(self.stale(id, lease_token).await),
        }
    }

    /// The lease holder's failure. Retryable with attempts left: queued again, due at `retry_at_ms`. Retryable
    /// with none left: dead, plus a dead letter. Not retryable: failed.
    pub async fn fail(
        &self,
        id: &str,
        lease_token: u64,
        error: &str,
        retryable: bool,
        retry_at_ms: i64,
        now_ms: i64,
    ) -> Result<TaskRow, StoreError> {
        self.end_attempt(
            id,
            lease_token,
            error,
            retryable,
            retry_at_ms,
            now_ms,
            AttemptOutcome::Failed,
        )
        .await
    }

    /// Takes the task back from a lost worker or lapsed lease: a retryable failure with `reason` as the error.
    /// Unlike a worker's report, it matches a lease past its deadline.
    pub async fn release(
        &self,
        id: &str,
        lease_token: u64,
        reason: &str,
        retry_at_ms: i64,
        now_ms: i64,
    ) -> Result<TaskRow, StoreError> {
        self.end_attempt(
            id,
            lease_token,
            reason,
            true,
            retry_at_ms,
            now_ms,
            AttemptOutcome::Released,
        )
        .await
    }

    /// Queued or running -> cancelled, with `reason` as the last error (a running attempt is closed; the row
    /// keeps its worker and lease token so the caller can revoke it). A finished task is a
    /// [`StoreError::Conflict`].
    pub async fn cancel(&self, id: &str, reason: &str, now_ms: i64) -> Result<TaskRow, StoreError> {
        let args = [Arg::Text(id), Arg::Text(reason), Arg::Int(now_ms)];
        let then = Then::CloseAttempt {
            outcome: AttemptOutcome::Cancelled,
            error: reason,
        };
        match self.transition(sql::CANCEL, &args, then, now_ms).await? {
            Some(task) => Ok(task),
            None => Err(self.conflict(id).await),
        }
    }

    /// At start-up: every task left running goes back to queued (due now). Its attempt ends with
    /// [`RESTART_ERROR`] and outcome `restarted`, which does not count against `max_attempts`: a restart is
    /// not a failed attempt. Returns how many tasks were taken back.
    pub async fn requeue_running(&self, now_ms: i64) -> Result<u64, StoreError> {
        with_pool!(&self.backend, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(sql::RESTART_CLOSE_ATTEMPTS)
                .bind(now_ms)
                .bind(AttemptOutcome::Restarted.as_str())
                .bind(RESTART_ERROR)
                .execute(&mut *tx)
                .await?;
            let moved = sqlx::query(sql::RESTART_REQUEUE)
                .bind(now_ms)
                .bind(RESTART_ERROR)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(moved)
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn end_attempt(
        &self,
        id: &str,
        lease_token: u64,
        error: &str,
        retryable: bool,
        retry_at_ms: i64,
        now_ms: i64,
        outcome: AttemptOutcome,
    ) -> Result<TaskRow, StoreError> {
        let args = [
            Arg::Text(id),
            Arg::Int(token_to_db(lease_token)),
            Arg::Bool(retryable),
            Arg::Int(retry_at_ms),
            Arg::Text(error),
            Arg::Int(now_ms),
            Arg::Bool(outcome == AttemptOutcome::Released),
        ];
        let then = Then::CloseAttempt { outcome, error };
        match self.transition(sql::FAIL, &args, then, now_ms).await? {
            Some(task) => Ok(task),
            None => Err(self.stale(id, lease_token).await),
        }
    }

    /// Runs `update` (an `UPDATE ... RETURNING` task columns) and, if it matched, `then` and the dead letter of a
    /// task that just died, all in one transaction. `None`: the update matched nothing, nothing changed.
    async fn transition(
        &self,
        update: &'static str,
        args: &[Arg<'_>],
        then: Then<'_>,
        now_ms: i64,
    ) -> Result<Option<TaskRow>, StoreError> {
        with_pool!(&self.backend, pool => {
            let mut tx = pool.begin_write().await?;
            let mut query = sqlx::query(update);
            for arg in args {
                query = match *arg {
                    Arg::Text(s) => query.bind(s),
                    Arg::Int(i) => query.bind(i),
                    Arg::Bool(b) => query.bind(b),
                };
            }
            let Some(row) = query.fetch_optional(&mut *tx).await? else {
                return Ok(None);
            };
            let task = decode::task(&row)?;
            let attempt = i64::from(task.attempt);
            match then {
                Then::Nothing => {}
                Then::OpenAttempt { worker, token } => {
                    sqlx::query(sql::OPEN_ATTEMPT)
                        .bind(&task.id)
                        .bind(attempt)
                        .bind(worker)
                        .bind(token)
                        .bind(task.lease_deadline_ms)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                Then::CloseAttempt { outcome, error } => {
                    sqlx::query(sql::CLOSE_ATTEMPT)
                        .bind(&task.id)
                        .bind(attempt)
                        .bind(now_ms)
                        .bind(outcome.as_str())
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if task.status.is_terminal() {
                sqlx::query(sql::OWE_ANNOUNCE)
                    .bind(&task.id)
                    .bind(now_ms.max(1))
                    .execute(&mut *tx)
                    .await?;
            }
            if task.status == TaskStatus::Dead {
                sqlx::query(sql::DEAD_LETTER).bind(&task.id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(Some(task))
        })
    }

    /// Why a lease-holder's report matched nothing.
    async fn stale(&self, id: &str, lease_token: u64) -> StoreError {
        match self.get(id).await {
            Ok(Some(task)) => StoreError::StaleLease {
                id: id.to_owned(),
                lease_token,
                status: task.status,
            },
            Ok(None) => StoreError::NotFound(id.to_owned()),
            Err(e) => e,
        }
    }

    /// Why a status change matched nothing.
    async fn conflict(&self, id: &str) -> StoreError {
        match self.get(id).await {
            Ok(Some(task)) => StoreError::Conflict {
                id: id.to_owned(),
                status: task.status,
            },
            Ok(None) => StoreError::NotFound(id.to_owned()),
            Err(e) => e,
        }
    }
}
