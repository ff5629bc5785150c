//! Herald core: the gRPC API (`herald.v1`), the broker, the topic index of every
//! connection its edges hold, and the configuration of the `herald` binary.

pub mod broker;
pub mod config;
mod credential;
pub mod wiring;
mod error;
mod feed;
mod hub;
mod idempotency;
mod rpc;
mod run;

pub use error::CoreError;
pub use run::{CoreConfig, run};
