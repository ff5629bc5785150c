//! The broker: where accepted events go before fan-out, and what lasts for the
//! recovery window (per-topic logs, saved Socket.IO sessions). A trait with an
//! in-memory implementation (one process); Redis implements the same trait.

mod log;
mod memory;
mod redis;
mod sessions;

use std::sync::Arc;

use futures::future::BoxFuture;
use herald_proto::v1::{Event, Position};
use tokio::sync::mpsc;

pub use log::{Gap, Limits};
pub use memory::MemoryBroker;
pub use redis::{LIVE_SESSION, RedisBroker};
pub use sessions::SessionRecord;

/// An accepted event on its way to this core's dispatcher.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// With positions and offset filled in for recoverable events.
    pub event: Arc<Event>,
    /// Non-zero when the emitter waits for client acks.
    pub ack_ref: u64,
}

/// What the dispatcher receives: an event, or word that events were lost and the edges must
/// resynchronise (link again and replay from their sockets' offsets).
#[derive(Debug, Clone)]
pub enum FeedItem {
    Event(Envelope),
    Resync(String),
}

/// A connection an Emit matched, for its acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub conn: String,
    pub user: String,
    /// The node that holds it (0: this process, without a cluster).
    pub node: u32,
}

/// What an Emit matched when the broker accepted it.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    /// The idempotency key was used already: this is the first Emit's answer, nothing was sent.
    pub duplicate: bool,
    pub connections: u32,
    pub offline_users: Vec<String>,
    /// Only when asked for (acks).
    pub members: Vec<Member>,
}

/// Counts an event's recipients among this process's connections. `sequence` runs while the
/// connections cannot change, so that a connection is counted exactly when it registered before
/// the event got its sequence number.
pub trait Counter: Send + Sync {
    fn count(&self, event: &Event, want_members: bool, sequence: &mut dyn FnMut()) -> Counted;
}

/// Why the broker did not accept an event or answer a query.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker closed")]
    Closed,
    #[error("broker overloaded: event not accepted within {0:?}")]
    Overloaded(std::time::Duration),
    #[error("{0}")]
    Unavailable(String),
}

/// A History query of one topic.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub since: Option<Position>,
    pub since_ms: i64,
    pub limit: usize,
    pub reverse: bool,
}

/// A History answer.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    pub events: Vec<Arc<Event>>,
    pub latest: Position,
    pub truncated: bool,
    pub gap: Option<Gap>,
}

/// A `since` position that cannot be honoured.
#[derive(Debug, Clone)]
pub struct Unrecoverable {
    pub topic: String,
    pub gap: Gap,
    pub current: Position,
}

/// Events after `since` positions, and the positions that cannot be honoured.
pub type Replay = (Vec<Arc<Event>>, Vec<Unrecoverable>);

/// A Socket.IO session's missed events, or why they cannot all be given.
pub type Missed = Result<Vec<Arc<Event>>, RecoveryError>;

/// Why a Socket.IO session's missed events cannot all be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    #[error("offset {0:?} is malformed")]
    BadOffset(String),
    #[error("{}", .0.reason())]
    Gap(Gap),
    #[error("more than {0} missed events")]
    TooMany(usize),
}

/// Live fan-out and the recovery window.
pub trait Broker: Send + Sync + 'static {
    /// Identity of the recovery logs: changes when they are lost (a restart of the memory broker).
    fn epoch(&self) -> String;
    /// Sequences the event (and gives recoverable events their positions and offset, keeping
    /// them for the window), counts who it reaches, and returns once it is accepted for fan-out.
    /// With an idempotency key (and how long to remember it), an Emit whose key was used already
    /// sends nothing and answers like the first one, where the broker keeps keys itself.
    fn publish(
        &self,
        event: Event,
        ack_ref: u64,
        want_members: bool,
        idempotency: Option<(String, std::time::Duration)>,
    ) -> BoxFuture<'_, Result<(Arc<Event>, Counted), BrokerError>>;
    /// Whether `publish` keeps idempotency keys (else the core remembers them itself).
    fn keeps_idempotency_keys(&self) -> bool;
    /// Carries a relay (volatile, never logged) to the other cores; this core delivers it itself.
    fn relay(&self, event: &Event, origin_link: u64) -> BoxFuture<'_, Result<(), BrokerError>>;
    /// This core needs the events of a topic (or a `prefix*` pattern) from now on; resolves once
    /// they will arrive. Reference-counted with [`Broker::unwant`].
    fn want(&self, ns: &str, topic: &str) -> BoxFuture<'_, Result<(), BrokerError>>;
    /// One user of a topic fewer; the last one stops its events.
    fn unwant(&self, ns: &str, topic: &str) -> BoxFuture<'_, ()>;
    /// The newest sequence number given out by this process (0 when sequences come from elsewhere).
    fn current_seq(&self) -> u64;
    /// The feed of events this core must deliver; `None` after the first call.
    fn take_feed(&self) -> Option<mpsc::Receiver<FeedItem>>;
    /// A topic's events, bounded.
    fn history(
        &self,
        ns: &str,
        topic: &str,
        q: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>>;
    /// Events after each position (merged in broker order), and the positions that cannot be honoured.
    fn replay_positions(
        &self,
        ns: &str,
        since: &[Position],
    ) -> BoxFuture<'_, Result<Replay, BrokerError>>;
    /// Events of any of `topics` after a Socket.IO offset, in broker order.
    fn replay_offset(
        &self,
        ns: &str,
        topics: &[String],
        offset: &str,
        max: usize,
    ) -> BoxFuture<'_, Result<Missed, BrokerError>>;
    /// Keeps a session for recovery until the window ends.
    fn save_session(
        &self,
        pid: String,
        record: SessionRecord,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;
    /// Takes a saved session of namespace `ns` (it can be restored once).
    fn take_session(
        &self,
        ns: &str,
        pid: &str,
    ) -> BoxFuture<'_, Result<Option<SessionRecord>, BrokerError>>;
    /// A server-side leave of a user who may be away: their saved sessions leave too.
    fn leave_saved(
        &self,
        ns: &str,
        user: &str,
        room: &str,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;
    /// Drops what is older than the window; called periodically.
    fn maintain(&self) -> BoxFuture<'_, ()>;
}
