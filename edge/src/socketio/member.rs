//! A socket as the local index holds it: its Engine.IO session, its delivery floor (the highest
//! `Event.seq` handed to it: anything at or below is not delivered, so an event reaches a socket at
//! most once and never from before it registered) and the last recovery offset it received.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use herald_index::{Conn, Topic};

use crate::socketio::session::Session;

/// The join point of a join the core has not answered yet: nothing through that room passes.
const PENDING: u64 = u64::MAX;

/// One socket's entry in the local index.
#[derive(Debug)]
pub(crate) struct Member {
    pub session: Arc<Session>,
    /// Highest event sequence handed to the socket (relays, sequence 0, are not counted).
    floor: AtomicU64,
    /// Sequence part of the offset of the last recoverable event handed to it (0: none yet).
    offset: AtomicU64,
    /// Recent room joins with their point in the sequence (events to the room at or before it
    /// were not counted for the socket); dropped once the floor passed them.
    joins: parking_lot::Mutex<Vec<(Arc<str>, u64)>>,
    /// The newest join point recorded (0: none), so that most events skip the check.
    newest_join: AtomicU64,
}

impl Member {
    pub fn new(session: Arc<Session>) -> Arc<Self> {
        Arc::new(Member {
            session,
            floor: AtomicU64::new(0),
            offset: AtomicU64::new(0),
            joins: parking_lot::Mutex::new(Vec::new()),
            newest_join: AtomicU64::new(0),
        })
    }

    /// A join of `room` asked of the core: until it answers, no event passes through that room.
    pub fn joining(&self, room: &str) {
        self.record_join(room, PENDING);
    }

    /// The core applied a join of `room` at `seq` (0: unknown, no restriction).
    pub fn joined(&self, room: &str, seq: u64) {
        self.record_join(room, seq);
    }

    /// The room was left (or the join refused): its record goes.
    pub fn forget_join(&self, room: &str) {
        self.record_join(room, 0);
    }

    fn record_join(&self, room: &str, seq: u64) {
        let floor = self.floor();
        let mut joins = self.joins.lock();
        joins.retain(|(r, s)| &**r != room && *s > floor);
        if seq > floor {
            joins.push((Arc::from(room), seq));
        }
        let newest = joins.iter().map(|(_, s)| *s).max().unwrap_or(0);
        self.newest_join.store(newest, Ordering::Release);
    }

    /// Whether an event of sequence `seq` to `targets` reaches the socket `conn` through a
    /// membership older than the event: its user, its id, the namespace, or a room joined before
    /// the event was accepted. Only sockets with a recent join pay for the check.
    pub fn due(&self, seq: u64, conn: &Conn<Arc<Member>>, targets: &[Topic<'_>]) -> bool {
        if seq == 0 || seq > self.newest_join.load(Ordering::Acquire) {
            return true;
        }
        let joins = self.joins.lock();
        targets.iter().any(|t| match t {
            Topic::All => true,
            Topic::User(u) => conn.user.as_deref() == Some(*u),
            Topic::Conn(c) => *conn.id == **c,
            Topic::Room(r) => {
                conn.rooms.contains(*r)
                    && joins
                        .iter()
                        .find(|(x, _)| &**x == *r)
                        .is_none_or(|(_, at)| *at < seq)
            }
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

    fn session() -> Arc<Session> {
        Arc::new(Session::new(
            Arc::from("s"),
            4,
            herald_engine::Transport::Websocket,
            Arc::default(),
            crate::socketio::session::SioData::new(None),
        ))
    }

    #[test]
    fn floor_admits_each_sequence_once_and_in_order() {
        let session = session();
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

    #[test]
    fn a_room_passes_only_events_accepted_after_its_join() {
        let session = session();
        let mut ix = herald_index::Index::new();
        ix.insert("c", "/", Some("u"), Member::new(session))
            .unwrap();
        ix.join("c", "r").unwrap();
        let conn = ix.get("c").unwrap();
        let m = conn.value.clone();
        let room = [Topic::Room("r")];
        assert!(m.due(5, conn, &room), "no recent join: everything passes");
        m.joining("r");
        assert!(
            !m.due(5, conn, &room),
            "nothing through a room the core has not joined yet"
        );
        assert!(
            m.due(5, conn, &[Topic::User("u")]),
            "the user's events still pass"
        );
        m.joined("r", 7);
        assert!(
            !m.due(7, conn, &room),
            "accepted before the join: not counted, not delivered"
        );
        assert!(m.due(8, conn, &room));
        assert!(
            m.due(7, conn, &[Topic::Room("r"), Topic::All]),
            "another topic matches"
        );
        m.raise_floor(9);
        m.joined("other", 12);
        assert!(
            m.due(7, conn, &room),
            "the floor passed the join: its record is gone"
        );
    }
}
