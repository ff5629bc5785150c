//! Connection-state recovery in the core: a lost connection's session is saved
//! for the window; a returning client's edge looks it up, then resumes it under
//! the same connection id and gets the missed events to replay.

use std::sync::Arc;

use herald_index::{Conn, Removed, Topic};
use herald_proto::v1::{ConnectionOpened, Event, SavedSession, SessionLookup};

use super::Node;
use crate::broker::SessionRecord;
use crate::clock::now_ms;
use crate::hub::LinkId;

/// Most events replayed to one resumed connection.
const MAX_REPLAY: usize = 10_000;

/// Whether a stored event is addressed to this connection (targets minus exclusions).
fn addressed_to(ev: &Event, id: &str, user: Option<&str>, rooms: &[String]) -> bool {
    let matches = |t: &str| match Topic::parse(t) {
        Ok(Topic::All) => true,
        Ok(Topic::Conn(c)) => c == id,
        Ok(Topic::User(u)) => Some(u) == user,
        Ok(Topic::Room(r)) => rooms.iter().any(|x| x == r),
        Err(_) => false,
    };
    ev.targets.iter().any(|t| matches(t)) && !ev.except.iter().any(|t| matches(t))
}

/// The topics whose logs hold what a connection may have missed.
fn topics_of(id: &str, user: Option<&str>, rooms: &[String]) -> Vec<String> {
    let mut t = vec!["*".to_owned(), format!("conn:{id}")];
    if let Some(u) = user {
        t.push(format!("user:{u}"));
    }
    t.extend(rooms.iter().map(|r| format!("room:{r}")));
    t
}

/// The recovery identity of a live connection.
#[derive(Debug, Default)]
pub struct LiveSession {
    pub pid: String,
    pub data_json: String,
    /// Rooms a backend joined it to: kept through recovery without re-authorization.
    pub granted: Vec<String>,
}

impl Node {
    /// The session a cluster keeps for a live connection (rooms are read from its presence when
    /// it is taken), so that its client can recover even if this core dies.
    pub fn live_session(o: &ConnectionOpened, ns: &str) -> Option<SessionRecord> {
        (!o.pid.is_empty()).then(|| SessionRecord {
            connection_id: o.connection_id.clone(),
            namespace: ns.to_owned(),
            user_id: o.user_id.clone(),
            rooms: Vec::new(),
            data_json: o.data_json.clone(),
            expires_ms: crate::broker::LIVE_SESSION,
            granted_rooms: Vec::new(),
        })
    }

    /// Remembers the recovery identity of a new connection.
    pub fn track_session(&self, o: &ConnectionOpened) {
        if !o.pid.is_empty() {
            let live = LiveSession {
                pid: o.pid.clone(),
                data_json: o.data_json.clone(),
                granted: o.granted_rooms.clone(),
            };
            self.sessions.lock().insert(o.connection_id.clone(), live);
        }
    }

    /// Marks (or unmarks) `room` as joined by a backend for connection `conn`; in a cluster,
    /// where the session must survive this core, in Redis too. Returns whether that changed it.
    pub async fn grant_room(&self, conn: &str, room: &str, granted: bool) -> bool {
        let changed = match self.sessions.lock().get_mut(conn) {
            Some(live) => {
                let had = live.granted.iter().any(|r| r == room);
                live.granted.retain(|r| r != room);
                if granted {
                    live.granted.push(room.to_owned());
                }
                had != granted
            }
            None => false,
        };
        if changed {
            let ns = self
                .hub
                .index
                .read()
                .get(conn)
                .map(|x| x.namespace.to_string());
            if let Some(ns) = ns
                && let Err(e) = self
                    .presence
                    .grant(&ns, conn, std::slice::from_ref(&room.to_owned()), granted)
                    .await
            {
                tracing::warn!(conn, room, error = %e, "backend-joined room not recorded in the cluster");
            }
        }
        changed
    }

    /// A connection went away (after `conn_removed`); keep its session if it may come back. A
    /// presence that keeps sessions kept or dropped it already, as the connection left it.
    pub async fn save_session(&self, r: &Removed<LinkId>, recoverable: bool) {
        let Some(LiveSession {
            pid,
            data_json,
            mut granted,
        }) = self.sessions.lock().remove(&*r.conn.id)
        else {
            return;
        };
        if !recoverable || self.presence.keeps_sessions() {
            return;
        }
        let c: &Conn<LinkId> = &r.conn;
        let window = self.config.policy(&c.namespace).recovery_window;
        granted.retain(|g| c.rooms.contains(g.as_str()));
        let rec = SessionRecord {
            connection_id: c.id.to_string(),
            namespace: c.namespace.to_string(),
            user_id: c.user.as_deref().unwrap_or_default().to_owned(),
            rooms: c.rooms.iter().map(|r| r.to_string()).collect(),
            data_json,
            expires_ms: now_ms() + i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            granted_rooms: granted,
        };
        if let Err(e) = self.broker.save_session(pid, rec).await {
            tracing::warn!(error = %e, "session not saved for recovery");
        }
    }

    /// Finds a saved session of this user whose missed events can all be replayed.
    pub async fn lookup_session(&self, l: &SessionLookup) -> Result<SavedSession, String> {
        let ns = if l.namespace.is_empty() {
            "/"
        } else {
            &l.namespace
        };
        let rec = self
            .broker
            .take_session(ns, &l.pid)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("session not found")?;
        if rec.namespace != ns || rec.user_id != l.user_id {
            // Never another user's session; the pid is spent either way.
            return Err("session not found".into());
        }
        let user = (!rec.user_id.is_empty()).then_some(rec.user_id.as_str());
        let topics = topics_of(&rec.connection_id, user, &rec.rooms);
        self.broker
            .replay_offset(ns, &topics, &l.offset, MAX_REPLAY)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("not recoverable: {e}"))?;
        Ok(SavedSession {
            connection_id: rec.connection_id,
            rooms: rec.rooms,
            data_json: rec.data_json,
            granted_rooms: rec.granted_rooms,
        })
    }

    /// The events a resumed connection missed after `offset`, in order.
    pub async fn replay_for(
        &self,
        o: &ConnectionOpened,
        rooms: &[String],
    ) -> Result<Vec<Event>, String> {
        let ns = if o.namespace.is_empty() {
            "/"
        } else {
            &o.namespace
        };
        let user = (!o.user_id.is_empty()).then_some(o.user_id.as_str());
        let topics = topics_of(&o.connection_id, user, rooms);
        let events: Vec<Arc<Event>> = self
            .broker
            .replay_offset(ns, &topics, &o.resume_offset, MAX_REPLAY)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("not recoverable: {e}"))?;
        Ok(events
            .iter()
            .filter(|e| addressed_to(e, &o.connection_id, user, rooms))
            .map(|e| (**e).clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_apply_to_replay() {
        let ev = Event {
            targets: vec!["room:a".into(), "user:u".into()],
            except: vec!["conn:c1".into()],
            ..Default::default()
        };
        let rooms = vec!["a".to_owned()];
        assert!(!addressed_to(&ev, "c1", Some("u"), &rooms));
        assert!(addressed_to(&ev, "c2", Some("x"), &rooms));
        assert!(!addressed_to(&ev, "c2", Some("x"), &[]));
    }
}
