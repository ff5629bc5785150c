//! Durable tasks dispatched to workers: the engine (one actor owning worker
//! slots and leases), worker choice, retry backoff, watchers and the proto view.

mod backoff;
mod engine;
mod model;
mod pick;
mod watch;

pub use engine::{AdminCmd, Cmd, TaskConfig, Tasks};
pub use model::{NotifySpec, to_proto};
