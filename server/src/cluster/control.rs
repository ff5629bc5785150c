//! Commands between nodes over one Redis channel per node (`P:ctl:{node}`): client acks for the
//! emitting node, membership changes and disconnects of connections another node holds, client
//! events for a handler on another node; each request carries an id and its reply comes back on
//! the asker's channel, or the asker gives up after a timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use redis::AsyncCommands;
use tokio::sync::oneshot;

use super::{ClusterError, Redis};
use crate::broker::RedisBroker;
use crate::control::{Body, Command, Control, ControlError, PeerStats, Reply};

/// The requests this node waits on.
#[derive(Default)]
pub struct Pending {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
}

impl Pending {
    /// A reply arrived: hands it to its waiter, if still waiting.
    pub fn resolve(&self, req: u64, reply: Reply) {
        if let Some(tx) = self.waiting.lock().remove(&req) {
            let _ = tx.send(reply);
        }
    }
}

impl Redis {
    /// The control channel of a node, with the node's own hash tag (in Redis Cluster the nodes'
    /// channels spread over the shards).
    pub fn control_channel(&self, node: u32) -> String {
        format!("{{{}:node:{node}}}:ctl", self.config.prefix)
    }

    async fn publish_command(&self, node: u32, cmd: &Command) -> Result<(), ClusterError> {
        let channel = self.control_channel(node);
        let payload = serde_json::to_vec(cmd).map_err(|e| ClusterError::Redis(e.to_string()))?;
        let publish = self.publish(&channel, &payload);
        let _: i64 = self
            .run(|mut c| async move { publish.query_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// Sends a command without waiting for an answer.
    pub async fn tell(&self, from: u32, node: u32, body: Body) -> Result<(), ClusterError> {
        self.publish_command(node, &Command { from, req: 0, body })
            .await
    }

    /// Sends a command and waits for its reply, at most `timeout`.
    pub async fn ask(
        &self,
        pending: &Pending,
        from: u32,
        node: u32,
        body: Body,
        timeout: Duration,
    ) -> Result<Reply, ClusterError> {
        let req = pending.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        pending.waiting.lock().insert(req, tx);
        let sent = self
            .publish_command(node, &Command { from, req, body })
            .await;
        let result = match sent {
            Ok(()) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(r)) => Ok(r),
                _ => Err(ClusterError::NoReply(node)),
            },
            Err(e) => Err(e),
        };
        pending.waiting.lock().remove(&req);
        result
    }

    /// Answers a request.
    pub async fn reply(&self, from: u32, to: &Command, reply: Reply) -> Result<(), ClusterError> {
        if to.req == 0 {
            return Ok(());
        }
        self.publish_command(
            to.from,
            &Command {
                from,
                req: to.req,
                body: Body::Reply(reply),
            },
        )
        .await
    }

    fn handler_key(&self, ns: &str, event: &str) -> String {
        self.key(&format!("h:{ns}\n{event}"))
    }

    /// Counts a node's handlers of `(ns, event)` up or down.
    pub async fn count_handler(
        &self,
        node: u32,
        ns: &str,
        event: &str,
        delta: i64,
    ) -> Result<(), ClusterError> {
        let key = self.handler_key(ns, event);
        let index = self.key(&format!("nh:{node}"));
        self.run(|mut c| async move {
            let n: i64 = c.hincr(&key, node, delta).await?;
            if n <= 0 {
                let _: i64 = c.hdel(&key, node).await?;
            }
            let _: i64 = c.sadd(index, key).await?;
            Ok(())
        })
        .await
    }

    /// Nodes with at least one handler of `(ns, event)`, sorted.
    pub async fn handler_nodes(&self, ns: &str, event: &str) -> Result<Vec<u32>, ClusterError> {
        let key = self.handler_key(ns, event);
        let m: HashMap<u32, i64> = self
            .run(|mut c| async move { c.hgetall(key).await })
            .await?;
        let mut v: Vec<u32> = m
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, _)| k)
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    /// Forgets every handler a dead node registered.
    pub async fn drop_handlers_of(&self, node: u32) -> Result<(), ClusterError> {
        let index = self.key(&format!("nh:{node}"));
        self.run(|mut c| async move {
            let keys: Vec<String> = c.smembers(&index).await?;
            for k in keys {
                let _: i64 = c.hdel(k, node).await?;
            }
            let _: i64 = c.del(index).await?;
            Ok(())
        })
        .await
    }
}

/// The control of one node of a cluster: its channel (read by the broker's subscriber
/// connection, which hands commands to the core and replies to their waiters), the handler
/// registry and the node registry.
pub struct RedisControl {
    redis: Arc<Redis>,
    node: u32,
    broker: Arc<RedisBroker>,
}

impl RedisControl {
    pub fn new(redis: Arc<Redis>, node: u32, broker: Arc<RedisBroker>) -> Self {
        Self {
            redis,
            node,
            broker,
        }
    }
}

impl Control for RedisControl {
    fn node(&self) -> u32 {
        self.node
    }

    fn alone(&self) -> bool {
        false
    }

    fn tell(&self, node: u32, body: Body) -> BoxFuture<'_, Result<(), ControlError>> {
        async move { Ok(self.redis.tell(self.node, node, body).await?) }.boxed()
    }

    fn ask(
        &self,
        node: u32,
        body: Body,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Reply, ControlError>> {
        async move {
            Ok(self
                .redis
                .ask(&self.broker.pending, self.node, node, body, timeout)
                .await?)
        }
        .boxed()
    }

    fn reply<'a>(
        &'a self,
        to: &'a Command,
        reply: Reply,
    ) -> BoxFuture<'a, Result<(), ControlError>> {
        async move { Ok(self.redis.reply(self.node, to, reply).await?) }.boxed()
    }

    fn count_handlers<'a>(
        &'a self,
        ns: &'a str,
        event: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, Result<(), ControlError>> {
        async move {
            Ok(self
                .redis
                .count_handler(self.node, ns, event, delta)
                .await?)
        }
        .boxed()
    }

    fn handler_nodes<'a>(
        &'a self,
        ns: &'a str,
        event: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u32>, ControlError>> {
        async move { Ok(self.redis.handler_nodes(ns, event).await?) }.boxed()
    }

    fn peers(&self) -> BoxFuture<'_, Result<Vec<PeerStats>, ControlError>> {
        async move {
            let nodes = self.redis.live_nodes().await?;
            Ok(nodes
                .into_iter()
                .filter(|n| n.started_ms >= 0 && n.node != self.node)
                .map(|n| PeerStats {
                    node: n.node,
                    edges: n.edges,
                    subscribers: n.subscribers,
                    handlers: n.handlers,
                })
                .collect())
        }
        .boxed()
    }
}
