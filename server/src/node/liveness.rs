//! Liveness of a node of a cluster on Redis: the heartbeat that keeps its registration fresh,
//! the sweep that notices dead nodes (failing the acks their connections owed), and the
//! re-registration of everything this node holds after its registration lapsed or a presence
//! write failed.

use std::sync::Arc;

use herald_index::Topic;
use tokio_util::sync::CancellationToken;

use super::Node;
use crate::broker::SessionRecord;
use crate::cluster::registry::NodeInfo;
use crate::presence::Changed;

impl Node {
    /// A write to the cluster's presence failed: the next heartbeat registers everything again.
    pub fn presence_dirty(&self) {
        if let Some(c) = &self.cluster {
            c.mark_dirty();
        }
    }

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
            let dirty =
                c.dirty.swap(false, std::sync::atomic::Ordering::AcqRel) || self.shard_lost().await;
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

    /// In Redis Cluster, a shard may come back empty while the registry (on another shard) kept
    /// this node's record: whether a namespace where this node holds connections has none of
    /// them registered any more.
    async fn shard_lost(&self) -> bool {
        let Some(c) = &self.cluster else { return false };
        if !c.redis.config.cluster {
            return false;
        }
        let held: Vec<String> = {
            let ix = self.hub.index.read();
            ix.namespaces()
                .filter(|ns| ix.counts(ns).0 > 0)
                .map(str::to_owned)
                .collect()
        };
        for ns in held {
            if let Ok(false) = c.redis.holds_any(&ns, c.node).await {
                tracing::warn!(namespace = %ns, "the namespace's Redis shard lost this node's connections");
                return true;
            }
        }
        false
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
