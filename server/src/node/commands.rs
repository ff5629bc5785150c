//! What a core does as one node among others: ack references that name their node, acks routed
//! to the emitting node, commands from other nodes (membership changes, disconnects, client
//! events for a local handler), and requests spread over the nodes holding their connections.
//! Alone, every connection is local and each of these is the one-process behaviour.

use std::sync::Arc;

use herald_proto::v1::{Arg, DisconnectCommand, MembershipChange, link_response};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Node;
use crate::CoreError;
use crate::control::{self, Body, Command, Reply};
use crate::hub::LinkId;

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
                    // The backend's join is the room's authorization, also for a later recovery:
                    // granted before the connection is in the room (as a leave takes the grant
                    // away first), so that a session taken meanwhile never has the room without
                    // its grant.
                    let granted = self.grant_room(id, room, true).await;
                    let done = self.join_conn(id, room).await;
                    if done.is_err() && granted {
                        self.grant_room(id, room, false).await;
                    }
                    done
                } else {
                    self.leave_conn(id, room)
                        .await
                        .map(|left| left.then_some(0))
                };
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
}
