//! Room membership: joins and leaves from clients (via the edge link) and from backends, with the
//! per-connection room limit and presence events; the connections a request names and where they
//! are held.

use herald_index::Removed;

use super::Node;
use super::commands::Holder;
use crate::CoreError;
use crate::control::Body;
use crate::hub::LinkId;
use crate::presence::Changed;

/// Longest room name.
const MAX_ROOM: usize = 256;

pub fn check_room(room: &str) -> Result<(), CoreError> {
    if room.is_empty() || room.len() > MAX_ROOM {
        return Err(CoreError::InvalidArgument(format!(
            "rooms: {room:?} must be 1 to {MAX_ROOM} bytes"
        )));
    }
    if room.contains('*') {
        return Err(CoreError::InvalidArgument(format!(
            "rooms: {room:?} contains '*', which only patterns may use"
        )));
    }
    Ok(())
}

impl Node {
    /// Puts a connection of this core in a room: `Ok(Some(seq))` with the join's point in the
    /// namespace's sequence (events to the room accepted up to it were not counted for the
    /// connection), `Ok(None)` if it already was a member. The room's events reach this core
    /// before the connection counts as a member anywhere.
    pub async fn join_conn(&self, conn: &str, room: &str) -> Result<Option<u64>, String> {
        check_room(room).map_err(|e| e.to_string())?;
        let (ns, user, max) = {
            let ix = self.hub.index.read();
            let c = ix
                .get(conn)
                .ok_or_else(|| format!("unknown connection {conn}"))?;
            if c.rooms.contains(room) {
                return Ok(None);
            }
            let ns = c.namespace.to_string();
            let max = self.config.policy(&ns).max_rooms_per_connection;
            if c.rooms.len() >= max {
                return Err(format!("room limit reached ({max})"));
            }
            (ns, c.user.as_deref().map(str::to_owned), max)
        };
        let topic = format!("room:{room}");
        self.broker
            .want(&ns, &topic)
            .await
            .map_err(|e| e.to_string())?;
        let joined = {
            let mut ix = self.hub.index.write();
            let present = user
                .as_deref()
                .is_some_and(|u| ix.user_in_room(&ns, u, room));
            // Under the write lock: no Emit is counted and sequenced meanwhile.
            ix.join(conn, room)
                .map(|j| j.then_some((!present, self.broker.current_seq())))
        };
        let (newly_present, seq) = match joined {
            Ok(Some(joined)) => joined,
            other => {
                self.broker.unwant(&ns, &topic).await;
                return other.map(|_| None).map_err(|e| e.to_string());
            }
        };
        let local = Changed {
            user_transition: newly_present,
            seq,
        };
        let (newly_present, seq) = match self
            .presence
            .membership(&ns, conn, room, true, max, local)
            .await
        {
            Ok(Ok(ch)) => (ch.user_transition, ch.seq),
            failed => {
                let _ = self.hub.index.write().leave(conn, room);
                self.broker.unwant(&ns, &topic).await;
                return Err(match failed {
                    Ok(Err(e)) => e,
                    Err(e) => e.to_string(),
                    Ok(Ok(_)) => unreachable!(),
                });
            }
        };
        if let (Some(u), true) = (user, newly_present) {
            self.presence_event(&ns, room, &u, "join");
        }
        Ok(Some(seq))
    }

    /// Takes a connection of this core out of a room; `Ok(false)` if it was not in it.
    pub async fn leave_conn(&self, conn: &str, room: &str) -> Result<bool, String> {
        // Out of the room, out of the rooms a backend granted it.
        self.grant_room(conn, room, false).await;
        let (ns, user, gone) = {
            let mut ix = self.hub.index.write();
            let left = ix.leave(conn, room).map_err(|e| e.to_string())?;
            if !left {
                return Ok(false);
            }
            let Some(c) = ix.get(conn) else {
                return Ok(true);
            };
            let ns = c.namespace.to_string();
            let user = c.user.as_deref().map(str::to_owned);
            let gone = user
                .as_deref()
                .is_some_and(|u| !ix.user_in_room(&ns, u, room));
            (ns, user, gone)
        };
        let local = Changed {
            user_transition: gone,
            seq: 0,
        };
        let gone = match self
            .presence
            .membership(&ns, conn, room, false, usize::MAX, local)
            .await
        {
            Ok(Ok(ch)) => ch.user_transition,
            Ok(Err(e)) => {
                tracing::debug!(conn, room, error = %e, "cluster presence had no such membership");
                false
            }
            Err(e) => {
                tracing::warn!(conn, room, error = %e, "leave not recorded in the cluster's presence");
                self.presence_dirty();
                false
            }
        };
        self.broker.unwant(&ns, &format!("room:{room}")).await;
        if let (Some(u), true) = (user, gone) {
            self.presence_event(&ns, room, &u, "leave");
        }
        Ok(true)
    }

    /// After a connection of this core went away: acks it owed, its registration in the
    /// cluster (with its session, kept for the recovery window when it is `recoverable`),
    /// presence for every room its user left, and the topics it needed.
    pub async fn conn_removed(&self, r: &Removed<LinkId>, recoverable: bool) {
        self.hub.ack_conn_gone(&r.conn.id);
        let ns = &*r.conn.namespace;
        let user = r.conn.user.as_deref();
        let keep = if recoverable {
            self.config.policy(ns).recovery_window
        } else {
            std::time::Duration::ZERO
        };
        let left: Vec<String> = match self.presence.unregister(&r.conn, keep).await {
            Ok(d) => d.map(|d| d.rooms_left).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(conn = %r.conn.id, error = %e, "connection not removed from the cluster's presence");
                self.presence_dirty();
                Vec::new()
            }
        };
        if let Some(u) = user {
            for room in &left {
                self.presence_event(ns, room, u, "leave");
            }
        }
        for topic in conn_topics(user, r.conn.rooms.iter().map(|x| &**x)) {
            self.broker.unwant(ns, &topic).await;
        }
    }

    /// Connections a Join/Leave/Disconnect request names, with where they are held.
    pub async fn targets_of(
        &self,
        ns: &str,
        conn: &str,
        user: &str,
    ) -> Result<Vec<(String, Holder)>, CoreError> {
        let local = |id: &str| {
            self.hub
                .index
                .read()
                .get(id)
                .filter(|c| *c.namespace == *ns)
                .map(|c| c.value)
        };
        match (conn.is_empty(), user.is_empty()) {
            (false, true) => Ok(match local(conn) {
                Some(l) => vec![(conn.to_owned(), Holder::Local(l))],
                None => self
                    .presence
                    .conn_node(ns, conn)
                    .await?
                    .map(|n| vec![(conn.to_owned(), Holder::Node(n))])
                    .unwrap_or_default(),
            }),
            (true, false) => Ok(self
                .presence
                .user_conns(ns, user)
                .await?
                .into_iter()
                .map(|(id, n)| (id, Holder::Node(n)))
                .collect()),
            _ => Err(CoreError::InvalidArgument(
                "set exactly one of connection_id and user_id".into(),
            )),
        }
    }

    /// Joins (`join`) or leaves rooms for a connection or every connection of a user, wherever
    /// they are held; returns how many are (now) in or out of the rooms.
    pub async fn membership(
        &self,
        ns: &str,
        conn: &str,
        user: &str,
        rooms: &[String],
        join: bool,
    ) -> Result<u32, CoreError> {
        let conns = self.targets_of(ns, conn, user).await?;
        self.on_holders(
            &conns,
            async |mine| self.apply_membership(ns, &mine, rooms, join).await,
            |conns| Body::Membership {
                ns: ns.to_owned(),
                conns,
                rooms: rooms.to_vec(),
                join,
            },
        )
        .await
    }
}

/// The topics a connection needs the events of: the namespace's, its user's and its rooms'.
pub fn conn_topics<'a>(user: Option<&str>, rooms: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut t = vec!["*".to_owned()];
    if let Some(u) = user {
        t.push(format!("user:{u}"));
    }
    t.extend(rooms.map(|r| format!("room:{r}")));
    t
}
