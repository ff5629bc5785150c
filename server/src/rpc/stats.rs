//! `Stats`: connections, users and rooms per namespace, and the core's peers.

use herald_proto::v1::{NamespaceStats, StatsResponse};

use super::Api;
use crate::CoreError;

fn n(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

impl Api {
    pub async fn stats(&self) -> Result<StatsResponse, CoreError> {
        let mut namespaces = Vec::with_capacity(self.config.namespaces.len());
        for ns in &self.config.namespaces {
            let c = self.presence.counts(ns).await?;
            namespaces.push(NamespaceStats {
                namespace: ns.clone(),
                connections: c.connections,
                users: c.users,
                rooms: c.rooms,
                events: c
                    .events
                    .unwrap_or_else(|| self.hub.metrics.namespace(ns).accepted()),
            });
        }
        namespaces.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        let peers = self
            .control
            .peers()
            .await
            .map_err(|e| CoreError::BrokerUnavailable(e.to_string()))?;
        // This node's own figures are current; the others' are as of their last heartbeat.
        let me = self.local_stats();
        let others = peers.iter();
        let (edges, subscribers, handlers) =
            others.fold((me.edges, me.subscribers, me.handlers), |(e, s, h), n| {
                (
                    e.saturating_add(n.edges),
                    s.saturating_add(n.subscribers),
                    h.saturating_add(n.handlers),
                )
            });
        Ok(StatsResponse {
            namespaces,
            edges,
            subscribers,
            handlers,
        })
    }

    /// This process's own counts.
    pub(crate) fn local_stats(&self) -> StatsResponse {
        let ix = self.hub.index.read();
        let mut namespaces: Vec<NamespaceStats> = self
            .config
            .namespaces
            .iter()
            .map(|ns| {
                let (c, u, r) = ix.counts(ns);
                NamespaceStats {
                    namespace: ns.clone(),
                    connections: n(c),
                    users: n(u),
                    rooms: n(r),
                    events: self.hub.metrics.namespace(ns).accepted(),
                }
            })
            .collect();
        namespaces.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        StatsResponse {
            namespaces,
            edges: n(self.hub.link_count()),
            subscribers: n(self.hub.subscriber_count()),
            handlers: n(self.handlers.count()),
        }
    }
}
