//! The node registry: each core registers a random node id with a TTL and refreshes it; a node
//! whose registration lapsed is dead, and the survivors drop what it registered.

use std::collections::HashSet;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{ClusterError, Redis};
use crate::clock::now_ms;

/// What a node publishes about itself with each heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    pub node: u32,
    pub started_ms: i64,
    pub edges: u32,
    pub subscribers: u32,
    pub handlers: u32,
}

fn ttl_ms(r: &Redis) -> u64 {
    u64::try_from(r.config.node_ttl.as_millis()).unwrap_or(u64::MAX)
}

impl Redis {
    /// Claims a free node id (24 bits, so that it fits in the top of an ack reference).
    pub async fn claim_node_id(&self) -> Result<u32, ClusterError> {
        for _ in 0..16 {
            let id = rand::random_range(1..(1u32 << 24));
            let info = NodeInfo {
                node: id,
                started_ms: now_ms(),
                ..Default::default()
            };
            if self.refresh(&info, true).await? {
                return Ok(id);
            }
        }
        Err(ClusterError::Redis("no free node id after 16 tries".into()))
    }

    /// Writes the node's record with a fresh TTL. With `claim`, only if the id is free. Returns
    /// whether it was written; `Ok(false)` without `claim` means the record had lapsed meanwhile.
    pub async fn refresh(&self, info: &NodeInfo, claim: bool) -> Result<bool, ClusterError> {
        let key = self.key(&format!("node:{}", info.node));
        let nodes = self.key("nodes");
        let value = serde_json::to_string(info).unwrap_or_default();
        let ttl = ttl_ms(self);
        let id = info.node;
        self.run(|mut c| async move {
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(value).arg("PX").arg(ttl);
            if claim {
                set.arg("NX");
            } else {
                // GET tells whether the record was still there (it lapses if Redis was away).
                set.arg("GET");
            }
            let prev: Option<String> = set.query_async(&mut c).await?;
            let _: i64 = c.sadd(nodes, id).await?;
            // SET NX answers OK when it wrote and nil when the id is taken; SET GET answers the
            // previous record, nil when it had lapsed.
            Ok(prev.is_some())
        })
        .await
    }

    /// The records of every live node.
    pub async fn live_nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let nodes_key = self.key("nodes");
        let ids: Vec<u32> = self
            .run(|mut c| async move { c.smembers(nodes_key).await })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|i| self.key(&format!("node:{i}"))).collect();
        let values: Vec<Option<String>> = self
            .run(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await?;
        Ok(ids
            .into_iter()
            .zip(values)
            .map(|(id, v)| {
                v.and_then(|v| serde_json::from_str(&v).ok())
                    .unwrap_or(NodeInfo {
                        node: id,
                        started_ms: -1,
                        ..Default::default()
                    })
            })
            .collect())
    }

    /// Nodes listed in the registry whose record lapsed: dead. Drops their connections and
    /// handler registrations and takes them off the list; returns their ids.
    pub async fn sweep_dead(&self) -> Result<Vec<u32>, ClusterError> {
        let dead: Vec<u32> = self
            .live_nodes()
            .await?
            .into_iter()
            .filter(|n| n.started_ms < 0)
            .map(|n| n.node)
            .collect();
        for id in &dead {
            let dropped = self.drop_node(*id).await?;
            self.drop_handlers_of(*id).await?;
            let nodes_key = self.key("nodes");
            let id = *id;
            let _: i64 = self
                .run(|mut c| async move { c.srem(nodes_key, id).await })
                .await?;
            tracing::warn!(
                node = id,
                connections = dropped.len(),
                "cluster node stopped refreshing its registration; its connections were dropped"
            );
        }
        Ok(dead)
    }
}

/// The live node ids this node saw at its last sweep, to notice the ones that disappear.
#[derive(Debug, Default)]
pub struct Seen(parking_lot::Mutex<HashSet<u32>>);

impl Seen {
    /// Records the live set; returns the ids that were live before and are gone now.
    pub fn update(&self, live: impl IntoIterator<Item = u32>) -> Vec<u32> {
        let live: HashSet<u32> = live.into_iter().collect();
        let mut seen = self.0.lock();
        let gone = seen.difference(&live).copied().collect();
        *seen = live;
        gone
    }

    /// Live nodes at the last sweep.
    pub fn count(&self) -> usize {
        self.0.lock().len()
    }
}
