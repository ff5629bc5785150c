//! The broker: where accepted events go before fan-out, and what lasts for the
//! recovery window (per-topic logs, saved Socket.IO sessions). A trait with an
//! in-memory implementation (one process); Redis implements the same trait.

mod log;
mod memory;
mod sessions;

use std::sync::Arc;

use futures::future::BoxFuture;
use herald_proto::v1::{Event, Position};
use tokio::sync::mpsc;

pub use log::{Gap, Limits};
pub use memory::MemoryBroker;
pub use sessions::SessionRecord;

/// An accepted event on its way to this core's dispatcher.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// With positions and offset filled in for recoverable events.
    pub event: Arc<Event>,
    /// Non-zero when the emitter waits for client acks.
    pub ack_ref: u64,
}

/// Why the broker did not accept an event or answer a query.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker closed")]
    Closed,
    #[error("broker overloaded: event not accepted within {0:?}")]
    Overloaded(std::time::Duration),
    #[error("broker unavailable: {0}")]
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
    /// Gives recoverable events their positions and offset, keeps them for the
    /// window, and returns once the event is accepted for fan-out.
    fn publish(&self, event: Event, ack_ref: u64)
    -> BoxFuture<'_, Result<Arc<Event>, BrokerError>>;
    /// The feed of events this core must deliver; `None` after the first call.
    fn take_feed(&self) -> Option<mpsc::Receiver<Envelope>>;
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
    /// Takes a saved session (it can be restored once).
    fn take_session(&self, pid: &str) -> BoxFuture<'_, Result<Option<SessionRecord>, BrokerError>>;
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
