//! The subscriber connection, one type over both modes: SUBSCRIBE on one connection to a
//! standalone Redis, or sharded SSUBSCRIBE through the cluster client (each shard carries only the
//! channels of the namespaces it holds, and its messages come back as RESP3 pushes). Above this
//! file the broker only subscribes, unsubscribes and reads messages; a lost connection (or a
//! reader that fell behind) ends the message stream, and the broker opens a new subscriber.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use redis::aio::{AsyncPushSender, PubSubSink, PubSubStream, SendError};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::{ClusterError, Redis};

/// Pushes a cluster subscriber may hold unread before it counts as fallen behind.
const PUSH_QUEUE: usize = 65_536;

/// Where the subscriptions are made.
pub enum Subscriber {
    Single(PubSubSink),
    Cluster(ClusterConnection),
}

impl Subscriber {
    pub async fn subscribe(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            Subscriber::Single(s) => s.subscribe(channel).await,
            Subscriber::Cluster(c) => c.ssubscribe(channel).await,
        }
    }

    pub async fn unsubscribe(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            Subscriber::Single(s) => s.unsubscribe(channel).await,
            Subscriber::Cluster(c) => c.sunsubscribe(channel).await,
        }
    }

    /// Pattern subscriptions exist on a standalone Redis only: sharded pub/sub has none.
    pub async fn psubscribe(&mut self, pattern: &str) -> redis::RedisResult<()> {
        match self {
            Subscriber::Single(s) => s.psubscribe(pattern).await,
            Subscriber::Cluster(_) => Err(patterns_unsupported()),
        }
    }

    pub async fn punsubscribe(&mut self, pattern: &str) -> redis::RedisResult<()> {
        match self {
            Subscriber::Single(s) => s.punsubscribe(pattern).await,
            Subscriber::Cluster(_) => Err(patterns_unsupported()),
        }
    }
}

fn patterns_unsupported() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "pattern subscriptions are not available in Redis Cluster mode",
    ))
}

/// One message read from the subscriber connection.
pub enum Incoming {
    Single(redis::Msg),
    /// (channel, payload) of a sharded message.
    Push(Vec<u8>, Vec<u8>),
}

impl Incoming {
    pub fn channel(&self) -> &str {
        match self {
            Incoming::Single(m) => m.get_channel_name(),
            Incoming::Push(c, _) => std::str::from_utf8(c).unwrap_or_default(),
        }
    }

    pub fn payload(&self) -> &[u8] {
        match self {
            Incoming::Single(m) => m.get_payload_bytes(),
            Incoming::Push(_, p) => p,
        }
    }
}

/// The messages of a subscriber connection, in the order each shard sent them.
pub enum Messages {
    Single(PubSubStream),
    Cluster {
        rx: mpsc::Receiver<PushInfo>,
        overflow: Arc<AtomicBool>,
        /// Keeps the cluster connection (and so its pushes) alive while messages are read.
        _conn: ClusterConnection,
    },
}

impl Messages {
    /// The next message; `None` when the connection was lost (or, in cluster mode, when one of
    /// the shards' connections broke or this reader fell behind): what follows must be caught up.
    pub async fn next(&mut self) -> Option<Incoming> {
        match self {
            Messages::Single(s) => s.next().await.map(Incoming::Single),
            Messages::Cluster { rx, overflow, .. } => loop {
                if overflow.load(Ordering::Acquire) {
                    return None;
                }
                let push = rx.recv().await?;
                match push.kind {
                    PushKind::Disconnection => return None,
                    PushKind::Message | PushKind::SMessage => {
                        if let [Value::BulkString(c), Value::BulkString(p)] = push.data.as_slice() {
                            return Some(Incoming::Push(c.clone(), p.clone()));
                        }
                    }
                    _ => {}
                }
            },
        }
    }
}

/// Hands the cluster connection's pushes to a bounded queue; when it is full the reader is told
/// to start over (and catch up) rather than the queue growing.
struct BoundedPushes {
    tx: mpsc::Sender<PushInfo>,
    overflow: Arc<AtomicBool>,
}

impl AsyncPushSender for BoundedPushes {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        match self.tx.try_send(info) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.store(true, Ordering::Release);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError),
        }
    }
}

impl Redis {
    /// Opens a new subscriber connection, with no subscriptions yet.
    pub async fn open_subscriber(&self) -> Result<(Subscriber, Messages), ClusterError> {
        let t = self.config.command_timeout;
        if self.config.cluster {
            let (tx, rx) = mpsc::channel(PUSH_QUEUE);
            let overflow = Arc::new(AtomicBool::new(false));
            let client = self
                .cluster_builder()
                .push_sender(BoundedPushes {
                    tx,
                    overflow: overflow.clone(),
                })
                .build()?;
            let conn = tokio::time::timeout(t, client.get_async_connection())
                .await
                .map_err(|_| ClusterError::Timeout(t))??;
            return Ok((
                Subscriber::Cluster(conn.clone()),
                Messages::Cluster {
                    rx,
                    overflow,
                    _conn: conn,
                },
            ));
        }
        let pubsub = tokio::time::timeout(t, self.client()?.get_async_pubsub())
            .await
            .map_err(|_| ClusterError::Timeout(t))??;
        let (sink, stream) = pubsub.split();
        Ok((Subscriber::Single(sink), Messages::Single(stream)))
    }
}
