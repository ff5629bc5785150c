//! Commands between nodes over one Redis channel per node (`P:ctl:{node}`): client acks for the
//! emitting node, membership changes and disconnects of connections another node holds, client
//! events for a handler on another node; each request carries an id and its reply comes back on
//! the asker's channel, or the asker gives up after a timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use herald_proto::v1::{Arg, ClientEvent};
use parking_lot::Mutex;
use prost::Message as _;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::{ClusterError, Redis};

/// A message on a node's control channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Command {
    /// The sender, to reply to.
    pub from: u32,
    /// Non-zero when the sender waits for a reply.
    pub req: u64,
    pub body: Body,
}

/// What a command asks, or a reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Body {
    /// A client acked an event the receiving node emitted.
    Ack {
        ack_ref: u64,
        conn: String,
        args: Vec<String>,
    },
    /// Join or leave rooms for connections the receiving node holds.
    Membership {
        ns: String,
        conns: Vec<String>,
        rooms: Vec<String>,
        join: bool,
    },
    /// Disconnect connections the receiving node holds.
    Disconnect {
        ns: String,
        conns: Vec<String>,
        reason: String,
    },
    /// A client event for one of the receiving node's handlers.
    Handle { event: String, wants_reply: bool },
    /// The answer to a request.
    Reply(Reply),
}

/// A reply: a count (membership, disconnect), a handler's arguments, or an error.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Reply {
    pub count: u32,
    pub args: Vec<String>,
    pub error: String,
}

/// Arguments as they travel between nodes (each protobuf-encoded, base64).
pub fn encode_args(args: &[Arg]) -> Vec<String> {
    args.iter().map(|a| B64.encode(a.encode_to_vec())).collect()
}

pub fn decode_args(args: &[String]) -> Vec<Arg> {
    args.iter()
        .filter_map(|a| B64.decode(a).ok())
        .filter_map(|b| Arg::decode(b.as_slice()).ok())
        .collect()
}

pub fn encode_event(ev: &ClientEvent) -> String {
    B64.encode(ev.encode_to_vec())
}

pub fn decode_event(s: &str) -> Option<ClientEvent> {
    ClientEvent::decode(B64.decode(s).ok()?.as_slice()).ok()
}

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
    /// The control channel of a node.
    pub fn control_channel(&self, node: u32) -> String {
        self.key(&format!("ctl:{node}"))
    }

    async fn publish_command(&self, node: u32, cmd: &Command) -> Result<(), ClusterError> {
        let channel = self.control_channel(node);
        let payload = serde_json::to_vec(cmd).map_err(|e| ClusterError::Redis(e.to_string()))?;
        let _: i64 = self
            .run(|mut c| async move { c.publish(channel, payload).await })
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

#[cfg(test)]
mod tests {
    use super::*;
    use herald_proto::v1::arg;

    #[test]
    fn commands_and_args_round_trip() {
        let args = vec![
            Arg {
                value: Some(arg::Value::Json("{\"a\":1}".into())),
            },
            Arg {
                value: Some(arg::Value::Binary(vec![0, 255, 7].into())),
            },
        ];
        let cmd = Command {
            from: 7,
            req: 3,
            body: Body::Ack {
                ack_ref: 1 << 40,
                conn: "c1".into(),
                args: encode_args(&args),
            },
        };
        let back: Command = serde_json::from_slice(&serde_json::to_vec(&cmd).unwrap()).unwrap();
        assert_eq!(back, cmd);
        let Body::Ack { args: a, .. } = back.body else {
            unreachable!()
        };
        assert_eq!(decode_args(&a), args);
        assert!(decode_event("not base64 !").is_none());
    }
}
