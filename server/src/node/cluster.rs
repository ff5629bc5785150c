//! What a core does as one node of a cluster: ack references that name their node, acks routed
//! to the emitting node, commands from other nodes (membership changes, disconnects, client
//! events for a local handler), the heartbeat that keeps the node registered, and the sweep that
//! notices dead nodes. Without a cluster each of these is the
//! one-process behaviour.

use std::sync::Arc;

use herald_index::Topic;
use herald_proto::v1::{Arg, DisconnectCommand, MembershipChange, link_response};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Node;
use crate::CoreError;
use crate::broker::SessionRecord;
use crate::cluster::registry::NodeInfo;
use crate::control::{self, Body, Command, Reply};
use crate::hub::LinkId;
use crate::presence::Changed;

/// Bits of an ack reference below its node id.
const ACK_NODE_SHIFT: u32 = 40;

/// Where a connection is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// On this core, through this edge link.
    Local(LinkId),
    /// On another node of the cluster.
    Node(u32),
}

impl Node {
    /// This core's node id (0 without a cluster).
    pub fn node(&self) -> u32 {
        self.control.node()
    }

    /// A fresh ack reference whose top bits name this node.
    pub fn new_ack_ref(&self) -> u64 {
        (u64::from(self.node()) << ACK_NODE_SHIFT)
            | (self.hub.next_id() & ((1 << ACK_NODE_SHIFT) - 1))
    }

    /// A client acked an event: to the waiter here, or to the node that emitted it.
    pub async fn route_ack(&self, ack_ref: u64, conn: &str, args: Vec<Arg>) {
        let node = u32::try_from(ack_ref >> ACK_NODE_SHIFT).unwrap_or(0);
        if node == 0 || node == self.node() {
            self.hub.client_ack(ack_ref, conn, args);
            return;
        }
        let body = Body::Ack {
            ack_ref,
            conn: conn.to_owned(),
            args: control::encode_args(&args),
        };
        if let Err(e) = self.control.tell(node, body).await {
            tracing::warn!(node, error = %e, "ack not passed to the emitting node");
        }
    }

    /// A write to the cluster's presence failed: the next heartbeat registers everything again.
    pub fn presence_dirty(&self) {
        if let Some(c) = &self.cluster {
            c.mark_dirty();
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
        if let Err(e) = self.control.reply(&cmd, reply).await {
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
                    self.leave_conn(id, room)
                        .await
                        .map(|left| left.then_some(0))
                };
                if join && done.is_ok() {
                    // The backend's join is the room's authorization, also for a later recovery.
                    self.grant_room(id, room, true).await;
                }
                match done {
                    Ok(Some(seq)) => {
                        any = true;
                        self.hub.send_to_link(
                            link,
                            link_response::Msg::Membership(MembershipChange {
                                namespace: ns.to_owned(),
                                connection_id: id.clone(),
                                user_id: String::new(),
                                room: room.clone(),
                                join,
                                seq,
                            }),
                        );
                    }
                    Ok(None) => any = true,
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
        for (node, conns) in by_node {
            match self
                .control
                .ask(node, remote(conns), self.config.handler_timeout)
                .await
            {
                Ok(r) => total += r.count,
                Err(e) => tracing::warn!(node, error = %e, "node did not apply a command"),
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
            let dirty = c.dirty.swap(false, std::sync::atomic::Ordering::AcqRel);
            match c.redis.refresh(&info, false).await {
                Ok(true) if !dirty => {}
                Ok(existed) => {
                    if existed {
                        tracing::warn!(
                            node = c.node,
                            "a write to the cluster's presence failed; registering this node's connections again"
                        );
                    } else {
                        tracing::warn!(
                            node = c.node,
                            "this node's registration had lapsed; registering its connections again"
                        );
                    }
                    if !self.reregister_all().await {
                        c.mark_dirty();
                    }
                }
                Err(e) => {
                    if dirty {
                        c.mark_dirty();
                    }
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
    /// dropped what it had registered) or a presence write failed: forgets what the cluster holds
    /// for this node and registers its connections, rooms and handlers again. Returns whether
    /// every write succeeded.
    async fn reregister_all(&self) -> bool {
        let Some(c) = &self.cluster else { return true };
        if let Err(e) = c.redis.drop_node(c.node).await {
            tracing::warn!(error = %e, "this node's old registrations not dropped");
            return false;
        }
        let _ = c.redis.drop_handlers_of(c.node).await;
        let mut ok = true;
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
            let session = self
                .sessions
                .lock()
                .get(&id)
                .map(|l| (l.pid.clone(), l.data_json.clone(), l.granted.clone()));
            let record = session.map(|(pid, data, granted)| {
                (
                    pid,
                    SessionRecord {
                        connection_id: id.clone(),
                        namespace: ns.clone(),
                        user_id: user.clone().unwrap_or_default(),
                        rooms: Vec::new(),
                        data_json: data,
                        expires_ms: crate::broker::LIVE_SESSION,
                        granted_rooms: granted,
                    },
                )
            });
            let session = record.as_ref().map(|(pid, rec)| (pid.as_str(), rec));
            if let Err(e) = self
                .presence
                .register(&ns, &id, user.as_deref(), 0, session, 0)
                .await
            {
                tracing::warn!(conn = %id, error = %e, "connection not registered again");
                ok = false;
                continue;
            }
            for room in rooms {
                let local = Changed {
                    user_transition: false,
                    seq: 0,
                };
                ok &= self
                    .presence
                    .membership(&ns, &id, &room, true, usize::MAX, local)
                    .await
                    .is_ok();
            }
            if let Some((_, rec)) = &record {
                ok &= self
                    .presence
                    .grant(&ns, &id, &rec.granted_rooms, true)
                    .await
                    .is_ok();
            }
        }
        for (ns, event, n) in self.handlers.keys() {
            ok &= self
                .control
                .count_handlers(&ns, &event, i64::try_from(n).unwrap_or(0))
                .await
                .is_ok();
        }
        ok
    }
}
