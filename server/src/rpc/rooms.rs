//! Room membership in the core: joins and leaves from clients (via the edge
//! link) and from backends (`Join` / `Leave`), with the per-connection room
//! limit and presence events; and the `Join` / `Leave` RPCs.

use herald_index::Removed;
use herald_proto::v1::{
    JoinRequest, JoinResponse, LeaveRequest, LeaveResponse, MembershipChange, link_response,
};

use super::{Api, validate};
use crate::CoreError;
use crate::hub::LinkId;

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

impl Api {
    /// Puts a connection in a room; `Ok(false)` if it already was.
    pub fn join_conn(&self, conn: &str, room: &str) -> Result<bool, String> {
        check_room(room).map_err(|e| e.to_string())?;
        let (ns, user, newly_present) = {
            let mut ix = self.hub.index.write();
            let c = ix
                .get(conn)
                .ok_or_else(|| format!("unknown connection {conn}"))?;
            if c.rooms.contains(room) {
                return Ok(false);
            }
            let ns = c.namespace.to_string();
            let user = c.user.as_deref().map(str::to_owned);
            let max = self.config.policy(&ns).max_rooms_per_connection;
            if c.rooms.len() >= max {
                return Err(format!("room limit reached ({max})"));
            }
            let present = user
                .as_deref()
                .is_some_and(|u| ix.user_in_room(&ns, u, room));
            ix.join(conn, room).map_err(|e| e.to_string())?;
            (ns, user, !present)
        };
        if let (Some(u), true) = (user, newly_present) {
            self.presence_event(&ns, room, &u, "join");
        }
        Ok(true)
    }

    /// Takes a connection out of a room; `Ok(false)` if it was not in it.
    pub fn leave_conn(&self, conn: &str, room: &str) -> Result<bool, String> {
        // Out of the room, out of the rooms a backend granted it.
        self.grant_room(conn, room, false);
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
        if let (Some(u), true) = (user, gone) {
            self.presence_event(&ns, room, &u, "leave");
        }
        Ok(true)
    }

    /// After a connection went away: presence for every room it left.
    pub fn conn_removed(&self, r: &Removed<LinkId>) {
        self.hub.ack_conn_gone(&r.conn.id);
        let Some(user) = r.conn.user.as_deref() else {
            return;
        };
        let ns = &*r.conn.namespace;
        let still: Vec<bool> = {
            let ix = self.hub.index.read();
            r.conn
                .rooms
                .iter()
                .map(|room| ix.user_in_room(ns, user, room))
                .collect()
        };
        for (room, present) in r.conn.rooms.iter().zip(still) {
            if !present {
                self.presence_event(ns, room, user, "leave");
            }
        }
    }

    /// Connections a Join/Leave/Disconnect request names, with their links.
    pub fn targets_of(
        &self,
        ns: &str,
        conn: &str,
        user: &str,
    ) -> Result<Vec<(String, LinkId)>, CoreError> {
        let ix = self.hub.index.read();
        match (conn.is_empty(), user.is_empty()) {
            (false, true) => Ok(ix
                .get(conn)
                .filter(|c| *c.namespace == *ns)
                .map(|c| vec![(c.id.to_string(), c.value)])
                .unwrap_or_default()),
            (true, false) => Ok(ix
                .user_connections(ns, user)
                .map(|c| (c.id.to_string(), c.value))
                .collect()),
            _ => Err(CoreError::InvalidArgument(
                "set exactly one of connection_id and user_id".into(),
            )),
        }
    }

    fn membership(
        &self,
        ns: &str,
        conn: &str,
        user: &str,
        rooms: &[String],
        join: bool,
    ) -> Result<u32, CoreError> {
        let ns = validate::namespace(&self.config, ns)?;
        if rooms.is_empty() {
            return Err(CoreError::InvalidArgument(
                "rooms: name at least one room".into(),
            ));
        }
        for r in rooms {
            check_room(r)?;
        }
        let conns = self.targets_of(&ns, conn, user)?;
        let mut changed = 0u32;
        for (id, link) in &conns {
            let mut any = false;
            for room in rooms {
                let done = if join {
                    self.join_conn(id, room)
                } else {
                    self.leave_conn(id, room)
                };
                if join && done.is_ok() {
                    // The backend's join is the room's authorization, also for a later recovery.
                    self.grant_room(id, room, true);
                }
                match done {
                    Ok(true) => {
                        any = true;
                        self.hub.send_to_link(
                            *link,
                            link_response::Msg::Membership(MembershipChange {
                                namespace: ns.clone(),
                                connection_id: id.clone(),
                                user_id: String::new(),
                                room: room.clone(),
                                join,
                            }),
                        );
                    }
                    Ok(false) => any = true,
                    Err(e) => {
                        tracing::debug!(conn = %id, room, error = %e, "server-side membership change refused")
                    }
                }
            }
            if any {
                changed += 1;
            }
        }
        Ok(changed)
    }

    pub fn join_rpc(&self, r: JoinRequest) -> Result<JoinResponse, CoreError> {
        let connections =
            self.membership(&r.namespace, &r.connection_id, &r.user_id, &r.rooms, true)?;
        Ok(JoinResponse { connections })
    }

    pub async fn leave_rpc(&self, r: LeaveRequest) -> Result<LeaveResponse, CoreError> {
        let connections =
            self.membership(&r.namespace, &r.connection_id, &r.user_id, &r.rooms, false)?;
        if !r.user_id.is_empty() {
            // A user who is away must not get the room back when their session is recovered.
            let ns = validate::namespace(&self.config, &r.namespace)?;
            for room in &r.rooms {
                self.broker
                    .leave_saved(&ns, &r.user_id, room)
                    .await
                    .map_err(|e| CoreError::BrokerUnavailable(e.to_string()))?;
            }
        }
        Ok(LeaveResponse { connections })
    }
}
