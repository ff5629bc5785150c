//! A bounded, time-limited memory of Emit responses by idempotency key.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use herald_proto::v1::EmitResponse;
use parking_lot::Mutex;

/// Responses by key, and keys in the order they came.
type Remembered = (
    HashMap<String, (Instant, EmitResponse)>,
    VecDeque<(Instant, String)>,
);

/// Remembers the response of each keyed Emit for `window`, at most `capacity` keys.
pub struct IdempotencyCache {
    window: Duration,
    capacity: usize,
    inner: Mutex<Remembered>,
}

impl IdempotencyCache {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, key: &str) -> Option<EmitResponse> {
        let mut g = self.inner.lock();
        self.expire(&mut g);
        g.0.get(key).map(|(_, r)| r.clone())
    }

    pub fn put(&self, key: &str, resp: &EmitResponse) {
        let mut g = self.inner.lock();
        self.expire(&mut g);
        while g.1.len() >= self.capacity {
            if let Some((_, k)) = g.1.pop_front() {
                g.0.remove(&k);
            }
        }
        let now = Instant::now();
        if g.0.insert(key.to_owned(), (now, resp.clone())).is_none() {
            g.1.push_back((now, key.to_owned()));
        }
    }

    fn expire(&self, g: &mut Remembered) {
        while let Some((t, _)) = g.1.front() {
            if t.elapsed() < self.window {
                break;
            }
            if let Some((_, k)) = g.1.pop_front() {
                g.0.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_window_and_capacity() {
        let c = IdempotencyCache::new(Duration::from_secs(60), 2);
        let r = |id: &str| EmitResponse {
            event_id: id.into(),
            ..Default::default()
        };
        c.put("a", &r("1"));
        c.put("b", &r("2"));
        assert_eq!(c.get("a").unwrap().event_id, "1");
        c.put("c", &r("3"));
        assert!(c.get("a").is_none(), "oldest key evicted at capacity");
        assert_eq!(c.get("c").unwrap().event_id, "3");
        let short = IdempotencyCache::new(Duration::ZERO, 2);
        short.put("a", &r("1"));
        assert!(short.get("a").is_none(), "expired");
    }
}
