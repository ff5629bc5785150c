//! Herald core: the gRPC API (`herald.v1`), the broker, the topic index of every
//! connection its edges hold, and the configuration of the `herald` binary.

pub mod broker;
mod clock;
pub mod cluster;
pub mod config;
pub mod control;
mod credential;
mod error;
mod feed;
mod health;
mod hub;
mod idempotency;
mod local_link;
mod metrics;
mod metrics_http;
mod node;
pub mod presence;
mod rpc;
mod run;
pub mod tasks;
mod validate;
pub mod wiring;

pub use error::CoreError;
pub use metrics_http::serve_metrics;
pub use run::{Core, CoreConfig, NamespacePolicy, run};
