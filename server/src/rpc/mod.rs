//! The gRPC services: one file per RPC, sharing the hub and the configuration.

mod cluster;
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
pub mod too_large;
mod validate;

use std::sync::Arc;

use crate::broker::Broker;
use crate::hub::Hub;
use crate::idempotency::IdempotencyCache;
use crate::run::CoreConfig;

pub use link::EdgeApi;

/// This core's place in a cluster on Redis.
pub struct ClusterNode {
    pub redis: Arc<crate::cluster::Redis>,
    /// This core's node id (in the top bits of its ack references).
    pub node: u32,
    /// Live nodes at the last sweep.
    pub seen: crate::cluster::registry::Seen,
    /// A write to the cluster's presence failed: the next heartbeat registers everything again.
    pub dirty: std::sync::atomic::AtomicBool,
}

impl ClusterNode {
    /// Notes that the cluster's presence may disagree with this node's connections.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::Release);
    }
}

/// State every RPC handler shares.
pub struct Api {
    /// `None` when the core runs alone (in-memory broker).
    pub cluster: Option<ClusterNode>,
    pub hub: Arc<Hub>,
    pub broker: Arc<dyn Broker>,
    /// Commands to other nodes and their replies (no peers when the core runs alone).
    pub control: Arc<dyn crate::control::Control>,
    /// Round-robin over the nodes with handlers of an event.
    pub next_handler: std::sync::atomic::AtomicUsize,
    /// Connections cluster-wide (the local index when the core runs alone).
    pub presence: Arc<dyn crate::presence::Presence>,
    pub config: Arc<CoreConfig>,
    pub idempotency: IdempotencyCache,
    /// `None` when the core runs without a store.
    pub tasks: Option<crate::tasks::Tasks>,
    /// Backend handlers of client events.
    pub handlers: crate::handlers::Handlers,
    /// Emits the core makes itself (presence, task notifications).
    pub internal: tokio::sync::mpsc::Sender<herald_proto::v1::EmitRequest>,
    /// Recovery identity of live connections, by connection id.
    pub sessions: parking_lot::Mutex<std::collections::HashMap<String, recovery::LiveSession>>,
}

/// `herald.v1.HeraldService`.
#[derive(Clone)]
pub struct HeraldApi(pub Arc<Api>);

/// `herald.v1.TaskService`.
#[derive(Clone)]
pub struct TaskApi(pub Arc<Api>);
