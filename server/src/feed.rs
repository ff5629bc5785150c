//! A bounded server-stream feed: a sender that never blocks the fan-out and can
//! close the stream with a status, and the stream tonic sends to the client.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::Status;

/// The sending half, held by the hub.
pub struct Feed<T> {
    tx: mpsc::Sender<T>,
    stop: CancellationToken,
    reason: Arc<Mutex<Option<Status>>>,
}

impl<T> Clone for Feed<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            stop: self.stop.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// Why an item was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedError {
    Full,
    Closed,
}

impl<T> Feed<T> {
    /// Queues without waiting; `Full` means the receiver cannot keep up.
    pub fn try_send(&self, item: T) -> Result<(), FeedError> {
        if self.stop.is_cancelled() {
            return Err(FeedError::Closed);
        }
        self.tx.try_send(item).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => FeedError::Full,
            mpsc::error::TrySendError::Closed(_) => FeedError::Closed,
        })
    }

    /// Queues, waiting for room; for control messages that must not be lost.
    pub async fn send(&self, item: T) -> Result<(), FeedError> {
        tokio::select! {
            r = self.tx.send(item) => r.map_err(|_| FeedError::Closed),
            () = self.stop.cancelled() => Err(FeedError::Closed),
        }
    }

    /// Items waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Ends the stream with `status` (the first reason given wins).
    pub fn close(&self, status: Status) {
        let mut r = self.reason.lock();
        if r.is_none() {
            *r = Some(status);
        }
        drop(r);
        self.stop.cancel();
    }

    /// Resolves when the feed is closed by `close` or by a parent token.
    pub async fn closed(&self) {
        self.stop.cancelled().await;
    }
}

/// The receiving half, returned to tonic as the response stream.
pub struct FeedStream<T> {
    rx: mpsc::Receiver<T>,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    reason: Arc<Mutex<Option<Status>>>,
    done: bool,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> FeedStream<T> {
    /// Runs `f` when the client goes away or the stream ends.
    pub fn on_drop(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.on_drop = Some(Box::new(f));
        self
    }
}

impl<T> Drop for FeedStream<T> {
    fn drop(&mut self) {
        if let Some(f) = self.on_drop.take() {
            f();
        }
    }
}

impl<T> Stream for FeedStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.stop.as_mut().poll(cx).is_ready() {
            self.done = true;
            let status = self
                .reason
                .lock()
                .take()
                .unwrap_or_else(|| Status::unavailable("server is shutting down"));
            return Poll::Ready(Some(Err(status)));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(Ok(item))),
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A feed of at most `capacity` queued items, closed also when `parent` is cancelled.
pub fn feed<T>(capacity: usize, parent: &CancellationToken) -> (Feed<T>, FeedStream<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let stop = parent.child_token();
    let reason = Arc::new(Mutex::new(None));
    (
        Feed {
            tx,
            stop: stop.clone(),
            reason: reason.clone(),
        },
        FeedStream {
            rx,
            stop: Box::pin(stop.cancelled_owned()),
            reason,
            done: false,
            on_drop: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn full_feed_refuses_and_close_ends_with_reason() {
        let root = CancellationToken::new();
        let (tx, mut rx) = feed::<u32>(1, &root);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Err(FeedError::Full));
        tx.close(Status::resource_exhausted("too slow"));
        let first = rx.next().await.unwrap();
        assert_eq!(first.unwrap_err().code(), tonic::Code::ResourceExhausted);
        assert!(rx.next().await.is_none());
        assert_eq!(tx.try_send(3), Err(FeedError::Closed));
    }

    #[tokio::test]
    async fn parent_cancel_closes_and_drop_hook_runs() {
        let root = CancellationToken::new();
        let (tx, rx) = feed::<u32>(4, &root);
        let hit = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let h = hit.clone();
        let mut rx = rx.on_drop(move || h.store(true, std::sync::atomic::Ordering::SeqCst));
        tx.try_send(7).unwrap();
        root.cancel();
        assert_eq!(
            rx.next().await.unwrap().unwrap_err().code(),
            tonic::Code::Unavailable
        );
        drop(rx);
        assert!(hit.load(std::sync::atomic::Ordering::SeqCst));
    }
}
