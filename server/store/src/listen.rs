//! Notifications that tasks became queued: PostgreSQL `LISTEN herald_tasks` (the trigger of migration 0002
//! sends the queue on every insert or update to `queued`), so that every core wakes for work submitted or
//! re-queued on any core instead of polling.

use sqlx::postgres::PgListener;

use crate::backend::Backend;
use crate::error::StoreError;
use crate::store::Store;

/// The channel the trigger notifies.
const CHANNEL: &str = "herald_tasks";

/// What a [`TaskListener`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A task of this queue became queued.
    Queued(String),
    /// The listening connection was lost and is being opened again: notifications may have been missed.
    Lost,
}

/// A connection listening for queued tasks (PostgreSQL only).
pub struct TaskListener(PgListener);

impl std::fmt::Debug for TaskListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskListener")
    }
}

impl Store {
    /// A listener for queued tasks, or `None` on SQLite (one process: the engine is told directly).
    pub async fn listener(&self) -> Result<Option<TaskListener>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let mut l = PgListener::connect_with(pool).await?;
        l.listen(CHANNEL).await?;
        Ok(Some(TaskListener(l)))
    }
}

impl TaskListener {
    /// Waits for the next notification. After [`Heard::Lost`], the next call connects again (and fails
    /// with [`StoreError::Db`] while the database is unreachable).
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        Ok(match self.0.try_recv().await? {
            Some(n) => Heard::Queued(n.payload().to_owned()),
            None => Heard::Lost,
        })
    }
}
