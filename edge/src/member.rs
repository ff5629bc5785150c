//! A socket as the local index holds it: its Engine.IO session, its delivery floor (the highest
//! `Event.seq` handed to it: anything at or below is not delivered, so an event reaches a socket at
//! most once and never from before it registered) and the last recovery offset it received.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::session::Session;

/// One socket's entry in the local index.
#[derive(Debug)]
pub(crate) struct Member {
    pub session: Arc<Session>,
    /// Highest event sequence handed to the socket (relays, sequence 0, are not counted).
    floor: AtomicU64,
    /// Sequence part of the offset of the last recoverable event handed to it (0: none yet).
    offset: AtomicU64,
}

impl Member {
    pub fn new(session: Arc<Session>) -> Arc<Self> {
        Arc::new(Member {
            session,
            floor: AtomicU64::new(0),
            offset: AtomicU64::new(0),
        })
    }

    /// Whether an event of sequence `seq` may go to the socket, raising the floor to it if so:
    /// only events above the floor pass; sequence 0 (relays) always does.
    pub fn admit(&self, seq: u64) -> bool {
        seq == 0 || self.floor.fetch_max(seq, Ordering::AcqRel) < seq
    }

    /// The highest event sequence handed to the socket.
    pub fn floor(&self) -> u64 {
        self.floor.load(Ordering::Acquire)
    }

    /// Raises the floor (the registration point, or the last replayed event).
    pub fn raise_floor(&self, seq: u64) {
        self.floor.fetch_max(seq, Ordering::AcqRel);
    }

    /// Notes that a recoverable event with this offset sequence was handed to the socket.
    pub fn note_offset(&self, offset_seq: u64) {
        self.offset.fetch_max(offset_seq, Ordering::AcqRel);
    }

    /// The offset sequence of the last recoverable event handed to the socket; 0 if none.
    pub fn last_offset(&self) -> u64 {
        self.offset.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_admits_each_sequence_once_and_in_order() {
        let session = Arc::new(Session::new(
            Arc::from("s"),
            4,
            None,
            crate::engine::session::Transport::Websocket,
            Arc::default(),
        ));
        let m = Member::new(session);
        m.raise_floor(10);
        assert!(!m.admit(9));
        assert!(!m.admit(10));
        assert!(m.admit(11));
        assert!(!m.admit(11), "once");
        assert!(m.admit(0) && m.admit(0), "relays always");
        assert!(m.admit(15));
        assert!(!m.admit(12), "never backwards");
        m.raise_floor(3);
        assert!(m.admit(16), "raising below the floor changes nothing");
    }
}
