//! The node: the core's semantics (emit, join/leave, presence, acks, disconnect, handlers,
//! recovery, limits), written once over the `Broker`, `Presence` and `Control` layers and unaware
//! of where their state lives.

pub mod commands;
pub mod emit;
pub mod handlers;
pub mod link;
pub mod liveness;
pub mod presence;
pub mod push;
pub mod recovery;
pub mod rooms;
pub mod tasks;

use std::sync::Arc;

use crate::broker::Broker;
use crate::hub::Hub;
use crate::idempotency::IdempotencyCache;
use crate::run::CoreConfig;

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

/// One core: its local state (hub, live sessions, handlers) and the layers its semantics run
/// over. The RPC files translate to and from its methods.
pub struct Node {
    /// This node's registration in a cluster on Redis, for its liveness; `None` when it runs alone.
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
    pub handlers: handlers::Handlers,
    /// Emits the core makes itself (presence, task notifications).
    pub internal: tokio::sync::mpsc::Sender<herald_proto::v1::EmitRequest>,
    /// Recovery identity of live connections, by connection id.
    pub sessions: parking_lot::Mutex<std::collections::HashMap<String, recovery::LiveSession>>,
}
