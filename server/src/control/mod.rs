//! Control: commands to other nodes and their replies (join/leave/disconnect connections they
//! hold, client acks for the node that emitted, client events for a handler elsewhere), where
//! handlers are, and the other nodes' figures. A trait with a memory implementation (one
//! process: no peers, everything is local) and a Redis one (a cluster).

mod memory;
mod message;

use std::time::Duration;

use futures::future::BoxFuture;

pub use memory::MemoryControl;
pub use message::{Body, Command, Reply, decode_args, decode_event, encode_args, encode_event};

use crate::cluster::ClusterError;

/// Why a command did not reach its node or got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    #[error("node {0} did not answer")]
    NoReply(u32),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Another node's figures, as of its last heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    pub node: u32,
    pub edges: u32,
    pub subscribers: u32,
    pub handlers: u32,
}

/// Commands between nodes. Commands addressed to this node arrive on the queue the core serves
/// (`Api::run_control`); replies go back to their asker through [`Control::reply`].
pub trait Control: Send + Sync + 'static {
    /// This node's id (0 in one process).
    fn node(&self) -> u32;

    /// Whether this process is the only node there can be (no command ever leaves it).
    fn alone(&self) -> bool;

    /// Sends a command to `node` without waiting for an answer.
    fn tell(&self, node: u32, body: Body) -> BoxFuture<'_, Result<(), ControlError>>;

    /// Sends a command to `node` and waits for its reply, at most `timeout`.
    fn ask(
        &self,
        node: u32,
        body: Body,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Reply, ControlError>>;

    /// Answers a command this node received (nothing when its sender does not wait).
    fn reply<'a>(
        &'a self,
        to: &'a Command,
        reply: Reply,
    ) -> BoxFuture<'a, Result<(), ControlError>>;

    /// This node has `delta` more handlers of `(ns, event)`.
    fn count_handlers<'a>(
        &'a self,
        ns: &'a str,
        event: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, Result<(), ControlError>>;

    /// Nodes with at least one handler of `(ns, event)`, sorted; empty when only this process
    /// can have handlers (it answers for itself).
    fn handler_nodes<'a>(
        &'a self,
        ns: &'a str,
        event: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u32>, ControlError>>;

    /// The other live nodes' figures.
    fn peers(&self) -> BoxFuture<'_, Result<Vec<PeerStats>, ControlError>>;
}
