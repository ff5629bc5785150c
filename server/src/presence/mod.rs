//! Presence: which connections exist, cluster-wide, with their user, rooms and owning node; the
//! counts behind Presence, Stats and the per-user connection limit. A trait with a memory
//! implementation (one process: the local index is the whole picture) and a Redis one (a cluster).

mod memory;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use herald_index::{Conn, Index};
use parking_lot::RwLock;

pub use memory::MemoryPresence;

use crate::broker::SessionRecord;
use crate::cluster::ClusterError;

/// The index of this process's connections (by edge link), shared by the hub and presence.
pub type SharedIndex = Arc<RwLock<Index<u64>>>;

/// Why presence could not answer or record something.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PresenceError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("too many connections for this user (limit {0})")]
    UserLimit(usize),
    #[error("connection {0} is already registered")]
    Duplicate(String),
    #[error(transparent)]
    Unavailable(#[from] PresenceError),
}

impl From<ClusterError> for RegisterError {
    fn from(e: ClusterError) -> Self {
        RegisterError::Unavailable(e.into())
    }
}

/// What a membership change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// The user came into the room or left it entirely (for presence events).
    pub user_transition: bool,
    /// The namespace's sequence when it happened.
    pub seq: u64,
}

/// What removing a connection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departed {
    /// Rooms the user has no other connection in any more.
    pub rooms_left: Vec<String>,
}

/// Users in a room with their connection counts, and the room's connections.
pub type RoomPresence = (BTreeMap<String, u32>, u32);

/// A namespace's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections: u32,
    pub users: u32,
    pub rooms: u32,
    /// Emits accepted in the namespace, when presence keeps the figure (a cluster); `None`: this
    /// process's own count is the whole figure.
    pub events: Option<u64>,
}

/// Connections cluster-wide. Every change is made first in this process's index (under its lock,
/// which also fixes the namespace sequence the change happened at) and then recorded here: the
/// `local` arguments carry the index's answer, which stands where presence is only the index.
pub trait Presence: Send + Sync + 'static {
    /// This node's id (0 in one process).
    fn node(&self) -> u32;

    /// Whether `register` keeps a connection's recovery session while it lives (so that it
    /// survives this node); the core drops it when the connection ends for good.
    fn keeps_sessions(&self) -> bool;

    /// Registers a connection this node holds (the index has it already, with its floor
    /// `local_floor`), with its recovery session (pid and record) kept while it lives. Returns the
    /// namespace's sequence at registration.
    fn register<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
        user: Option<&'a str>,
        max_per_user: usize,
        session: Option<(&'a str, &'a SessionRecord)>,
        local_floor: u64,
    ) -> BoxFuture<'a, Result<u64, RegisterError>>;

    /// Forgets a connection this node held (already out of the index); `None` when it was not
    /// registered by this node. A presence that keeps sessions keeps the connection's session
    /// with its rooms for `keep` (in the same step, so that its client, coming back elsewhere,
    /// never finds the session without its rooms), or drops it when `keep` is zero.
    fn unregister<'a>(
        &'a self,
        gone: &'a Conn<u64>,
        keep: Duration,
    ) -> BoxFuture<'a, Result<Option<Departed>, PresenceError>>;

    /// Records a join (`join`) or leave of a registered connection; `local` is what the index
    /// said. `Ok(Err(reason))` when presence refuses it (unknown connection, room limit).
    fn membership<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
        room: &'a str,
        join: bool,
        max_rooms: usize,
        local: Changed,
    ) -> BoxFuture<'a, Result<Result<Changed, String>, PresenceError>>;

    /// Marks (or unmarks) rooms a backend joined a connection to, for its recovery elsewhere.
    fn grant<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
        rooms: &'a [String],
        granted: bool,
    ) -> BoxFuture<'a, Result<(), PresenceError>>;

    /// Every connection of a user with its node.
    fn user_conns<'a>(
        &'a self,
        ns: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, u32)>, PresenceError>>;

    /// A connection's node, if it is registered in the namespace.
    fn conn_node<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
    ) -> BoxFuture<'a, Result<Option<u32>, PresenceError>>;

    /// Users in a room with their connection counts, and the room's connections.
    fn room_presence<'a>(
        &'a self,
        ns: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<RoomPresence, PresenceError>>;

    /// Connection counts of users (0: offline), in the order asked.
    fn user_counts<'a>(
        &'a self,
        ns: &'a str,
        users: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<u32>, PresenceError>>;

    /// Connections, users and rooms of a namespace.
    fn counts<'a>(&'a self, ns: &'a str) -> BoxFuture<'a, Result<Counts, PresenceError>>;
}
