//! The `Store` handle: connecting, submitting and the read-only queries.

use crate::backend::Backend;
use crate::decode;
use crate::error::StoreError;
use crate::model::{AttemptRow, DeadLetterRow, NewTask, TaskRow};
use crate::sql;

/// The durable task store. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
}

impl Store {
    /// Opens `sqlite://path.db` (created if missing, WAL), `sqlite::memory:` or `postgres://...`, and applies the
    /// embedded migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::connect(url).await?,
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Tasks per (queue, status), for metrics.
    pub async fn counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        use sqlx::Row;
        with_pool!(&self.backend, pool => {
            let rows = sqlx::query("SELECT queue, status, COUNT(*) AS n FROM tasks GROUP BY queue, status")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("queue")?, r.try_get("status")?, r.try_get("n")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Runs `SELECT 1`: whether the database answers (health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(&self.backend, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool; later calls fail with [`StoreError::Db`].
    pub async fn close(&self) {
        self.backend.close().await
    }

    /// Creates a queued task runnable from `t.now_ms`. With a non-empty idempotency key already in use, returns the
    /// existing task and `false`. An id already in use (with no such key) is a [`StoreError::Conflict`].
    pub async fn submit(&self, t: NewTask) -> Result<(TaskRow, bool), StoreError> {
        let inserted = with_pool!(&self.backend, pool => {
            let row = sqlx::query(sql::INSERT_TASK)
                .bind(&t.id)
                .bind(&t.queue)
                .bind(&t.payload_json)
                .bind(i64::from(t.max_attempts))
                .bind(i64::from(t.attempt_timeout_ms))
                .bind(&t.idempotency_key)
                .bind(&t.notify_json)
                .bind(t.now_ms)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some(decode::task(&row)?),
                None => None,
            }
        });
        if let Some(task) = inserted {
            return Ok((task, true));
        }
        if !t.idempotency_key.is_empty() {
            let existing = with_pool!(&self.backend, pool => {
                match sqlx::query(sql::GET_BY_KEY)
                    .bind(&t.idempotency_key)
                    .fetch_optional(pool)
                    .await?
                {
                    Some(row) => Some(decode::task(&row)?),
                    None => None,
                }
            });
            if let Some(task) = existing {
                return Ok((task, false));
            }
        }
        // Nothing inserted and no task with the key: the id is taken.
        match self.get(&t.id).await? {
            Some(task) => Err(StoreError::Conflict {
                id: t.id,
                status: task.status,
            }),
            None => Err(StoreError::NotFound(t.id)),
        }
    }

    /// The task with this id.
    pub async fn get(&self, id: &str) -> Result<Option<TaskRow>, StoreError> {
        with_pool!(&self.backend, pool => {
            match sqlx::query(sql::GET_TASK).bind(id).fetch_optional(pool).await? {
                Some(row) => Ok(Some(decode::task(&row)?)),
                None => Ok(None),
            }
        })
    }

    /// Queued tasks of `queue` with `run_at_ms <= now_ms`, earliest `run_at_ms` first (then submission order).
    pub async fn runnable(
        &self,
        queue: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<TaskRow>, StoreError> {
        with_pool!(&self.backend, pool => {
            let rows = sqlx::query(sql::RUNNABLE)
                .bind(queue)
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(decode::task).collect()
        })
    }

    /// The earliest `run_at_ms` of the queued tasks of `queue`, if any.
    pub async fn next_run_at(&self, queue: &str) -> Result<Option<i64>, StoreError> {
        with_pool!(&self.backend, pool => {
            let at: Option<i64> = sqlx::query_scalar(sql::NEXT_RUN_AT)
                .bind(queue)
                .fetch_one(pool)
                .await?;
            Ok(at)
        })
    }

    /// The attempts of a task, first to last.
    pub async fn attempts(&self, id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        with_pool!(&self.backend, pool => {
            let rows = sqlx::query(sql::ATTEMPTS).bind(id).fetch_all(pool).await?;
            rows.iter().map(decode::attempt).collect()
        })
    }

    /// Every dead letter, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetterRow>, StoreError> {
        with_pool!(&self.backend, pool => {
            let rows = sqlx::query(sql::DEAD_LETTERS).fetch_all(pool).await?;
            rows.iter().map(decode::dead_letter).collect()
        })
    }
}
