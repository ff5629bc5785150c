//! A session's bounded outbound queue: frames in order, at most `cap` of them, read by one
//! transport at a time. Nothing is allocated until the first frame, and a buffer grown by a burst
//! is given back once drained, so an idle session holds (almost) no queue memory. While a
//! websocket carries the session, frames skip the queue and go to its [`Sink`] (written at once).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::frame::Outgoing;
use crate::sink::{Sink, Written};
use crate::stream::Stream;

/// Capacity (in frames) kept after the queue drains; a larger buffer is freed.
const KEEP_CAPACITY: usize = 16;

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Outgoing>,
    /// Someone waits for room (`wait_room`); the reader wakes them when it takes frames.
    want_room: bool,
    /// The websocket's write side, while one carries the session.
    sink: Option<Sink>,
}

impl State {
    /// Frames held (queued, or waiting in the sink).
    fn held(&self) -> usize {
        self.frames.len() + self.sink.as_ref().map_or(0, Sink::waiting)
    }
}

/// The queue (see the module docs).
#[derive(Debug)]
pub struct Queue {
    state: parking_lot::Mutex<State>,
    cap: usize,
    /// Signalled when frames arrive in an empty queue, or wait in an idle sink.
    readable: Notify,
    /// Signalled when the reader took frames while someone waited for room.
    room: Notify,
    /// Held by the transport currently reading.
    reader: tokio::sync::Mutex<()>,
    /// The edge's count of frames handed to a websocket.
    sent: Arc<AtomicU64>,
}

/// The right to read the queue (one transport at a time).
#[derive(Debug)]
pub struct Reader<'a> {
    queue: &'a Queue,
    _held: tokio::sync::MutexGuard<'a, ()>,
}

impl Queue {
    pub fn new(cap: usize, sent: Arc<AtomicU64>) -> Self {
        Queue {
            state: parking_lot::Mutex::new(State::default()),
            cap: cap.max(1),
            readable: Notify::new(),
            room: Notify::new(),
            reader: tokio::sync::Mutex::new(()),
            sent,
        }
    }

    /// Appends `n` frames produced by `fill` if all of them fit; `false` (nothing appended) if not.
    /// While a websocket carries the session, `wire` gives the same frames encoded for it instead,
    /// and they are written at once when nothing waits before them.
    ///
    /// With `cork`, frames for a websocket are gathered rather than written, until [`Queue::uncork`];
    /// the answer says whether this push corked the sink (the caller then owes the uncork).
    pub fn push_with(
        &self,
        n: usize,
        fill: impl FnOnce(&mut VecDeque<Outgoing>),
        wire: impl FnOnce() -> Bytes,
        cork: bool,
    ) -> Option<bool> {
        let wake = {
            let mut st = self.state.lock();
            if self.cap.saturating_sub(st.held()) < n {
                return None;
            }
            if let Some(sink) = st.sink.as_mut() {
                if cork {
                    self.sent.fetch_add(n as u64, Ordering::Relaxed);
                    return Some(sink.cork(wire(), n));
                }
                let idle = sink.waiting() == 0;
                let written = sink.write(wire(), n);
                if written != Written::Failed {
                    self.sent.fetch_add(n as u64, Ordering::Relaxed);
                }
                // The flusher waits only once the sink is idle: wake it for the first frame to wait
                // (or to report the failure).
                written == Written::Failed || (written == Written::Waiting && idle)
            } else {
                let was_empty = st.frames.is_empty();
                fill(&mut st.frames);
                // The reader only waits after seeing the queue empty, so waking it on the first frame suffices.
                was_empty && n > 0
            }
        };
        if wake {
            self.readable.notify_one();
        }
        Some(false)
    }

    /// Writes the frames gathered by corked pushes.
    pub fn uncork(&self) {
        let wake = {
            let mut st = self.state.lock();
            st.sink.as_mut().is_some_and(|sink| !sink.uncork())
        };
        if wake {
            self.readable.notify_one();
        }
    }

    /// Hands the session to a websocket: frames queued so far are written first (in order), and
    /// later ones go straight to the socket.
    pub fn attach(&self, stream: Arc<Stream>, encode: impl Fn(&Outgoing) -> Bytes) {
        let wake = {
            let mut st = self.state.lock();
            let mut sink = Sink::new(stream);
            for f in std::mem::take(&mut st.frames) {
                sink.write(encode(&f), 1);
            }
            // (A TLS stream may hold the last of them encrypted.)
            let wake = sink.waiting() > 0 || sink.has_failed() || sink.stream().holds_unsent();
            st.sink = Some(sink);
            wake
        };
        if wake {
            self.readable.notify_one();
        }
    }

    /// Writes a websocket control frame (a pong) in order with the rest, counted as a frame of
    /// the queue; nothing without a websocket. `false` (nothing written) when the queue is full.
    pub fn write_control(&self, bytes: Bytes) -> bool {
        let wake = {
            let mut st = self.state.lock();
            if st.held() >= self.cap {
                return false;
            }
            let Some(sink) = st.sink.as_mut() else {
                return true;
            };
            let idle = sink.waiting() == 0;
            let written = sink.write(bytes, 1);
            written == Written::Failed || (written == Written::Waiting && idle)
        };
        if wake {
            self.readable.notify_one();
        }
        true
    }

    /// Takes the websocket's write side back (the session is closing); later frames are queued.
    pub fn detach(&self) -> Option<Sink> {
        self.state.lock().sink.take()
    }

    /// Writes what waits in the sink whenever the socket can take it; returns only when the socket
    /// failed (or no sink is attached). Cancel-safe: nothing is lost when the future is dropped.
    pub async fn flush(&self) -> io::Error {
        loop {
            let (stream, room) = {
                let mut st = self.state.lock();
                let Some(sink) = st.sink.as_mut() else {
                    return io::Error::from(io::ErrorKind::NotConnected);
                };
                let before = sink.waiting();
                let done = match sink.flush_some() {
                    Ok(done) => done,
                    Err(e) => return e,
                };
                let stream = (!done).then(|| sink.stream().clone());
                let room = sink.waiting() < before && std::mem::take(&mut st.want_room);
                (stream, room)
            };
            if room {
                self.room.notify_waiters();
            }
            match stream {
                None => self.readable.notified().await,
                Some(s) => {
                    if let Err(e) = s.writable().await {
                        return e;
                    }
                }
            }
        }
    }

    /// Waits until `n` frames fit; `false` at once if they never will.
    pub async fn wait_room(&self, n: usize) -> bool {
        if n > self.cap {
            return false;
        }
        loop {
            // Created before the check so a wake-up between the check and the wait is not lost.
            let notified = self.room.notified();
            {
                let mut st = self.state.lock();
                if self.cap.saturating_sub(st.held()) >= n {
                    return true;
                }
                st.want_room = true;
            }
            notified.await;
        }
    }

    /// Waits for the right to read (a transport taking over from another).
    pub async fn reader(&self) -> Reader<'_> {
        Reader {
            queue: self,
            _held: self.reader.lock().await,
        }
    }

    /// The right to read, unless another transport holds it.
    pub fn try_reader(&self) -> Option<Reader<'_>> {
        Some(Reader {
            queue: self,
            _held: self.reader.try_lock().ok()?,
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().frames.len()
    }
}

impl Reader<'_> {
    /// Takes the oldest frame, if any.
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        let q = self.queue;
        let (frame, wake) = {
            let mut st = q.state.lock();
            let frame = st.frames.pop_front();
            if st.frames.is_empty() && st.frames.capacity() > KEEP_CAPACITY {
                st.frames.shrink_to(KEEP_CAPACITY);
            }
            let wake = frame.is_some() && std::mem::take(&mut st.want_room);
            (frame, wake)
        };
        if wake {
            q.room.notify_waiters();
        }
        frame
    }

    /// Waits for the oldest frame. Cancel-safe: a frame is only taken when it is returned.
    pub async fn recv(&mut self) -> Outgoing {
        loop {
            if let Some(f) = self.try_recv() {
                return f;
            }
            self.queue.readable.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn text(s: &'static str) -> Outgoing {
        Outgoing::Text(s.into())
    }

    fn as_text(f: Outgoing) -> String {
        match f {
            Outgoing::Text(t) => t.as_str().to_owned(),
            Outgoing::Binary(_) => "<binary>".to_owned(),
        }
    }

    #[test]
    fn bounded_all_or_nothing_and_in_order() {
        let q = Queue::new(3, Arc::default());
        assert!(
            q.push_with(2, |f| f.extend([text("a"), text("b")]), Bytes::new, false)
                .is_some()
        );
        assert!(
            q.push_with(2, |f| f.extend([text("c"), text("d")]), Bytes::new, false)
                .is_none()
        );
        assert_eq!(q.len(), 2);
        assert!(
            q.push_with(1, |f| f.push_back(text("c")), Bytes::new, false)
                .is_some()
        );
        let mut r = q.try_reader().unwrap();
        assert!(q.try_reader().is_none(), "one reader at a time");
        let got: Vec<String> = std::iter::from_fn(|| r.try_recv()).map(as_text).collect();
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[test]
    fn a_drained_burst_gives_its_buffer_back() {
        let q = Queue::new(1024, Arc::default());
        for _ in 0..500 {
            assert!(
                q.push_with(1, |f| f.push_back(text("x")), Bytes::new, false)
                    .is_some()
            );
        }
        let mut r = q.try_reader().unwrap();
        while r.try_recv().is_some() {}
        assert!(q.state.lock().frames.capacity() <= KEEP_CAPACITY);
    }

    #[tokio::test]
    async fn the_reader_wakes_on_the_first_frame() {
        let q = Arc::new(Queue::new(4, Arc::default()));
        let q2 = q.clone();
        let reader = tokio::spawn(async move {
            let mut r = q2.reader().await;
            let a = as_text(r.recv().await);
            let b = as_text(r.recv().await);
            (a, b)
        });
        tokio::task::yield_now().await;
        assert!(
            q.push_with(1, |f| f.push_back(text("one")), Bytes::new, false)
                .is_some()
        );
        tokio::task::yield_now().await;
        assert!(
            q.push_with(1, |f| f.push_back(text("two")), Bytes::new, false)
                .is_some()
        );
        let got = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, ("one".to_owned(), "two".to_owned()));
    }

    #[tokio::test]
    async fn waiting_for_room_ends_when_the_reader_takes_frames() {
        let q = Arc::new(Queue::new(2, Arc::default()));
        assert!(
            q.push_with(2, |f| f.extend([text("a"), text("b")]), Bytes::new, false)
                .is_some()
        );
        assert!(!q.wait_room(3).await, "more than the capacity never fits");
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.wait_room(1).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let mut r = q.try_reader().unwrap();
        assert_eq!(as_text(r.try_recv().unwrap()), "a");
        let ok = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(ok);
    }

    /// A connected loopback pair: (server side for the sink, client side).
    async fn pair() -> (Arc<Stream>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (
            Arc::new(Stream::Plain(accepted.unwrap().0)),
            client.unwrap(),
        )
    }

    fn chunk(i: usize, len: usize) -> Bytes {
        Bytes::from(vec![u8::try_from(i % 251).unwrap(); len])
    }

    #[tokio::test]
    async fn a_websocket_gets_every_frame_in_order_and_the_queue_stays_bounded() {
        let (server, mut client) = pair().await;
        let sent = Arc::new(AtomicU64::new(0));
        let q = Arc::new(Queue::new(8, sent.clone()));
        // Queued before the websocket took over: written first.
        assert!(
            q.push_with(1, |f| f.push_back(text("early")), Bytes::new, false)
                .is_some()
        );
        q.attach(server, |_| Bytes::from_static(b"early;"));
        let mut expected = b"early;".to_vec();
        // Big frames while the client does not read: the socket fills, then frames wait, up to
        // the capacity.
        let mut refused = false;
        for i in 0..200 {
            let b = chunk(i, 64 * 1024);
            if q.push_with(1, |_| {}, || b.clone(), false).is_none() {
                refused = true;
                break;
            }
            expected.extend_from_slice(&b);
        }
        assert!(refused, "a client that never reads makes the queue refuse");
        let flusher = tokio::spawn({
            let q = q.clone();
            async move { q.flush().await }
        });
        let mut got = vec![0u8; expected.len()];
        tokio::time::timeout(Duration::from_secs(30), async {
            tokio::io::AsyncReadExt::read_exact(&mut client, &mut got).await
        })
        .await
        .unwrap()
        .unwrap();
        assert!(got == expected, "bytes arrive whole and in order");
        assert!(
            q.push_with(1, |_| {}, || Bytes::from_static(b"after"), false)
                .is_some(),
            "room again once written"
        );
        flusher.abort();
    }

    #[tokio::test]
    async fn corked_frames_wait_for_the_uncork_and_go_out_together() {
        let (server, client) = pair().await;
        let q = Queue::new(16, Arc::default());
        q.attach(server, |_| Bytes::new());
        assert_eq!(
            q.push_with(1, |_| {}, || Bytes::from_static(b"one;"), true),
            Some(true),
            "the first corked push asks for an uncork"
        );
        assert_eq!(
            q.push_with(1, |_| {}, || Bytes::from_static(b"two;"), true),
            Some(false)
        );
        // Uncorked pushes meanwhile keep their place behind the corked frames.
        assert_eq!(
            q.push_with(1, |_| {}, || Bytes::from_static(b"three;"), false),
            Some(false)
        );
        let mut buf = [0u8; 64];
        assert!(
            matches!(client.try_read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "nothing is written while corked"
        );
        q.uncork();
        let mut got = Vec::new();
        while got.len() < 14 {
            client.readable().await.unwrap();
            if let Ok(n) = client.try_read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert_eq!(got, b"one;two;three;");
    }

    #[tokio::test]
    async fn control_frames_count_in_the_bound() {
        let (server, _client) = pair().await;
        let q = Queue::new(64, Arc::default());
        q.attach(server, |_| Bytes::new());
        // The client never reads: once the kernel's buffers are full, pongs wait in the sink,
        // and no more than the queue's bound of them.
        let mut accepted = 0usize;
        while q.write_control(Bytes::from(vec![0x8a; 4096])) {
            accepted += 1;
            assert!(accepted < 1_000_000, "control frames are never refused");
        }
        let held = q.state.lock().held();
        assert_eq!(held, 64, "pongs waiting are bounded by the queue");
        assert!(
            q.push_with(1, |_| {}, || Bytes::from_static(b"x"), false)
                .is_none(),
            "data frames find the queue full too"
        );
    }
}
