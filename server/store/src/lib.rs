//! Herald's durable task store: tasks, attempts, results and dead letters on SQLite (default) or PostgreSQL,
//! with embedded migrations and fenced state transitions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_store::StoreError> {
//! let store = herald_store::Store::connect("sqlite://herald.db").await?;
//! let due = store.runnable("scrape", 0, 10).await?;
//! # let _ = due; Ok(()) }
//! ```

#[macro_use]
mod backend;
mod decode;
mod error;
mod model;
#[macro_use]
mod sql;
mod store;
mod transitions;
// After `backend` and `sql`, whose `with_pool!` and `task_cols!` they use.
mod admin;
mod announce;
mod leases;
mod listen;
mod workers;

pub use announce::OwedAnnounce;
pub use error::StoreError;
pub use leases::ExpiredLease;
pub use listen::{Heard, TaskListener};
pub use model::{AttemptOutcome, AttemptRow, DeadLetterRow, NewTask, TaskRow, TaskStatus};
pub use store::Store;
pub use transitions::RESTART_ERROR;
pub use workers::WorkerRow;
