//! Live frames of a socket being registered or restored: held back (bounded) until the core has
//! answered (its registration point, the replay) and the CONNECT reply and the replay are queued,
//! then flushed through the socket's floor, which drops what the replay already carried and what
//! was accepted before the socket registered.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;

use crate::socketio::fanout::Order;
use crate::socketio::member::Member;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{PushError, Session};
use crate::socketio::state::Sio;
use herald_engine::Close;

/// Most live frames held back for one restoring socket; more close the session as a slow consumer.
pub(crate) const RESTORE_BUFFER: usize = 4096;

/// One frame waiting for the end of a restore.
#[derive(Debug)]
struct Held {
    order: Order,
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
    fn hold(&mut self, order: Order, text: Utf8Bytes, attachments: &[Bytes]) -> bool {
        if self.frames.len() >= RESTORE_BUFFER {
            return false;
        }
        self.frames.push_back(Held {
            order,
            text,
            attachments: attachments.to_vec(),
        });
        true
    }
}

/// Queues a delivered frame for the socket of `ns` if the event is above its floor, or holds it
/// back while that socket is being registered or restored.
pub(crate) fn deliver_to(
    sio: &Sio,
    member: &Member,
    ns: &str,
    order: Order,
    text: Utf8Bytes,
    attachments: &[Bytes],
) {
    let session = &member.session;
    if session.is_restoring() {
        let held = session
            .with_socket(ns, |s| {
                s.restoring
                    .as_mut()
                    .map(|b| b.hold(order, text.clone(), attachments))
            })
            .flatten();
        match held {
            Some(true) => return,
            Some(false) => {
                tracing::info!(sid = %session.sid, ns, "restore buffer full: disconnecting slow consumer");
                session.disconnect_all(sio, Close::SlowConsumer.into(), false);
                return;
            }
            None => {}
        }
    }
    if !member.admit(order.seq) {
        return;
    }
    if let Some(o) = order.offset {
        member.note_offset(o);
    }
    session.push_or_kill(sio, text, attachments);
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

/// Moves held frames above the socket's floor into the queue until it is full; once empty the
/// socket stops holding frames back.
fn flush_pass(member: &Member, ns: &str) -> Flush {
    let session = &member.session;
    session
        .with_socket(ns, |s| {
            let Some(buf) = s.restoring.as_mut() else {
                return Flush::Done;
            };
            while let Some(f) = buf.frames.front() {
                // Checked without taking it: a full queue leaves the frame for the next pass.
                if f.order.seq == 0 || f.order.seq > member.floor() {
                    match session.push(f.text.clone(), &f.attachments) {
                        Ok(()) => {}
                        Err(PushError::Full) => return Flush::Blocked(1 + f.attachments.len()),
                        Err(PushError::Closed) => return Flush::Gone,
                    }
                    member.admit(f.order.seq);
                    if let Some(o) = f.order.offset {
                        member.note_offset(o);
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
/// live frames above the socket's floor; ends when the socket is live or the session closed.
pub(crate) async fn finish_restore(
    sio: Arc<Sio>,
    guard: RestoringGuard,
    member: Arc<Member>,
    ns: Arc<str>,
    first: Vec<(Utf8Bytes, Vec<Bytes>)>,
) {
    let session = guard.0.clone();
    let work = async {
        for (text, attachments) in first {
            if session.push_wait(text, &attachments).await.is_err() {
                return false;
            }
        }
        loop {
            match flush_pass(&member, &ns) {
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
        () = sio.shutdown.cancelled() => true,
        ok = work => ok,
    };
    if !ok && !session.is_closed() {
        session.disconnect_all(&sio, Close::SlowConsumer.into(), false);
    }
    drop(guard);
}
