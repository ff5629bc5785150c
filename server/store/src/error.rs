//! The store's error type: which operation failed and why, typed for callers to map to gRPC codes.

use crate::model::TaskStatus;

/// Everything a [`crate::Store`] call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database named by `url` (password hidden) could not be opened.
    #[error("cannot open the task store at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The URL names no supported database.
    #[error("unsupported task store URL {url}: expected sqlite:... or postgres://...")]
    UnsupportedUrl { url: String },
    /// The embedded schema migrations could not be applied.
    #[error("task store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed a statement (also: unreachable, pool timeout).
    #[error("task store database error: {0}")]
    Db(#[from] sqlx::Error),
    /// No task has this id.
    #[error("task {0} not found")]
    NotFound(String),
    /// The lease token does not hold the task (another attempt owns it, or it is no longer running).
    #[error("stale lease {lease_token} for task {id} (task is {status})")]
    StaleLease {
        id: String,
        lease_token: u64,
        status: TaskStatus,
    },
    /// The task is not in a state that allows the operation.
    #[error("task {id} is {status}")]
    Conflict { id: String, status: TaskStatus },
    /// A stored value does not fit its type (e.g. an unknown status); the row was written by something else.
    #[error("task store row for {id} has an invalid {field}: {value}")]
    Corrupt {
        id: String,
        field: &'static str,
        value: String,
    },
}

impl StoreError {
    /// Whether the store answered for good (the task or lease is not as the caller thought, or a row is
    /// corrupt), as opposed to a failure to reach or use the database that a later try may not meet.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            StoreError::Connect { .. } | StoreError::Db(_) | StoreError::Migrate(_)
        )
    }
}
