//! A session's client packets that wait on the core (CONNECT, joins, leaves, relays with an ack),
//! handled one after another by a task of their own so the transport's reader keeps reading (pongs
//! included); packets behind a waiting one queue after it, so a session's packets keep their order.
//! The lane is bounded in packets and bytes; its task exists only while packets wait.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use herald_codec::event::Arg;
use herald_codec::socket::Packet;

use crate::socketio::session::Session;
use crate::socketio::state::Sio;

/// Most packets one session may have waiting.
pub(crate) const MAX_JOBS: usize = 64;

/// One client packet, decoded and checked, waiting its turn.
#[derive(Debug)]
pub(crate) enum Job {
    Connect(Packet),
    Disconnect(String),
    Event {
        ns: String,
        ack: Option<u64>,
        name: String,
        args: Vec<Arg>,
    },
    Ack {
        ns: String,
        id: u64,
        args: Vec<Arg>,
    },
}

/// The waiting packets of one session.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    state: parking_lot::Mutex<LaneState>,
}

#[derive(Debug, Default)]
struct LaneState {
    jobs: VecDeque<(Job, usize)>,
    bytes: usize,
    /// A task is handling the jobs.
    running: bool,
}

impl Lane {
    /// Whether nothing waits (a packet that does not wait on the core may then be handled at once).
    pub fn is_idle(&self) -> bool {
        let st = self.state.lock();
        !st.running && st.jobs.is_empty()
    }

    /// Queues `job` of `size` bytes; `Ok(true)`: no task runs the lane, the caller starts one.
    /// A full lane gives the job back.
    fn push(&self, job: Job, size: usize, max_bytes: usize) -> Result<bool, Job> {
        let mut st = self.state.lock();
        // A lone packet always fits (the transport bounded its size already).
        if !st.jobs.is_empty()
            && (st.jobs.len() >= MAX_JOBS || st.bytes.saturating_add(size) > max_bytes)
        {
            return Err(job);
        }
        st.jobs.push_back((job, size));
        st.bytes = st.bytes.saturating_add(size);
        let start = !st.running;
        st.running = true;
        Ok(start)
    }

    /// The next job, or `None` (and the lane is marked idle) when there is none.
    fn pop(&self) -> Option<Job> {
        let mut st = self.state.lock();
        match st.jobs.pop_front() {
            Some((job, size)) => {
                st.bytes = st.bytes.saturating_sub(size);
                Some(job)
            }
            None => {
                st.running = false;
                // An idle session holds no buffer: nearly every session queues one CONNECT and
                // then nothing for hours.
                st.jobs = VecDeque::new();
                None
            }
        }
    }

    /// Drops what waits (the session closed).
    fn clear(&self) {
        let mut st = self.state.lock();
        st.jobs = VecDeque::new();
        st.bytes = 0;
        st.running = false;
    }
}

/// Queues `job` behind the session's waiting packets and makes sure a task handles them; a full
/// lane gives the job back.
pub(crate) fn enqueue(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    job: Job,
    size: usize,
) -> Result<(), Job> {
    let max_bytes = usize::try_from(sio.engine.settings.max_payload)
        .unwrap_or(usize::MAX)
        .saturating_mul(2);
    if session.lane.push(job, size, max_bytes)? {
        sio.engine.tasks.spawn(drain(sio.clone(), session.clone()));
    }
    Ok(())
}

/// Handles the lane's jobs in order until none is left or the session closed.
async fn drain(sio: Arc<Sio>, session: Arc<Session>) {
    while let Some(job) = session.lane.pop() {
        if session.is_closed() {
            session.lane.clear();
            return;
        }
        Box::pin(super::run_job(&sio, &session, job)).await;
    }
}

/// The bytes a packet holds: its text and attachments.
pub(crate) fn size_of(text_len: usize, attachments: &[Bytes]) -> usize {
    attachments
        .iter()
        .fold(text_len, |n, b| n.saturating_add(b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect() -> Job {
        Job::Disconnect("/".into())
    }

    #[test]
    fn keeps_order_and_bounds() {
        let lane = Lane::default();
        assert_eq!(lane.push(connect(), 10, 100).ok(), Some(true));
        assert_eq!(
            lane.push(Job::Disconnect("/a".into()), 10, 100).ok(),
            Some(false)
        );
        // Over the byte bound behind a waiting job: given back.
        assert!(lane.push(connect(), 95, 100).is_err());
        assert!(matches!(lane.pop(), Some(Job::Disconnect(ns)) if ns == "/"));
        assert!(matches!(lane.pop(), Some(Job::Disconnect(ns)) if ns == "/a"));
        assert!(lane.pop().is_none());
        assert!(lane.is_idle());
    }

    #[test]
    fn an_idle_lane_holds_no_buffer() {
        let lane = Lane::default();
        for _ in 0..3 {
            lane.push(connect(), 10, 100).unwrap();
        }
        while lane.pop().is_some() {}
        assert_eq!(lane.state.lock().jobs.capacity(), 0);
        lane.push(connect(), 10, 100).unwrap();
        lane.clear();
        assert_eq!(lane.state.lock().jobs.capacity(), 0);
    }
}
