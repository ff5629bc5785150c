//! The gRPC services: one file per RPC, sharing the hub and the configuration.

mod emit;
mod link;
mod scrape;
mod service;
mod subscribe;
mod tasks;
mod validate;

use std::sync::Arc;

use crate::broker::Broker;
use crate::hub::Hub;
use crate::idempotency::IdempotencyCache;
use crate::run::CoreConfig;

pub use link::EdgeApi;

/// State every RPC handler shares.
pub struct Api {
    pub hub: Arc<Hub>,
    pub broker: Arc<dyn Broker>,
    pub config: Arc<CoreConfig>,
    pub idempotency: IdempotencyCache,
    /// `None` when the core runs without a store.
    pub tasks: Option<crate::tasks::Tasks>,
}

/// `herald.v1.HeraldService`.
#[derive(Clone)]
pub struct HeraldApi(pub Arc<Api>);

/// `herald.v1.TaskService`.
#[derive(Clone)]
pub struct TaskApi(pub Arc<Api>);
