//! Presence in one process: the local index holds every connection there is, so changes have
//! nothing more to record and queries read the index.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use herald_index::Conn;

use super::{
    Changed, Counts, Departed, Presence, PresenceError, RegisterError, RoomPresence, SharedIndex,
};
use crate::broker::SessionRecord;

fn n(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// Presence of a core that runs alone.
pub struct MemoryPresence {
    index: SharedIndex,
}

impl MemoryPresence {
    /// Presence read from `index`, the one the hub keeps.
    pub fn new(index: SharedIndex) -> Self {
        Self { index }
    }
}

impl Presence for MemoryPresence {
    fn node(&self) -> u32 {
        0
    }

    fn keeps_sessions(&self) -> bool {
        false
    }

    fn register<'a>(
        &'a self,
        _ns: &'a str,
        _conn: &'a str,
        _user: Option<&'a str>,
        _max_per_user: usize,
        _session: Option<(&'a str, &'a SessionRecord)>,
        local_floor: u64,
    ) -> BoxFuture<'a, Result<u64, RegisterError>> {
        futures::future::ready(Ok(local_floor)).boxed()
    }

    fn unregister<'a>(
        &'a self,
        gone: &'a Conn<u64>,
        _keep: Duration,
    ) -> BoxFuture<'a, Result<Option<Departed>, PresenceError>> {
        let rooms_left = match gone.user.as_deref() {
            None => Vec::new(),
            Some(u) => {
                let ix = self.index.read();
                gone.rooms
                    .iter()
                    .filter(|room| !ix.user_in_room(&gone.namespace, u, room))
                    .map(|room| room.to_string())
                    .collect()
            }
        };
        futures::future::ready(Ok(Some(Departed { rooms_left }))).boxed()
    }

    fn membership<'a>(
        &'a self,
        _ns: &'a str,
        _conn: &'a str,
        _room: &'a str,
        _join: bool,
        _max_rooms: usize,
        local: Changed,
    ) -> BoxFuture<'a, Result<Result<Changed, String>, PresenceError>> {
        futures::future::ready(Ok(Ok(local))).boxed()
    }

    fn grant<'a>(
        &'a self,
        _ns: &'a str,
        _conn: &'a str,
        _rooms: &'a [String],
        _granted: bool,
    ) -> BoxFuture<'a, Result<(), PresenceError>> {
        // The process keeps its live sessions itself; nothing outlives it.
        futures::future::ready(Ok(())).boxed()
    }

    fn user_conns<'a>(
        &'a self,
        ns: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, u32)>, PresenceError>> {
        let conns = self
            .index
            .read()
            .user_connections(ns, user)
            .map(|c| (c.id.to_string(), 0))
            .collect();
        futures::future::ready(Ok(conns)).boxed()
    }

    fn conn_node<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
    ) -> BoxFuture<'a, Result<Option<u32>, PresenceError>> {
        let held = self
            .index
            .read()
            .get(conn)
            .is_some_and(|c| *c.namespace == *ns);
        futures::future::ready(Ok(held.then_some(0))).boxed()
    }

    fn room_presence<'a>(
        &'a self,
        ns: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<RoomPresence, PresenceError>> {
        let ix = self.index.read();
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let mut connections = 0u32;
        for c in ix.room_members(ns, room) {
            connections += 1;
            if let Some(u) = &c.user {
                *counts.entry(u.to_string()).or_default() += 1;
            }
        }
        drop(ix);
        futures::future::ready(Ok((counts, connections))).boxed()
    }

    fn user_counts<'a>(
        &'a self,
        ns: &'a str,
        users: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<u32>, PresenceError>> {
        let ix = self.index.read();
        let counts = users
            .iter()
            .map(|u| n(ix.user_connections(ns, u).count()))
            .collect();
        drop(ix);
        futures::future::ready(Ok(counts)).boxed()
    }

    fn counts<'a>(&'a self, ns: &'a str) -> BoxFuture<'a, Result<Counts, PresenceError>> {
        let (c, u, r) = self.index.read().counts(ns);
        futures::future::ready(Ok(Counts {
            connections: n(c),
            users: n(u),
            rooms: n(r),
            events: None,
        }))
        .boxed()
    }
}
