//! Operator queries: tasks by status and queue, and putting a finished task back in its queue.

use crate::decode;
use crate::error::StoreError;
use crate::model::{TaskRow, TaskStatus};
use crate::store::Store;

/// $1 status ('' for any), $2 queue ('' for any), $3 limit. Newest first.
const LIST_IDS: &str = "SELECT id FROM tasks WHERE ($1 = '' OR status = $1) AND ($2 = '' OR queue = $2) \
     ORDER BY seq DESC LIMIT $3";

/// $1 id, $2 now. Only failed, dead or cancelled tasks go back to the queue. The attempts made stay (with
/// their rows); `max_attempts` grows by its own value, so the task gets as many attempts as it first had.
/// Returns the row as queued (a core may claim it the moment this commits).
const RETRY: &str = concat!(
    "UPDATE tasks SET status = 'queued', max_attempts = attempt + max_attempts, \
     run_at_ms = $2, updated_ms = $2, \
     worker = '', lease_token = 0, lease_deadline_ms = 0, result_json = '' \
     WHERE id = $1 AND status IN ('failed', 'dead', 'cancelled') RETURNING ",
    task_cols!()
);

impl Store {
    /// Tasks with `status` (any when `None`) on `queue` (any when empty), newest first.
    pub async fn list(
        &self,
        status: Option<TaskStatus>,
        queue: &str,
        limit: u32,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let status = status.map_or("", TaskStatus::as_str);
        let ids: Vec<String> = with_pool!(&self.backend, pool => {
            sqlx::query_scalar(LIST_IDS)
                .bind(status)
                .bind(queue)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = self.get(&id).await? {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// A failed, dead or cancelled task queued again (due now, as many attempts ahead as it first had, last
    /// error kept). Another status is
    /// a [`StoreError::Conflict`]; an unknown id [`StoreError::NotFound`].
    pub async fn retry(&self, id: &str, now_ms: i64) -> Result<TaskRow, StoreError> {
        let updated = with_pool!(&self.backend, pool => {
            match sqlx::query(RETRY).bind(id).bind(now_ms).fetch_optional(pool).await? {
                Some(row) => Some(decode::task(&row)?),
                None => None,
            }
        });
        if let Some(row) = updated {
            return Ok(row);
        }
        match self.get(id).await? {
            Some(row) => Err(StoreError::Conflict {
                id: id.to_owned(),
                status: row.status,
            }),
            None => Err(StoreError::NotFound(id.to_owned())),
        }
    }
}
