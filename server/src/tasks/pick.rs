//! Choosing a worker: the live worker on the queue with the most free
//! capacity, round-robin among equals, never above a worker's capacity.

use std::collections::HashMap;

/// What the picker needs to know of a worker.
#[derive(Debug, Clone)]
pub struct Slot {
    pub queues: Vec<String>,
    pub capacity: u32,
    pub busy: u32,
    /// When it was last given a task (a counter): lower goes first among equals.
    pub last_pick: u64,
}

impl Slot {
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.busy)
    }
}

/// Total free capacity on `queue`.
pub fn free_on<K>(slots: &HashMap<K, Slot>, queue: &str) -> u32 {
    slots
        .values()
        .filter(|s| s.queues.iter().any(|q| q == queue))
        .map(Slot::free)
        .sum()
}

/// The worker to give the next `queue` task to, if any has room.
pub fn pick<K: Clone>(slots: &HashMap<K, Slot>, queue: &str) -> Option<K> {
    slots
        .iter()
        .filter(|(_, s)| s.free() > 0 && s.queues.iter().any(|q| q == queue))
        .max_by(|(_, a), (_, b)| {
            a.free()
                .cmp(&b.free())
                .then_with(|| b.last_pick.cmp(&a.last_pick))
        })
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(queues: &[&str], capacity: u32) -> Slot {
        Slot {
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
            capacity,
            busy: 0,
            last_pick: 0,
        }
    }

    /// Simulates assigning `n` tasks, never completing any.
    fn assign(slots: &mut HashMap<&'static str, Slot>, queue: &str, n: usize) -> Vec<&'static str> {
        let mut out = Vec::new();
        for i in 0..n {
            let Some(k) = pick(slots, queue) else { break };
            let s = slots.get_mut(k).unwrap();
            s.busy += 1;
            s.last_pick = i as u64 + 1;
            out.push(k);
        }
        out
    }

    #[test]
    fn most_free_first_then_round_robin_and_never_over_capacity() {
        let mut slots = HashMap::new();
        slots.insert("a", slot(&["scrape"], 2));
        slots.insert("b", slot(&["scrape"], 2));
        slots.insert("c", slot(&["scrape"], 4));
        let got = assign(&mut slots, "scrape", 10);
        assert_eq!(got.len(), 8, "stops at total capacity");
        assert_eq!(&got[..2], ["c", "c"], "c has the most room");
        let count = |k| got.iter().filter(|x| **x == k).count();
        assert_eq!((count("a"), count("b"), count("c")), (2, 2, 4));
        assert_eq!(free_on(&slots, "scrape"), 0);
    }

    #[test]
    fn equals_rotate() {
        let mut slots = HashMap::new();
        slots.insert("a", slot(&["q"], 100));
        slots.insert("b", slot(&["q"], 100));
        slots.insert("c", slot(&["q"], 100));
        let got = assign(&mut slots, "q", 30);
        for k in ["a", "b", "c"] {
            assert_eq!(got.iter().filter(|x| **x == k).count(), 10);
        }
    }

    #[test]
    fn other_queues_and_full_workers_are_skipped() {
        let mut slots = HashMap::new();
        slots.insert("push", slot(&["push"], 5));
        let mut full = slot(&["scrape"], 1);
        full.busy = 1;
        slots.insert("full", full);
        assert_eq!(pick(&slots, "scrape"), None);
        assert_eq!(pick(&slots, "push"), Some("push"));
    }
}
