//! The broker: where accepted events go before fan-out. A trait with an
//! in-memory implementation (one process); Redis comes later on the same trait.

mod memory;

use std::sync::Arc;

use futures::future::BoxFuture;
use herald_proto::v1::Event;
use tokio::sync::mpsc;

pub use memory::MemoryBroker;

/// An accepted event on its way to this core's dispatcher.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub event: Arc<Event>,
    /// Non-zero when the emitter waits for client acks.
    pub ack_ref: u64,
}

/// Why the broker did not accept an event.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker closed")]
    Closed,
    #[error("broker overloaded: event not accepted within {0:?}")]
    Overloaded(std::time::Duration),
}

/// Live fan-out between cores.
pub trait Broker: Send + Sync + 'static {
    /// Returns once the event is accepted; an error means it was not.
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>>;
    /// The feed of events this core must deliver; `None` after the first call.
    fn take_feed(&self) -> Option<mpsc::Receiver<Envelope>>;
}
