//! `Stats`: connections, users and rooms per namespace, and the core's peers.

use herald_proto::v1::{NamespaceStats, StatsResponse};

use super::Api;

fn n(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

impl Api {
    pub fn stats(&self) -> StatsResponse {
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
