//! The gRPC services: one file per RPC, sharing the hub and the configuration.

mod disconnect;
mod emit;
mod handle;
mod history;
mod link;
mod presence;
mod push;
mod recovery;
mod rooms;
mod scrape;
mod service;
mod stats;
mod subscribe;
mod task_admin;
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
    /// Backend handlers of client events.
    pub handlers: crate::handlers::Handlers,
    /// Emits the core makes itself (presence, task notifications).
    pub internal: tokio::sync::mpsc::Sender<herald_proto::v1::EmitRequest>,
    /// Recovery identity of live connections: connection id -> (pid, $connect data).
    pub sessions: parking_lot::Mutex<std::collections::HashMap<String, (String, String)>>,
}

/// `herald.v1.HeraldService`.
#[derive(Clone)]
pub struct HeraldApi(pub Arc<Api>);

/// `herald.v1.TaskService`.
#[derive(Clone)]
pub struct TaskApi(pub Arc<Api>);
