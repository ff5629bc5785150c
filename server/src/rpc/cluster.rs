//! What a core does as one node of a cluster: ack references that name their node, acks routed
//! to the emitting node, commands from other nodes (membership changes, disconnects, client
//! events for a local handler), idempotency keys shared in Redis, the heartbeat that keeps the
//! node registered, and the sweep that notices dead nodes. Without a cluster each of these is the
//! one-process behaviour.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use herald_index::Topic;
use herald_proto::v1::{Arg, DisconnectCommand, EmitResponse, MembershipChange, link_response};
use prost::Message as _;
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Api;
use crate::CoreError;
use crate::cluster::control::{self, Body, Command, Reply};
use crate::cluster::registry::NodeInfo;
use crate::hub::LinkId;

/// Bits of an ack reference below its node id.
const ACK_NODE_SHIFT: u32 = 40;
/// Value of an idempotency key whose Emit is still under way.
const IN_FLIGHT: &str = "-";
/// How long a second Emit with the same key waits for the first one's answer.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(2);

/// Where a connection is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// On this core, through this edge link.
    Local(LinkId),
    /// On another node of the cluster.
    Node(u32),
}

/// An idempotency key's state for this Emit.
pub enum Claim {
    /// First use (or no key): emit, then store under the key, if any.
    Fresh(Option<String>),
    /// Already answered.
    Done(EmitResponse),
}

impl Api {
    /// This core's node id (0 without a cluster).
    pub fn node(&self) -> u32 {
        self.cluster.as_ref().map_or(0, |c| c.node)
    }

    /// A fresh ack reference whose top bits name this node.
    pub fn new_ack_ref(&self) -> u64 {
        (u64::from(self.node()) << ACK_NODE_SHIFT)
            | (self.hub.next_id() & ((1 << ACK_NODE_SHIFT) - 1))
    }

    /// A client acked an event: to the waiter here, or to the node that emitted it.
    pub async fn route_ack(&self, ack_ref: u64, conn: &str, args: Vec<Arg>) {
        let node = u32::try_from(ack_ref >> ACK_NODE_SHIFT).unwrap_or(0);
        match &self.cluster {
            Some(c) if node != 0 && node != c.node => {
                let body = Body::Ack {
                    ack_ref,
                    conn: conn.to_owned(),
                    args: control::encode_args(&args),
                };
                if let Err(e) = c.redis.tell(c.node, node, body).await {
                    tracing::warn!(node, error = %e, "ack not passed to the emitting node");
                }
            }
            _ => self.hub.client_ack(ack_ref, conn, args),
        }
    }

    // ---- idempotency ----

    pub async fn idempotency_claim(&self, key: &str) -> Result<Claim, CoreError> {
        if key.is_empty() {
            return Ok(Claim::Fresh(None));
        }
        let Some(c) = &self.cluster else {
            return Ok(match self.idempotency.get(key) {
                Some(r) => Claim::Done(r),
                None => Claim::Fresh(Some(key.to_owned())),
            });
        };
        let rkey = c.redis.key(&format!("idem:{key}"));
        let window = u64::try_from(self.config.idempotency_window.as_millis()).unwrap_or(u64::MAX);
        let deadline = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
        loop {
            let k = rkey.clone();
            let claimed: Option<String> = c
                .redis
                .run(|mut con| async move {
                    redis::cmd("SET")
                        .arg(&k)
                        .arg(IN_FLIGHT)
                        .arg("NX")
                        .arg("GET")
                        .arg("PX")
                        .arg(window)
                        .query_async(&mut con)
                        .await
                })
                .await
                .map_err(|e| CoreError::BrokerUnavailable(e.to_string()))?;
            match claimed.as_deref() {
                None => return Ok(Claim::Fresh(Some(key.to_owned()))),
                Some(IN_FLIGHT) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Some(IN_FLIGHT) => {
                    return Err(CoreError::Unavailable(format!(
                        "an Emit with idempotency key {key:?} is still under way; retry"
                    )));
                }
                Some(v) => {
                    let resp = B64
                        .decode(v)
                        .ok()
                        .and_then(|b| EmitResponse::decode(b.as_slice()).ok())
                        .unwrap_or_default();
                    return Ok(Claim::Done(resp));
                }
            }
        }
    }

    pub async fn idempotency_store(&self, key: &str, resp: &EmitResponse) {
        let Some(c) = &self.cluster else {
            self.idempotency.put(key, resp);
            return;
        };
        let rkey = c.redis.key(&format!("idem:{key}"));
        let value = B64.encode(resp.encode_to_vec());
        let window = u64::try_from(self.config.idempotency_window.as_millis()).unwrap_or(u64::MAX);
        if let Err(e) = c
            .redis
            .run(|mut con| async move { con.pset_ex::<_, _, ()>(rkey, value, window).await })
            .await
        {
            tracing::warn!(key, error = %e, "idempotency key not stored");
        }
    }

    pub async fn idempotency_release(&self, key: &str) {
        if let Some(c) = &self.cluster {
            let rkey = c.redis.key(&format!("idem:{key}"));
            let _ = c
                .redis
                .run(|mut con| async move { con.del::<_, ()>(rkey).await })
                .await;
        }
    }

    // ---- commands from other nodes ----

    /// Serves the commands other nodes send this one until `stop`.
    pub async fn run_control(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Command>,
        stop: CancellationToken,
    ) {
        loop {
            let cmd = tokio::select! {
                () = stop.cancelled() => break,
                c = rx.recv() => match c { Some(c) => c, None => break },
            };
            // Handler calls may take a while: each in its own task, bounded by the handler timeout.
            let api = self.clone();
            tokio::spawn(async move { api.on_command(cmd).await });
        }
    }

    async fn on_command(&self, cmd: Command) {
        let Some(c) = &self.cluster else { return };
        let reply = match &cmd.body {
            Body::Ack {
                ack_ref,
                conn,
                args,
            } => {
                self.hub
                    .client_ack(*ack_ref, conn, control::decode_args(args));
                return;
            }
            Body::Membership {
                ns,
                conns,
                rooms,
                join,
            } => Reply {
                count: self.apply_membership(ns, conns, rooms, *join).await,
                ..Default::default()
            },
            Body::Disconnect { ns, conns, reason } => Reply {
                count: self.disconnect_local(ns, conns, reason),
                ..Default::default()
            },
            Body::Handle { event, wants_reply } => match control::decode_event(event) {
                Some(ev) if *wants_reply => {
                    match self.handlers.call(ev, self.config.handler_timeout).await {
                        Ok(args) => Reply {
                            args: control::encode_args(&args),
                            ..Default::default()
                        },
                        Err(error) => Reply {
                            error,
                            ..Default::default()
                        },
                    }
                }
                Some(ev) => {
                    self.handlers.tell(ev);
                    return;
                }
                None => Reply {
                    error: "malformed client event".into(),
                    ..Default::default()
                },
            },
            Body::Reply(_) => return,
        };
        if let Err(e) = c.redis.reply(c.node, &cmd, reply).await {
            tracing::warn!(node = cmd.from, error = %e, "reply to a node not sent");
        }
    }

    /// Joins or leaves rooms for connections this core holds; tells their edges. Returns how many
    /// of them are (now) in or out of the rooms.
    pub async fn apply_membership(
        &self,
        ns: &str,
        conns: &[String],
        rooms: &[String],
        join: bool,
    ) -> u32 {
        let mut changed = 0u32;
        for id in conns {
            let Some(link) = self
                .hub
                .index
                .read()
                .get(id)
                .filter(|x| *x.namespace == *ns)
                .map(|x| x.value)
            else {
                continue;
            };
            let mut any = false;
            for room in rooms {
                let done = if join {
                    self.join_conn(id, room).await
                } else {
                    self.leave_conn(id, room).await
                };
                match done {
                    Ok(true) => {
                        any = true;
                        self.hub.send_to_link(
                            link,
                            link_response::Msg::Membership(MembershipChange {
                                namespace: ns.to_owned(),
                                connection_id: id.clone(),
                                user_id: String::new(),
                                room: room.clone(),
                                join,
                            }),
                        );
                    }
                    Ok(false) => any = true,
                    Err(e) => {
                        tracing::debug!(conn = %id, room, error = %e, "server-side membership change refused");
                    }
                }
            }
            if any {
                changed += 1;
            }
        }
        changed
    }

    /// Disconnects connections this core holds; returns how many it told.
    pub fn disconnect_local(&self, ns: &str, conns: &[String], reason: &str) -> u32 {
        let mut n = 0u32;
        for id in conns {
            let link = self
                .hub
                .index
                .read()
                .get(id)
                .filter(|x| *x.namespace == *ns)
                .map(|x| x.value);
            if let Some(link) = link {
                self.hub.send_to_link(
                    link,
                    link_response::Msg::Disconnect(DisconnectCommand {
                        namespace: ns.to_owned(),
                        connection_id: id.clone(),
                        user_id: String::new(),
                        reason: reason.to_owned(),
                    }),
                );
                n += 1;
            }
        }
        n
    }

    /// Runs `body` on the nodes holding `targets`: locally for this node's, by command for the
    /// others'. Returns the sum of the counts.
    pub async fn on_holders(
        &self,
        targets: &[(String, Holder)],
        local: impl AsyncFnOnce(Vec<String>) -> u32,
        remote: impl Fn(Vec<String>) -> Body,
    ) -> Result<u32, CoreError> {
        let mut mine = Vec::new();
        let mut by_node: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
        for (conn, h) in targets {
            match h {
                Holder::Local(_) => mine.push(conn.clone()),
                Holder::Node(n) if *n == self.node() => mine.push(conn.clone()),
                Holder::Node(n) => by_node.entry(*n).or_default().push(conn.clone()),
            }
        }
        let mut total = if mine.is_empty() {
            0
        } else {
            local(mine).await
        };
        if let Some(c) = &self.cluster {
            for (node, conns) in by_node {
                match c
                    .redis
                    .ask(
                        &c.broker.pending,
                        c.node,
                        node,
                        remote(conns),
                        self.config.handler_timeout,
                    )
                    .await
                {
                    Ok(r) => total += r.count,
                    Err(e) => tracing::warn!(node, error = %e, "node did not apply a command"),
                }
            }
        }
        Ok(total)
    }

    // ---- liveness ----

    /// Refreshes this node's registration and sweeps dead nodes, every heartbeat, until `stop`.
    pub async fn run_heartbeat(self: Arc<Self>, started_ms: i64, stop: CancellationToken) {
        let Some(c) = &self.cluster else { return };
        let mut tick = tokio::time::interval(c.redis.config.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let info = NodeInfo {
                node: c.node,
                started_ms,
                edges: u32::try_from(self.hub.link_count()).unwrap_or(u32::MAX),
                subscribers: u32::try_from(self.hub.subscriber_count()).unwrap_or(u32::MAX),
                handlers: u32::try_from(self.handlers.count()).unwrap_or(u32::MAX),
            };
            match c.redis.refresh(&info, false).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        node = c.node,
                        "this node's registration had lapsed; registering its connections again"
                    );
                    self.reregister_all().await;
                }
                Err(e) => {
                    tracing::warn!(url = %c.redis.config.url, error = %e, "heartbeat failed");
                    continue;
                }
            }
            match c.redis.sweep_dead().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "dead-node sweep failed"),
            }
            if let Ok(live) = c.redis.live_nodes().await {
                for gone in c
                    .seen
                    .update(live.iter().filter(|n| n.started_ms >= 0).map(|n| n.node))
                {
                    if gone != c.node {
                        self.hub.ack_node_gone(gone);
                    }
                }
            }
        }
    }

    /// After this node's registration lapsed (Redis was away longer than the TTL, and others
    /// dropped what it had registered): registers its connections, rooms and handlers again.
    async fn reregister_all(&self) {
        let Some(c) = &self.cluster else { return };
        let conns: Vec<(String, String, Option<String>, Vec<String>)> = {
            let ix = self.hub.index.read();
            let mut out = Vec::new();
            for ns in ix.namespaces() {
                ix.resolve(ns, &[Topic::All], &[], |x| {
                    out.push((
                        ns.to_owned(),
                        x.id.to_string(),
                        x.user.as_deref().map(str::to_owned),
                        x.rooms.iter().map(|r| r.to_string()).collect(),
                    ));
                });
            }
            out
        };
        for (ns, id, user, rooms) in conns {
            let _ = c.redis.unregister(&ns, &id).await;
            if let Err(e) = c.redis.register(&ns, &id, user.as_deref(), c.node, 0).await {
                tracing::warn!(conn = %id, error = %e, "connection not registered again");
                continue;
            }
            for room in rooms {
                let _ = c.redis.membership(&ns, &id, &room, true, usize::MAX).await;
            }
        }
        for (ns, event, n) in self.handlers.keys() {
            let _ = c
                .redis
                .count_handler(c.node, &ns, &event, i64::try_from(n).unwrap_or(0))
                .await;
        }
    }
}
