//! What the edge owes its core and must never drop on a busy link: close notices, `$disconnect`
//! reports and clients' acks. Such a message goes straight onto the link when the link has room
//! and nothing owed waits before it; otherwise it waits in one bounded backlog that goes out, in
//! order, as soon as a link has room (this one or the next). When the backlog bound is hit the
//! backlog is discarded and counted, and the caller resets the link: the core then forgets the
//! link's connections and the edge registers its live sockets again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use herald_proto::v1::{LinkRequest, link_request::Msg};
use tokio::sync::{Notify, mpsc};

/// Most messages the backlog holds.
pub(crate) const BACKLOG_MESSAGES: usize = 65_536;
/// Most encoded bytes the backlog holds (acks carry the clients' arguments).
pub(crate) const BACKLOG_BYTES: usize = 64 << 20;

/// How an owed message left [`Backlog::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owed {
    /// On the link's queue.
    Sent,
    /// In the backlog, behind what was already owed.
    Queued,
    /// The backlog was full: it and this message were discarded; the link must be reset.
    Overflow,
}

struct Queue {
    msgs: VecDeque<(Msg, usize)>,
    bytes: usize,
}

/// The ordered, bounded backlog of owed messages; one per edge, outliving its links.
pub(crate) struct Backlog {
    queue: parking_lot::Mutex<Queue>,
    /// Woken when a message went to the backlog.
    wake: Notify,
    max_messages: usize,
    max_bytes: usize,
    /// Messages discarded because the bound was hit.
    discarded: AtomicU64,
}

impl Backlog {
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Backlog {
            queue: parking_lot::Mutex::new(Queue {
                msgs: VecDeque::new(),
                bytes: 0,
            }),
            wake: Notify::new(),
            max_messages,
            max_bytes,
            discarded: AtomicU64::new(0),
        }
    }

    /// Puts `msg` on the link `tx` when nothing owed waits before it and there is room, else
    /// behind the others in the backlog (also when there is no link).
    pub fn send(&self, tx: Option<&mpsc::Sender<LinkRequest>>, msg: Msg) -> Owed {
        let mut queue = self.queue.lock();
        let msg = match tx {
            Some(tx) if queue.msgs.is_empty() => match tx.try_send(request(msg)) {
                Ok(()) => return Owed::Sent,
                Err(
                    mpsc::error::TrySendError::Full(req) | mpsc::error::TrySendError::Closed(req),
                ) => match req.msg {
                    Some(msg) => msg,
                    None => return Owed::Sent,
                },
            },
            _ => msg,
        };
        let size = msg.encoded_len();
        if queue.msgs.len() >= self.max_messages || queue.bytes + size > self.max_bytes {
            let lost = u64::try_from(queue.msgs.len() + 1).unwrap_or(u64::MAX);
            self.discarded.fetch_add(lost, Ordering::Relaxed);
            queue.msgs.clear();
            queue.bytes = 0;
            return Owed::Overflow;
        }
        queue.bytes += size;
        queue.msgs.push_back((msg, size));
        drop(queue);
        self.wake.notify_one();
        Owed::Queued
    }

    /// Messages waiting for room.
    pub fn len(&self) -> usize {
        self.queue.lock().msgs.len()
    }

    /// Messages discarded so far because the backlog was full.
    pub fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }

    /// Sends the backlog on the link `tx`, in order, waiting for room, until the link ends (what is
    /// not sent stays for the next link). Holds the link's sender only while sending, so the
    /// stream still ends when the link closes. Only this task takes from the backlog.
    pub async fn drain(&self, tx: mpsc::WeakSender<LinkRequest>) {
        loop {
            if self.queue.lock().msgs.is_empty() {
                self.wake.notified().await;
                continue;
            }
            let Some(tx) = tx.upgrade() else { return };
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            // Taken only once there is room, and sent under the lock: a message is never lost
            // in between, and none sent directly overtakes it.
            let mut queue = self.queue.lock();
            let Some((msg, size)) = queue.msgs.pop_front() else {
                continue;
            };
            queue.bytes -= size;
            permit.send(request(msg));
        }
    }
}

fn request(msg: Msg) -> LinkRequest {
    LinkRequest {
        request_id: 0,
        msg: Some(msg),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use herald_proto::v1::ConnectionClosed;

    /// A close notice for connection `id` (the link's tests use it too).
    pub(crate) fn closed(id: &str) -> Msg {
        Msg::Closed(ConnectionClosed {
            connection_id: id.to_owned(),
            reason: String::new(),
            recoverable: false,
        })
    }

    fn id(req: LinkRequest) -> String {
        match req.msg {
            Some(Msg::Closed(c)) => c.connection_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_full_link_keeps_the_order_and_the_bound_discards() {
        let backlog = Backlog::new(2, BACKLOG_BYTES);
        let (tx, mut rx) = mpsc::channel(1);
        assert_eq!(backlog.send(Some(&tx), closed("a")), Owed::Sent);
        assert_eq!(backlog.send(Some(&tx), closed("b")), Owed::Queued);
        assert_eq!(backlog.send(None, closed("c")), Owed::Queued);
        assert_eq!(backlog.len(), 2);
        // The link has room again, but "x" may not overtake "b" and "c": it goes behind them,
        // over the bound.
        assert_eq!(id(rx.recv().await.unwrap()), "a");
        assert_eq!(backlog.send(Some(&tx), closed("x")), Owed::Overflow);
        assert_eq!(backlog.discarded(), 3);
        assert_eq!(backlog.len(), 0);
        assert_eq!(backlog.send(Some(&tx), closed("d")), Owed::Sent);
        assert_eq!(id(rx.recv().await.unwrap()), "d");
    }

    #[tokio::test]
    async fn the_backlog_drains_in_order_when_there_is_room() {
        let backlog = std::sync::Arc::new(Backlog::new(16, BACKLOG_BYTES));
        let (tx, mut rx) = mpsc::channel(1);
        assert_eq!(backlog.send(Some(&tx), closed("a")), Owed::Sent);
        for c in ["b", "c", "d"] {
            assert_eq!(backlog.send(Some(&tx), closed(c)), Owed::Queued);
        }
        let drain = tokio::spawn({
            let backlog = backlog.clone();
            let weak = tx.downgrade();
            async move { backlog.drain(weak).await }
        });
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(id(rx.recv().await.unwrap()));
        }
        assert_eq!(got, ["a", "b", "c", "d"]);
        assert_eq!(backlog.len(), 0);
        drain.abort();
    }
}
