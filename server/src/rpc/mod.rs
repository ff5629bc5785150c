//! The gRPC services: one file per RPC, sharing the hub and the configuration.

mod emit;
mod link;
mod subscribe;
mod service;
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
}

/// `herald.v1.HeraldService`.
#[derive(Clone)]
pub struct HeraldApi(pub Arc<Api>);
