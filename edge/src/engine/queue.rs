//! A session's bounded outbound queue: frames in order, at most `cap` of them, read by one
//! transport at a time. Nothing is allocated until the first frame, and a buffer grown by a burst
//! is given back once drained, so an idle session holds (almost) no queue memory.

use std::collections::VecDeque;

use tokio::sync::Notify;

use crate::engine::session::Outgoing;

/// Capacity (in frames) kept after the queue drains; a larger buffer is freed.
const KEEP_CAPACITY: usize = 16;

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Outgoing>,
    /// Someone waits for room (`wait_room`); the reader wakes them when it takes frames.
    want_room: bool,
}

/// The queue (see the module docs).
#[derive(Debug)]
pub(crate) struct Queue {
    state: parking_lot::Mutex<State>,
    cap: usize,
    /// Signalled when frames arrive in an empty queue.
    readable: Notify,
    /// Signalled when the reader took frames while someone waited for room.
    room: Notify,
    /// Held by the transport currently reading.
    reader: tokio::sync::Mutex<()>,
}

/// The right to read the queue (one transport at a time).
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    queue: &'a Queue,
    _held: tokio::sync::MutexGuard<'a, ()>,
}

impl Queue {
    pub fn new(cap: usize) -> Self {
        Queue {
            state: parking_lot::Mutex::new(State::default()),
            cap: cap.max(1),
            readable: Notify::new(),
            room: Notify::new(),
            reader: tokio::sync::Mutex::new(()),
        }
    }

    /// Appends `n` frames produced by `fill` if all of them fit; `false` (nothing appended) if not.
    pub fn push_with(&self, n: usize, fill: impl FnOnce(&mut VecDeque<Outgoing>)) -> bool {
        let was_empty = {
            let mut st = self.state.lock();
            if self.cap.saturating_sub(st.frames.len()) < n {
                return false;
            }
            let was_empty = st.frames.is_empty();
            fill(&mut st.frames);
            was_empty
        };
        // The reader only waits after seeing the queue empty, so waking it on the first frame suffices.
        if was_empty && n > 0 {
            self.readable.notify_one();
        }
        true
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
                if self.cap.saturating_sub(st.frames.len()) >= n {
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
        let q = Queue::new(3);
        assert!(q.push_with(2, |f| f.extend([text("a"), text("b")])));
        assert!(!q.push_with(2, |f| f.extend([text("c"), text("d")])));
        assert_eq!(q.len(), 2);
        assert!(q.push_with(1, |f| f.push_back(text("c"))));
        let mut r = q.try_reader().unwrap();
        assert!(q.try_reader().is_none(), "one reader at a time");
        let got: Vec<String> = std::iter::from_fn(|| r.try_recv()).map(as_text).collect();
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[test]
    fn a_drained_burst_gives_its_buffer_back() {
        let q = Queue::new(1024);
        for _ in 0..500 {
            assert!(q.push_with(1, |f| f.push_back(text("x"))));
        }
        let mut r = q.try_reader().unwrap();
        while r.try_recv().is_some() {}
        assert!(q.state.lock().frames.capacity() <= KEEP_CAPACITY);
    }

    #[tokio::test]
    async fn the_reader_wakes_on_the_first_frame() {
        let q = Arc::new(Queue::new(4));
        let q2 = q.clone();
        let reader = tokio::spawn(async move {
            let mut r = q2.reader().await;
            let a = as_text(r.recv().await);
            let b = as_text(r.recv().await);
            (a, b)
        });
        tokio::task::yield_now().await;
        assert!(q.push_with(1, |f| f.push_back(text("one"))));
        tokio::task::yield_now().await;
        assert!(q.push_with(1, |f| f.push_back(text("two"))));
        let got = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, ("one".to_owned(), "two".to_owned()));
    }

    #[tokio::test]
    async fn waiting_for_room_ends_when_the_reader_takes_frames() {
        let q = Arc::new(Queue::new(2));
        assert!(q.push_with(2, |f| f.extend([text("a"), text("b")])));
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
}
