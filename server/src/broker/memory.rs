//! In-memory broker: a bounded queue from Emit to this process's dispatcher.

use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{Broker, BrokerError, Envelope};

/// How long Emit waits for room in a full queue before answering UNAVAILABLE.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(2);

/// The default broker of a single process.
pub struct MemoryBroker {
    tx: mpsc::Sender<Envelope>,
    rx: Mutex<Option<mpsc::Receiver<Envelope>>>,
}

impl MemoryBroker {
    /// `capacity` bounds the events accepted but not yet dispatched.
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            match self.tx.send_timeout(envelope, ACCEPT_TIMEOUT).await {
                Ok(()) => Ok(()),
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                    Err(BrokerError::Overloaded(ACCEPT_TIMEOUT))
                }
                Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(BrokerError::Closed),
            }
        })
    }

    fn take_feed(&self) -> Option<mpsc::Receiver<Envelope>> {
        self.rx.lock().take()
    }
}
