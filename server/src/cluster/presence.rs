//! Cluster-wide presence in Redis: which connections exist (with their user, rooms and owning
//! node), written by the owning node, read by any; counts for Emit, Presence, Stats and the
//! per-user connection limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use herald_index::Conn;
use redis::AsyncCommands;

use super::{ClusterError, Redis};
use crate::broker::SessionRecord;
use crate::presence::{
    Changed, Counts, Departed, Presence, PresenceError, RegisterError, RoomPresence,
};

/// The presence of one node of a cluster.
pub struct RedisPresence {
    redis: Arc<Redis>,
    node: u32,
}

impl RedisPresence {
    pub fn new(redis: Arc<Redis>, node: u32) -> Self {
        Self { redis, node }
    }
}

impl Redis {
    /// Registers a connection of `node` (with its recovery session: pid and record, kept while it
    /// lives); returns the namespace's sequence at that moment.
    async fn register(
        &self,
        ns: &str,
        conn: &str,
        user: Option<&str>,
        node: u32,
        max_per_user: usize,
        session: Option<(&str, &SessionRecord)>,
    ) -> Result<u64, RegisterError> {
        let node = node.to_string();
        let max = max_per_user.min(1 << 31).to_string();
        let (pid, record) = match session {
            Some((pid, rec)) => (pid, serde_json::to_string(rec).unwrap_or_default()),
            None => ("", String::new()),
        };
        // Where a sweep of this node, if it dies, looks for its connections.
        let (index, nsname) = (self.key(&format!("nns:{node}")), ns.to_owned());
        self.run(|mut c| async move { c.sadd::<_, _, ()>(index, nsname).await })
            .await?;
        let r: Vec<i64> = self
            .script(
                &self.scripts.register,
                ns,
                &[
                    conn.as_bytes(),
                    user.unwrap_or_default().as_bytes(),
                    node.as_bytes(),
                    max.as_bytes(),
                    pid.as_bytes(),
                    record.as_bytes(),
                ],
            )
            .await?;
        match r.first().copied().unwrap_or(-3) {
            -1 => Err(RegisterError::UserLimit(max_per_user)),
            -2 => Err(RegisterError::Duplicate(conn.to_owned())),
            floor => Ok(u64::try_from(floor).unwrap_or(0)),
        }
    }

    /// Forgets a connection `node` registered, keeping its session for `keep` (zero: dropping
    /// it); `None` when it was not registered by `node` (or another node holds it now).
    async fn unregister(
        &self,
        ns: &str,
        conn: &str,
        node: u32,
        keep: Duration,
    ) -> Result<Option<Departed>, ClusterError> {
        let node = node.to_string();
        let keep = keep.as_millis().to_string();
        let r: Vec<redis::Value> = self
            .script(
                &self.scripts.unregister,
                ns,
                &[conn.as_bytes(), node.as_bytes(), keep.as_bytes()],
            )
            .await?;
        // {user went offline, rooms left...}; empty when the node did not hold the connection.
        if r.is_empty() {
            return Ok(None);
        }
        Ok(Some(Departed {
            rooms_left: r[1..]
                .iter()
                .filter_map(|v| redis::from_redis_value_ref::<String>(v).ok())
                .collect(),
        }))
    }

    /// Joins (`join`) or leaves a room for a registered connection.
    async fn membership(
        &self,
        ns: &str,
        conn: &str,
        room: &str,
        join: bool,
        max_rooms: usize,
    ) -> Result<Result<Changed, String>, ClusterError> {
        let max = max_rooms.min(1 << 31).to_string();
        let r: Vec<i64> = self
            .script(
                &self.scripts.membership,
                ns,
                &[
                    conn.as_bytes(),
                    room.as_bytes(),
                    if join { b"1" } else { b"0" },
                    max.as_bytes(),
                ],
            )
            .await?;
        Ok(match r.as_slice() {
            [-1] => Err(format!("unknown connection {conn}")),
            [-2] => Err(format!("room limit reached ({max_rooms})")),
            [_changed, u, seq] => Ok(Changed {
                user_transition: *u == 1,
                seq: u64::try_from(*seq).unwrap_or(0),
            }),
            _ => Err("unexpected answer from Redis".into()),
        })
    }

    /// Marks (or unmarks) rooms a backend joined a connection to, for its recovery.
    async fn grant(
        &self,
        ns: &str,
        conn: &str,
        rooms: &[String],
        granted: bool,
    ) -> Result<(), ClusterError> {
        if rooms.is_empty() {
            return Ok(());
        }
        let key = self.p(ns, &format!("cg:{conn}"));
        let rooms = rooms.to_vec();
        self.run(|mut c| async move {
            if granted {
                c.sadd::<_, _, ()>(key, rooms).await
            } else {
                c.srem::<_, _, ()>(key, rooms).await
            }
        })
        .await
    }

    fn p(&self, ns: &str, rest: &str) -> String {
        self.ns_key(ns, &format!("p:{rest}"))
    }

    /// Every connection of a user with its node.
    async fn user_conns(&self, ns: &str, user: &str) -> Result<Vec<(String, u32)>, ClusterError> {
        let set = self.p(ns, &format!("u:{user}"));
        let conns: Vec<String> = self
            .run(|mut c| async move { c.smembers(set).await })
            .await?;
        self.with_nodes(ns, conns).await
    }

    /// A connection's node, if it is registered in the namespace.
    async fn conn_node(&self, ns: &str, conn: &str) -> Result<Option<u32>, ClusterError> {
        let key = self.p(ns, &format!("c:{conn}"));
        let node: Option<u32> = self
            .run(|mut c| async move { c.hget(key, "node").await })
            .await?;
        Ok(node)
    }

    async fn with_nodes(
        &self,
        ns: &str,
        conns: Vec<String>,
    ) -> Result<Vec<(String, u32)>, ClusterError> {
        if conns.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for c in &conns {
            pipe.hget(self.p(ns, &format!("c:{c}")), "node");
        }
        let nodes: Vec<Option<u32>> = self
            .run(|mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        Ok(conns
            .into_iter()
            .zip(nodes)
            .filter_map(|(c, n)| n.map(|n| (c, n)))
            .collect())
    }

    /// Users in a room with their connection counts, and the room's connections.
    async fn room_presence(
        &self,
        ns: &str,
        room: &str,
    ) -> Result<(BTreeMap<String, u32>, u32), ClusterError> {
        let ru = self.p(ns, &format!("ru:{room}"));
        let rs = self.p(ns, &format!("r:{room}"));
        let (users, n): (BTreeMap<String, u32>, u32) = self
            .run(|mut c| async move {
                redis::pipe()
                    .hgetall(ru)
                    .scard(rs)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok((users, n))
    }

    /// Connection counts of users (0: offline).
    async fn user_counts(&self, ns: &str, users: &[String]) -> Result<Vec<u32>, ClusterError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.p(ns, "users");
        let users = users.to_vec();
        let counts: Vec<Option<u32>> = self
            .run(|mut c| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(users)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(counts.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Connections, users and rooms of a namespace, and the Emits it accepted, cluster-wide.
    async fn counts(&self, ns: &str) -> Result<(u32, u32, u32, u64), ClusterError> {
        let (all, users, rooms) = (self.p(ns, "all"), self.p(ns, "users"), self.p(ns, "rooms"));
        let events = self.ns_key(ns, "events");
        let (c, u, r, e): (u32, u32, u32, Option<u64>) = self
            .run(|mut c| async move {
                redis::pipe()
                    .scard(all)
                    .hlen(users)
                    .hlen(rooms)
                    .get(events)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok((c, u, r, e.unwrap_or(0)))
    }

    /// Whether `node` has any connection registered in the namespace.
    pub async fn holds_any(&self, ns: &str, node: u32) -> Result<bool, ClusterError> {
        let key = self.ns_key(ns, &format!("nconns:{node}"));
        self.run(|mut c| async move { c.exists(key).await }).await
    }

    /// Removes what a dead node registered; returns the (namespace, connection) it removed.
    pub async fn drop_node(&self, node: u32) -> Result<Vec<(String, String)>, ClusterError> {
        let index = self.key(&format!("nns:{node}"));
        let key = index.clone();
        let namespaces: Vec<String> = self
            .run(|mut c| async move { c.smembers(key).await })
            .await?;
        let node = node.to_string();
        let mut out = Vec::new();
        for ns in namespaces {
            let window = self
                .config
                .recovery_windows
                .iter()
                .find(|(n, _)| *n == ns)
                .map_or(120_000, |(_, w)| w.as_millis())
                .to_string();
            loop {
                let r: Vec<String> = self
                    .script(
                        &self.scripts.drop_node,
                        &ns,
                        &[node.as_bytes(), window.as_bytes()],
                    )
                    .await?;
                if r.is_empty() {
                    break;
                }
                out.extend(r.into_iter().map(|conn| (ns.clone(), conn)));
            }
        }
        self.run(|mut c| async move { c.del::<_, ()>(index).await })
            .await?;
        Ok(out)
    }
}

fn unavailable(e: ClusterError) -> PresenceError {
    PresenceError::Cluster(e)
}

impl Presence for RedisPresence {
    fn node(&self) -> u32 {
        self.node
    }

    fn keeps_sessions(&self) -> bool {
        true
    }

    fn register<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
        user: Option<&'a str>,
        max_per_user: usize,
        session: Option<(&'a str, &'a SessionRecord)>,
        _local_floor: u64,
    ) -> BoxFuture<'a, Result<u64, RegisterError>> {
        self.redis
            .register(ns, conn, user, self.node, max_per_user, session)
            .boxed()
    }

    fn unregister<'a>(
        &'a self,
        gone: &'a Conn<u64>,
        keep: Duration,
    ) -> BoxFuture<'a, Result<Option<Departed>, PresenceError>> {
        async move {
            self.redis
                .unregister(&gone.namespace, &gone.id, self.node, keep)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn membership<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
        room: &'a str,
        join: bool,
        max_rooms: usize,
        _local: Changed,
    ) -> BoxFuture<'a, Result<Result<Changed, String>, PresenceError>> {
        async move {
            self.redis
                .membership(ns, conn, room, join, max_rooms)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn grant<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
        rooms: &'a [String],
        granted: bool,
    ) -> BoxFuture<'a, Result<(), PresenceError>> {
        async move {
            self.redis
                .grant(ns, conn, rooms, granted)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn user_conns<'a>(
        &'a self,
        ns: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, u32)>, PresenceError>> {
        async move { self.redis.user_conns(ns, user).await.map_err(unavailable) }.boxed()
    }

    fn conn_node<'a>(
        &'a self,
        ns: &'a str,
        conn: &'a str,
    ) -> BoxFuture<'a, Result<Option<u32>, PresenceError>> {
        async move { self.redis.conn_node(ns, conn).await.map_err(unavailable) }.boxed()
    }

    fn room_presence<'a>(
        &'a self,
        ns: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<RoomPresence, PresenceError>> {
        async move {
            self.redis
                .room_presence(ns, room)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn user_counts<'a>(
        &'a self,
        ns: &'a str,
        users: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<u32>, PresenceError>> {
        async move { self.redis.user_counts(ns, users).await.map_err(unavailable) }.boxed()
    }

    fn counts<'a>(&'a self, ns: &'a str) -> BoxFuture<'a, Result<Counts, PresenceError>> {
        async move {
            let (connections, users, rooms, events) =
                self.redis.counts(ns).await.map_err(unavailable)?;
            Ok(Counts {
                connections,
                users,
                rooms,
                events: Some(events),
            })
        }
        .boxed()
    }
}
