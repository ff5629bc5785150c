//! Saved Socket.IO sessions for connection-state recovery, by private id,
//! bounded in number and kept for the recovery window.

use std::collections::{HashMap, VecDeque};

/// What a lost connection leaves behind for its recovery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    pub connection_id: String,
    pub namespace: String,
    pub user_id: String,
    pub rooms: Vec<String>,
    pub data_json: String,
    pub expires_ms: i64,
}

/// Sessions by pid; the oldest go first when full.
#[derive(Debug)]
pub struct Sessions {
    by_pid: HashMap<String, SessionRecord>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Sessions {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_pid: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn save(&mut self, pid: String, rec: SessionRecord) {
        while self.by_pid.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.by_pid.remove(&old);
                }
                None => break,
            }
        }
        if self.by_pid.insert(pid.clone(), rec).is_none() {
            self.order.push_back(pid);
        }
    }

    pub fn take(&mut self, pid: &str, now_ms: i64) -> Option<SessionRecord> {
        let rec = self.by_pid.remove(pid)?;
        (rec.expires_ms > now_ms).then_some(rec)
    }

    pub fn leave(&mut self, ns: &str, user: &str, room: &str) {
        for rec in self.by_pid.values_mut() {
            if rec.namespace == ns && rec.user_id == user {
                rec.rooms.retain(|r| r != room);
            }
        }
    }

    pub fn expire(&mut self, now_ms: i64) {
        self.by_pid.retain(|_, r| r.expires_ms > now_ms);
        let live = &self.by_pid;
        self.order.retain(|p| live.contains_key(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(user: &str, expires_ms: i64) -> SessionRecord {
        SessionRecord {
            connection_id: "c".into(),
            namespace: "/".into(),
            user_id: user.into(),
            rooms: vec!["a".into(), "b".into()],
            data_json: String::new(),
            expires_ms,
        }
    }

    #[test]
    fn taken_once_expire_and_bounded() {
        let mut s = Sessions::new(2);
        s.save("p1".into(), rec("u", 100));
        assert!(s.take("p1", 200).is_none(), "expired");
        s.save("p1".into(), rec("u", 100));
        assert!(s.take("p1", 50).is_some());
        assert!(s.take("p1", 50).is_none(), "only once");
        s.save("a".into(), rec("u", 100));
        s.save("b".into(), rec("u", 100));
        s.save("c".into(), rec("u", 100));
        assert!(s.take("a", 0).is_none(), "oldest evicted");
        s.leave("/", "u", "a");
        assert_eq!(s.take("b", 0).unwrap().rooms, ["b"]);
    }
}
