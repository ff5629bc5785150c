//! The workers of every core sharing the store: each core publishes its own (replacing what it published
//! before), and anyone reads the ones published recently, so an operator sees the cluster's workers.

use crate::backend::BeginWrite;
use crate::error::StoreError;
use crate::store::Store;

/// Published rows older than this are deleted by the next publish of any core (their core is gone).
const FORGET_AFTER_MS: i64 = 60_000;

/// One worker as its core published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    /// The publishing core's id.
    pub core: String,
    /// The worker's id on that core.
    pub worker: String,
    pub name: String,
    pub queues: Vec<String>,
    pub capacity: u32,
    pub running: u32,
    pub seen_ms: i64,
}

type Raw = (String, String, String, String, i64, i64, i64);

impl Store {
    /// Replaces the workers `core` published before with `workers`, seen at `now_ms`.
    pub async fn publish_workers(
        &self,
        core: &str,
        workers: &[WorkerRow],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(&self.backend, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM task_workers WHERE core = $1 OR seen_ms < $2")
                .bind(core)
                .bind(now_ms - FORGET_AFTER_MS)
                .execute(&mut *tx)
                .await?;
            for w in workers {
                sqlx::query(
                    "INSERT INTO task_workers (core, worker, name, queues, capacity, running, seen_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(core)
                .bind(&w.worker)
                .bind(&w.name)
                .bind(w.queues.join(","))
                .bind(i64::from(w.capacity))
                .bind(i64::from(w.running))
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The workers published at `since_ms` or later, by core and worker id.
    pub async fn workers_since(&self, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        let rows: Vec<Raw> = with_pool!(&self.backend, pool => {
            sqlx::query_as(
                "SELECT core, worker, name, queues, capacity, running, seen_ms FROM task_workers \
                 WHERE seen_ms >= $1 ORDER BY core, worker",
            )
            .bind(since_ms)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(core, worker, name, queues, capacity, running, seen_ms)| WorkerRow {
                    core,
                    worker,
                    name,
                    queues: queues
                        .split(',')
                        .filter(|q| !q.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
                    running: u32::try_from(running).unwrap_or(u32::MAX),
                    seen_ms,
                },
            )
            .collect())
    }
}
