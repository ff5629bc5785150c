//! One topic's recovery log: offsets that grow by one, an epoch, and the
//! recent recoverable events bounded by count and age.

use std::collections::VecDeque;
use std::sync::Arc;

use herald_proto::v1::Event;

/// How much a log keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_events: usize,
    pub max_age_ms: i64,
}

/// A stored event: its offset in this topic, its broker-wide sequence, when it came.
#[derive(Debug, Clone)]
pub struct Entry {
    pub offset: u64,
    pub seq: u64,
    pub at_ms: i64,
    pub event: Arc<Event>,
}

/// Why a log cannot answer from a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// The position is of another epoch (the log was lost and started again).
    Epoch,
    /// Events after the position were dropped from the window.
    Window,
}

impl Gap {
    pub fn reason(&self) -> &'static str {
        match self {
            Gap::Epoch => "epoch changed",
            Gap::Window => "outside the recovery window",
        }
    }
}

#[derive(Debug)]
pub struct TopicLog {
    pub epoch: String,
    /// Offset of the newest event (0: none yet).
    pub last: u64,
    /// Offset and sequence of the newest event dropped from the window (0: none).
    dropped_offset: u64,
    dropped_seq: u64,
    entries: VecDeque<Entry>,
    pub touched_ms: i64,
}

impl TopicLog {
    pub fn new(epoch: String, now_ms: i64) -> Self {
        Self {
            epoch,
            last: 0,
            dropped_offset: 0,
            dropped_seq: 0,
            entries: VecDeque::new(),
            touched_ms: now_ms,
        }
    }

    /// Appends an event; returns its offset.
    pub fn append(&mut self, seq: u64, event: Arc<Event>, now_ms: i64, limits: Limits) -> u64 {
        self.last += 1;
        self.entries.push_back(Entry {
            offset: self.last,
            seq,
            at_ms: now_ms,
            event,
        });
        self.touched_ms = now_ms;
        self.trim(now_ms, limits);
        self.last
    }

    /// Drops what is over the count or older than the age.
    pub fn trim(&mut self, now_ms: i64, limits: Limits) {
        while let Some(front) = self.entries.front() {
            let old = now_ms - front.at_ms > limits.max_age_ms;
            if self.entries.len() <= limits.max_events && !old {
                break;
            }
            if let Some(e) = self.entries.pop_front() {
                self.dropped_offset = e.offset;
                self.dropped_seq = e.seq;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries after `offset` of `epoch`, or why they cannot all be given.
    pub fn after_offset(
        &self,
        epoch: &str,
        offset: u64,
    ) -> Result<impl Iterator<Item = &Entry>, Gap> {
        if epoch != self.epoch || offset > self.last {
            return Err(Gap::Epoch);
        }
        if offset < self.dropped_offset {
            return Err(Gap::Window);
        }
        Ok(self.entries.iter().filter(move |e| e.offset > offset))
    }

    /// Entries with a broker sequence after `seq`, or `Window` if some were dropped.
    pub fn after_seq(&self, seq: u64) -> Result<impl Iterator<Item = &Entry>, Gap> {
        if seq < self.dropped_seq {
            return Err(Gap::Window);
        }
        Ok(self.entries.iter().filter(move |e| e.seq > seq))
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_events: 3,
        max_age_ms: 1000,
    };

    fn ev(n: u64) -> Arc<Event> {
        Arc::new(Event {
            id: n.to_string(),
            ..Default::default()
        })
    }

    #[test]
    fn offsets_grow_and_replay_after_a_position() {
        let mut log = TopicLog::new("e1".into(), 0);
        for n in 1..=3 {
            assert_eq!(log.append(n * 10, ev(n), 0, L), n);
        }
        let ids: Vec<_> = log
            .after_offset("e1", 1)
            .unwrap()
            .map(|e| e.offset)
            .collect();
        assert_eq!(ids, [2, 3]);
        assert_eq!(log.after_offset("e1", 3).unwrap().count(), 0);
        assert_eq!(log.after_offset("e2", 1).err(), Some(Gap::Epoch));
        assert_eq!(
            log.after_offset("e1", 9).err(),
            Some(Gap::Epoch),
            "from the future"
        );
    }

    #[test]
    fn window_by_count_and_age() {
        let mut log = TopicLog::new("e".into(), 0);
        for n in 1..=5 {
            log.append(n, ev(n), 0, L);
        }
        // 1 and 2 were dropped: position 1 misses event 2, position 2 misses nothing.
        assert_eq!(log.after_offset("e", 1).err(), Some(Gap::Window));
        assert_eq!(log.after_offset("e", 2).unwrap().count(), 3);
        assert_eq!(log.after_seq(1).err(), Some(Gap::Window));
        assert_eq!(log.after_seq(2).unwrap().count(), 3);
        log.trim(2000, L);
        assert!(log.is_empty());
        assert_eq!(log.after_offset("e", 4).err(), Some(Gap::Window));
        assert_eq!(
            log.after_offset("e", 5).unwrap().count(),
            0,
            "nothing missed"
        );
    }
}
