//! Live frames of a socket being restored: held back (bounded) while the CONNECT reply and the
//! replay are queued, then flushed without the events the replay already carried.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;

use crate::edge::Edge;
use crate::engine::session::{PushError, SLOW_CONSUMER, Session};

/// Most live frames held back for one restoring socket; more close the session as a slow consumer.
pub(crate) const RESTORE_BUFFER: usize = 4096;

/// One frame waiting for the end of a restore.
#[derive(Debug)]
struct Held {
    /// The event's broker sequence number (recoverable events only).
    seq: Option<u64>,
    text: Utf8Bytes,
    attachments: Vec<Bytes>,
}

/// The frames held back for a socket being restored.
#[derive(Debug, Default)]
pub(crate) struct RestoreBuffer {
    frames: VecDeque<Held>,
}

impl RestoreBuffer {
    /// Holds a frame back; `false` when the buffer is full.
    fn hold(&mut self, seq: Option<u64>, text: Utf8Bytes, attachments: &[Bytes]) -> bool {
        if self.frames.len() >= RESTORE_BUFFER {
            return false;
        }
        self.frames.push_back(Held {
            seq,
            text,
            attachments: attachments.to_vec(),
        });
        true
    }
}

/// Queues a delivered frame for the socket of `ns`, or holds it back while that socket is being
/// restored. `seq` is the event's sequence number when it is recoverable.
pub(crate) fn deliver_to(
    edge: &Edge,
    session: &Session,
    ns: &str,
    seq: Option<u64>,
    text: Utf8Bytes,
    attachments: &[Bytes],
) {
    if session.is_restoring() {
        let held = session
            .with_socket(ns, |s| {
                s.restoring
                    .as_mut()
                    .map(|b| b.hold(seq, text.clone(), attachments))
            })
            .flatten();
        match held {
            Some(true) => return,
            Some(false) => {
                tracing::info!(sid = %session.sid, ns, "restore buffer full: disconnecting slow consumer");
                session.disconnect_all(edge, SLOW_CONSUMER, false);
                return;
            }
            None => {}
        }
    }
    session.push_or_kill(edge, text, attachments);
}

/// What one flush pass achieved.
enum Flush {
    /// Everything is queued; the socket is live.
    Done,
    /// The queue is full; wait for room for this many frames.
    Blocked(usize),
    /// The session or socket is gone.
    Gone,
}

/// Moves held frames into the queue (skipping recoverable events with `seq <= last_seq`, which the
/// replay carried) until it is full; once empty the socket stops holding frames back.
fn flush_pass(session: &Session, ns: &str, last_seq: Option<u64>) -> Flush {
    session
        .with_socket(ns, |s| {
            let Some(buf) = s.restoring.as_mut() else {
                return Flush::Done;
            };
            while let Some(f) = buf.frames.front() {
                let replayed = matches!((f.seq, last_seq), (Some(q), Some(l)) if q <= l);
                if !replayed {
                    match session.push(f.text.clone(), &f.attachments) {
                        Ok(()) => {}
                        Err(PushError::Full) => return Flush::Blocked(1 + f.attachments.len()),
                        Err(PushError::Closed) => return Flush::Gone,
                    }
                }
                buf.frames.pop_front();
            }
            s.restoring = None;
            Flush::Done
        })
        .unwrap_or(Flush::Gone)
}

/// Decrements the session's restoring count when the restore ends, however it ends.
pub(crate) struct RestoringGuard(pub Arc<Session>);

impl RestoringGuard {
    /// Counts one more restoring socket on `session`.
    pub fn new(session: Arc<Session>) -> Self {
        session.restoring.fetch_add(1, Ordering::AcqRel);
        RestoringGuard(session)
    }
}

impl Drop for RestoringGuard {
    fn drop(&mut self) {
        self.0.restoring.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Queues `first` (the CONNECT reply, then the replay) waiting for room as needed, then the held
/// live frames; ends when the socket is live or the session closed.
pub(crate) async fn finish_restore(
    edge: Arc<Edge>,
    guard: RestoringGuard,
    ns: Arc<str>,
    first: Vec<(Utf8Bytes, Vec<Bytes>)>,
    last_seq: Option<u64>,
) {
    let session = guard.0.clone();
    let work = async {
        for (text, attachments) in first {
            if session.push_wait(text, &attachments).await.is_err() {
                return false;
            }
        }
        loop {
            match flush_pass(&session, &ns, last_seq) {
                Flush::Done => return true,
                Flush::Gone => return true,
                Flush::Blocked(n) => {
                    if !session.wait_room(n).await {
                        return false;
                    }
                }
            }
        }
    };
    let ok = tokio::select! {
        () = session.closed.cancelled() => true,
        () = edge.shutdown.cancelled() => true,
        ok = work => ok,
    };
    if !ok && !session.is_closed() {
        session.disconnect_all(&edge, SLOW_CONSUMER, false);
    }
    drop(guard);
}
