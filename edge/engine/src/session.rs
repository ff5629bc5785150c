//! One Engine.IO session: its bounded outbound queue, the transport carrying it, its closing, and
//! the data the layer above attaches (`D`, reached through `Deref`).

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::frame::{Outgoing, PushError, SharedFrame, Transport};
use crate::limits::Admitted;
use crate::queue::{Queue, Reader};
use crate::sink::{Sink, wire_frames, wire_outgoing, wire_texts};
use crate::stream::Stream;

#[derive(Debug)]
struct State {
    transport: Transport,
    closing: bool,
    /// The client closed the session with the Engine.IO close packet.
    client_closed: bool,
    drain: bool,
    final_frames: Vec<Outgoing>,
}

/// An Engine.IO session carrying the upper layer's data `D`.
#[derive(Debug)]
pub struct Session<D> {
    pub sid: Arc<str>,
    /// Outbound frames, read by the transport currently writing (a pending GET or the websocket).
    queue: Queue,
    /// Set while a polling POST is processed (a concurrent POST closes the session).
    post: AtomicBool,
    pub closed: CancellationToken,
    pub pong: Notify,
    /// Releases a pending GET with a noop (upgrade).
    pub noop: Notify,
    /// What the session's deadlines depend on changed (the driver recomputes them).
    pub changed: Notify,
    /// Cancelled once the session is out of the server's table (after a polling client fetched
    /// its last frames, or at once for other sessions).
    pub finished: CancellationToken,
    /// The session's place in the limits (its client's address), released when it finishes.
    pub admitted: OnceLock<Admitted>,
    state: parking_lot::Mutex<State>,
    /// What the layer above attaches.
    data: D,
}

impl<D> Deref for Session<D> {
    type Target = D;

    fn deref(&self) -> &D {
        &self.data
    }
}

/// The right to process a polling POST; released when dropped.
#[derive(Debug)]
pub struct PostGuard<'a>(&'a AtomicBool);

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<D> Session<D> {
    /// A session with a queue of at most `queue` frames; `frames_sent` counts the frames handed
    /// to a websocket.
    pub fn new(
        sid: Arc<str>,
        queue: usize,
        transport: Transport,
        frames_sent: Arc<AtomicU64>,
        data: D,
    ) -> Self {
        Session {
            sid,
            queue: Queue::new(queue, frames_sent),
            post: AtomicBool::new(false),
            closed: CancellationToken::new(),
            pong: Notify::new(),
            noop: Notify::new(),
            changed: Notify::new(),
            finished: CancellationToken::new(),
            admitted: OnceLock::new(),
            state: parking_lot::Mutex::new(State {
                transport,
                closing: false,
                client_closed: false,
                drain: false,
                final_frames: Vec::new(),
            }),
            data,
        }
    }

    /// The upper layer's data.
    pub fn data(&self) -> &D {
        &self.data
    }

    pub fn transport(&self) -> Transport {
        self.state.lock().transport
    }

    pub fn set_transport(&self, t: Transport) {
        self.state.lock().transport = t;
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Whether the session is closing or closed (nothing new may attach to it).
    pub fn is_closing(&self) -> bool {
        self.state.lock().closing
    }

    /// The right to process a POST, unless another one is being processed.
    pub fn try_post(&self) -> Option<PostGuard<'_>> {
        self.post
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| PostGuard(&self.post))
    }

    /// Enqueues a text frame and its binary attachments atomically (all or none), in order.
    pub fn push(&self, text: Utf8Bytes, attachments: &[Bytes]) -> Result<(), PushError> {
        let wire = || wire_frames(text.as_str(), attachments);
        self.push_frames(
            1 + attachments.len(),
            |q| {
                q.push_back(Outgoing::Text(text.clone()));
                q.extend(attachments.iter().cloned().map(Outgoing::Binary));
            },
            wire,
        )
    }

    /// Enqueues an event's frames encoded once for every recipient (the fan-out).
    pub fn push_shared(&self, frame: &SharedFrame) -> Result<(), PushError> {
        self.push_shared_with(frame, false).map(|_| ())
    }

    /// Like [`Session::push_shared`], but a websocket gathers the frames until [`Session::uncork`]:
    /// several deliveries ready at once go out in one write. `Ok(true)`: this push corked the
    /// session, the caller must uncork it.
    pub fn push_shared_corked(&self, frame: &SharedFrame) -> Result<bool, PushError> {
        self.push_shared_with(frame, true)
    }

    fn push_shared_with(&self, frame: &SharedFrame, cork: bool) -> Result<bool, PushError> {
        self.queue
            .push_with(
                1 + frame.attachments.len(),
                |q| {
                    q.push_back(Outgoing::Text(frame.text.clone()));
                    q.extend(frame.attachments.iter().cloned().map(Outgoing::Binary));
                },
                || frame.wire.clone(),
                cork,
            )
            .ok_or(PushError::Full)
    }

    /// Writes what corked pushes gathered.
    pub fn uncork(&self) {
        self.queue.uncork();
    }

    /// Enqueues several text frames atomically.
    pub fn push_texts(&self, texts: &[Utf8Bytes]) -> Result<(), PushError> {
        self.push_frames(
            texts.len(),
            |q| q.extend(texts.iter().cloned().map(Outgoing::Text)),
            || wire_texts(texts),
        )
    }

    fn push_frames(
        &self,
        n: usize,
        fill: impl FnOnce(&mut VecDeque<Outgoing>),
        wire: impl FnOnce() -> Bytes,
    ) -> Result<(), PushError> {
        match self.queue.push_with(n, fill, wire, false) {
            Some(_) => Ok(()),
            None => Err(PushError::Full),
        }
    }

    pub fn push_text(&self, text: impl Into<Utf8Bytes>) -> Result<(), PushError> {
        self.push(text.into(), &[])
    }

    /// Enqueues a text frame and its attachments, waiting for room in the queue.
    pub async fn push_wait(&self, text: Utf8Bytes, attachments: &[Bytes]) -> Result<(), PushError> {
        loop {
            match self.push(text.clone(), attachments) {
                Err(PushError::Full) => {
                    if !self.wait_room(1 + attachments.len()).await {
                        return Err(PushError::Closed);
                    }
                }
                done => return done,
            }
        }
    }

    /// Waits until `frames` frames fit in the queue (`false`: they never will, or the session finished).
    pub async fn wait_room(&self, frames: usize) -> bool {
        tokio::select! {
            ok = self.queue.wait_room(frames) => ok && !self.finished.is_cancelled(),
            () = self.finished.cancelled() => false,
        }
    }

    /// Waits for the right to read the outbound queue (one transport at a time).
    pub async fn reader(&self) -> Reader<'_> {
        self.queue.reader().await
    }

    /// The right to read the outbound queue, unless another transport holds it.
    pub fn try_reader(&self) -> Option<Reader<'_>> {
        self.queue.try_reader()
    }

    /// Hands the outbound queue to a websocket: what is queued is written first, later frames go
    /// straight to the socket.
    pub fn attach_websocket(&self, stream: Arc<Stream>) {
        self.queue.attach(stream, wire_outgoing);
    }

    /// Writes a websocket control frame (a pong) in order with the frames; `false` when the queue
    /// is full (the client does not read).
    pub fn push_control(&self, frame: Bytes) -> bool {
        self.queue.write_control(frame)
    }

    /// Takes the websocket's write side back (closing).
    pub fn detach_websocket(&self) -> Option<Sink> {
        self.queue.detach()
    }

    /// Writes what the websocket could not take at once; returns when the socket failed.
    pub async fn flush_websocket(&self) -> std::io::Error {
        self.queue.flush().await
    }

    /// The client's IP address, when known.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.admitted.get().map(Admitted::ip)
    }

    // ----- closing -----

    /// Whether the client ended the session itself (its close packet), rather than the server.
    pub fn closed_by_client(&self) -> bool {
        self.state.lock().client_closed
    }

    /// Takes the frames to write after the queue when the session closed, and whether to flush
    /// the queue first.
    pub fn take_final(&self) -> (bool, Vec<Outgoing>) {
        let mut st = self.state.lock();
        (st.drain, std::mem::take(&mut st.final_frames))
    }

    /// Marks the session closing, with the frames to write last (after the queue, when `drain`).
    /// `None` when it was already closing; else whether a polling client must still fetch
    /// frames before the session leaves the table (it lingers). The caller cancels
    /// [`Session::closed`] once the upper layer is told.
    pub fn begin_close(
        &self,
        by_client: bool,
        final_frames: Vec<Outgoing>,
        drain: bool,
    ) -> Option<bool> {
        let mut st = self.state.lock();
        if st.closing {
            return None;
        }
        st.closing = true;
        st.client_closed = by_client;
        st.drain = drain;
        // A polling client fetches its last frames with a later GET: keep the session reachable
        // until then; the close packet goes in a poll of its own.
        let linger = st.transport != Transport::Websocket && (drain || !final_frames.is_empty());
        st.final_frames = final_frames;
        Some(linger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session<u32> {
        Session::new(Arc::from("sid"), 5, Transport::Polling, Arc::default(), 7)
    }

    #[test]
    fn the_queue_is_bounded_and_atomic() {
        let s = session();
        assert_eq!(*s.data(), 7);
        assert_eq!(*s, 7, "the data is reached through the session");
        s.push_text("42[\"a\"]").unwrap();
        let two = [Bytes::from_static(b"x"), Bytes::from_static(b"y")];
        s.push("451-[\"b\",{\"_placeholder\":true,\"num\":0}]".into(), &two)
            .unwrap();
        assert_eq!(
            s.push("451-[]".into(), &two),
            Err(PushError::Full),
            "three frames do not fit in the one place left: none is queued"
        );
        s.push_text("2").unwrap();
        assert_eq!(s.push_text("2"), Err(PushError::Full));
    }

    #[test]
    fn one_post_at_a_time() {
        let s = session();
        let g = s.try_post().unwrap();
        assert!(s.try_post().is_none());
        drop(g);
        assert!(s.try_post().is_some());
    }

    #[test]
    fn closing_happens_once_and_a_polling_session_lingers_for_its_last_frames() {
        let s = session();
        assert_eq!(
            s.begin_close(false, vec![Outgoing::Text("41".into())], false),
            Some(true)
        );
        assert!(s.is_closing());
        assert_eq!(s.begin_close(true, Vec::new(), false), None);
        assert!(!s.closed_by_client(), "the first close decides");
        let (drain, finals) = s.take_final();
        assert!(!drain);
        assert_eq!(finals.len(), 1);
    }
}
