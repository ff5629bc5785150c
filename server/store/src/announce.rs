//! Notifications owed by finished tasks: a transition to a final state records when it happened
//! (`announce_ms`, in the same transaction), the core that announced it clears it once the event is out,
//! and any core announces again what a dead core left owed. With an idempotency key on the event, a
//! notification announced twice still reaches its topic once.

use crate::decode;
use crate::error::StoreError;
use crate::model::TaskRow;
use crate::sql;
use crate::store::Store;

/// A finished task whose notification is owed since `since_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedAnnounce {
    pub task: TaskRow,
    pub since_ms: i64,
}

impl Store {
    /// Up to `limit` finished tasks whose notification is owed since `before_ms` or earlier, oldest first.
    pub async fn owed_announces(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<OwedAnnounce>, StoreError> {
        use sqlx::Row;
        with_pool!(&self.backend, pool => {
            let rows = sqlx::query(sql::OWED_ANNOUNCES)
                .bind(before_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(OwedAnnounce {
                        task: decode::task(r)?,
                        since_ms: r.try_get("announce_ms")?,
                    })
                })
                .collect()
        })
    }

    /// The notification of `task_id` went out at `sent_ms`: what it owed until then is paid.
    pub async fn announced(&self, task_id: &str, sent_ms: i64) -> Result<(), StoreError> {
        with_pool!(&self.backend, pool => {
            sqlx::query(sql::PAID_ANNOUNCE)
                .bind(task_id)
                .bind(sent_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
