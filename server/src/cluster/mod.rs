//! Several cores on one Redis (a standalone server, or a Redis Cluster with `broker.cluster`): the
//! node's identity and its Redis connections, the presence of every connection cluster-wide,
//! commands between nodes, and the registry that tells live nodes from dead ones. The broker half
//! (live events, logs, sessions) is `broker::RedisBroker`.

pub mod conn;
pub mod control;
pub mod presence;
pub mod registry;
pub mod scripts;
pub mod stats;
pub mod subscriber;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use conn::RedisConn;

/// How a core joins a cluster (`[broker]` in the config file).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://host:port[/db]`; in cluster mode one or more seed nodes, comma-separated.
    pub url: String,
    /// Redis Cluster mode: the cluster client, keys spread by namespace, sharded pub/sub.
    pub cluster: bool,
    /// Prefix of every key and channel, so that several clusters can share one Redis.
    pub prefix: String,
    /// How often a node refreshes its registration.
    pub heartbeat: Duration,
    /// How long a node that stopped refreshing counts as alive.
    pub node_ttl: Duration,
    /// Longest wait for one Redis command before the caller gets UNAVAILABLE.
    pub command_timeout: Duration,
    /// Each namespace's recovery window: how long the sessions of a dead node's connections are
    /// kept for their clients to come back elsewhere.
    pub recovery_windows: Vec<(String, Duration)>,
}

impl ClusterConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            prefix: "herald".into(),
            heartbeat: Duration::from_millis(1000),
            node_ttl: Duration::from_millis(5000),
            command_timeout: Duration::from_millis(2000),
            recovery_windows: Vec::new(),
        }
    }
}

/// Why a cluster operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    #[error("broker.url: Redis at {url} is unreachable: {cause}")]
    Connect { url: String, cause: String },
    #[error("broker.url: Redis at {url} cannot be used: {why}")]
    Unsupported { url: String, why: String },
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis error: {0}")]
    Redis(String),
    #[error("node {0} did not answer")]
    NoReply(u32),
}

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        ClusterError::Redis(e.to_string())
    }
}

/// This node in the cluster: its id, its command connection and the scripts.
pub struct Redis {
    pub config: ClusterConfig,
    /// The standalone server's client (`None` in cluster mode).
    client: Option<redis::Client>,
    pub conn: RedisConn,
    pub scripts: scripts::Scripts,
    pub stats: stats::RedisStats,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.config.url)
            .finish()
    }
}

impl Redis {
    /// Connects, failing fast (and naming the URL) when Redis is not there, or is not of the mode
    /// `broker.cluster` says.
    pub async fn connect(config: ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let err = |cause: String| ClusterError::Connect {
            url: config.url.clone(),
            cause,
        };
        let t = config.command_timeout;
        let url = config.url.clone();
        let unsupported = |why: &str| ClusterError::Unsupported {
            url: url.clone(),
            why: why.into(),
        };
        if config.cluster {
            // A standalone server would fail the cluster client with an obscure error: ask first.
            let seed = seeds(&config.url).next().unwrap_or_default().to_owned();
            let probe = redis::Client::open(seed).map_err(|e| err(e.to_string()))?;
            let mut c = tokio::time::timeout(t, probe.get_multiplexed_async_connection())
                .await
                .map_err(|_| err(format!("no answer within {t:?}")))?
                .map_err(|e| err(e.to_string()))?;
            if matches!(cluster_enabled(&mut c).await, Some(false)) {
                return Err(unsupported(
                    "broker.cluster = true but it is a standalone Redis, not a Redis Cluster \
                     node: set broker.cluster = false, or point broker.url at the cluster's nodes",
                ));
            }
            let builder = cluster_builder(&config);
            let client = builder.build().map_err(|e| err(e.to_string()))?;
            let conn = tokio::time::timeout(t, client.get_async_connection())
                .await
                .map_err(|_| err(format!("no answer within {t:?}")))?
                .map_err(|e| err(e.to_string()))?;
            return Ok(Arc::new(Self::with(config, None, RedisConn::Cluster(conn))));
        }
        let client = redis::Client::open(config.url.as_str()).map_err(|e| err(e.to_string()))?;
        let mc = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(t))
            .set_response_timeout(Some(t))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn: ConnectionManager =
            tokio::time::timeout(t, client.get_connection_manager_with_config(mc))
                .await
                .map_err(|_| err(format!("no answer within {t:?}")))?
                .map_err(|e| err(e.to_string()))?;
        let redis = Arc::new(Self::with(config, Some(client), RedisConn::Single(conn)));
        if redis.is_cluster_node().await {
            return Err(unsupported(
                "it runs in Redis Cluster mode: set broker.cluster = true (and list one or more of \
                 its nodes in broker.url, comma-separated)",
            ));
        }
        Ok(redis)
    }

    fn with(config: ClusterConfig, client: Option<redis::Client>, conn: RedisConn) -> Self {
        Self {
            config,
            client,
            conn,
            scripts: scripts::Scripts::default(),
            stats: stats::RedisStats::default(),
        }
    }

    /// The standalone server's client, for its subscriber connection.
    fn client(&self) -> Result<&redis::Client, ClusterError> {
        self.client
            .as_ref()
            .ok_or_else(|| ClusterError::Redis("no standalone client in cluster mode".into()))
    }

    /// A cluster client builder for the configured seeds (RESP3, for sharded pub/sub pushes).
    fn cluster_builder(&self) -> redis::cluster::ClusterClientBuilder {
        cluster_builder(&self.config)
    }

    /// Whether Redis says it is a Redis Cluster node (`INFO cluster`); a server that does not
    /// answer INFO (some managed services rename it) is taken as standalone.
    async fn is_cluster_node(&self) -> bool {
        let t = self.config.command_timeout;
        let mut c = self.conn.clone();
        matches!(
            tokio::time::timeout(t, cluster_enabled(&mut c)).await,
            Ok(Some(true))
        )
    }

    /// Whether Redis answers a PING within the command timeout.
    pub async fn ping(&self) -> Result<(), ClusterError> {
        self.run(|mut c| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    /// A node-level key under the prefix (registry, handlers, the cluster's epoch): all share
    /// the hash tag `{P}`, so that one command may read several of them in Redis Cluster.
    pub fn key(&self, rest: &str) -> String {
        format!("{{{}}}:{rest}", self.config.prefix)
    }

    /// The hash-tagged base of a namespace's keys and channels, `{P:ns}`: every key and channel
    /// of the namespace starts with it, so they share one slot (see `scripts.rs`).
    pub fn ns_base(&self, ns: &str) -> String {
        format!("{{{}:{ns}}}", self.config.prefix)
    }

    /// A key or channel of a namespace: `{P:ns}:rest`.
    pub fn ns_key(&self, ns: &str, rest: &str) -> String {
        format!("{{{}:{ns}}}:{rest}", self.config.prefix)
    }

    /// Where a namespace's epoch lives: the cluster's one epoch on a standalone Redis (so every
    /// namespace shares it), the namespace's own in Redis Cluster (a script touches one slot).
    pub fn epoch_key(&self, ns: &str) -> String {
        if self.config.cluster {
            self.ns_key(ns, "epoch")
        } else {
            self.key("epoch")
        }
    }

    /// The publish command of the mode: PUBLISH, or SPUBLISH (sharded) in Redis Cluster.
    pub fn publish_cmd(&self) -> &'static str {
        if self.config.cluster {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    /// Publishes one message with the mode's command.
    pub fn publish(&self, channel: &str, payload: &[u8]) -> redis::Cmd {
        let mut c = redis::cmd(self.publish_cmd());
        c.arg(channel).arg(payload);
        c
    }

    /// Runs one command with the command timeout.
    pub async fn run<T, F>(&self, f: impl FnOnce(RedisConn) -> F) -> Result<T, ClusterError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let t = self.config.command_timeout;
        let started = std::time::Instant::now();
        let (outcome, r) = match tokio::time::timeout(t, f(self.conn.clone())).await {
            Ok(Ok(v)) => (stats::Outcome::Ok, Ok(v)),
            Ok(Err(e)) => (stats::Outcome::Error, Err(ClusterError::from(e))),
            Err(_) => (stats::Outcome::Timeout, Err(ClusterError::Timeout(t))),
        };
        self.stats.command(outcome, started.elapsed());
        r
    }

    /// Invokes a script of namespace `ns` with `KEYS = [{P:ns}, epoch key]` and
    /// `ARGV = [publish command, ns, args...]`; in Redis Cluster the first key routes it to the
    /// namespace's shard.
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        ns: &str,
        args: &[&[u8]],
    ) -> Result<T, ClusterError> {
        let mut inv = script.prepare_invoke();
        inv.key(self.ns_base(ns)).key(self.epoch_key(ns));
        inv.arg(self.publish_cmd()).arg(ns.as_bytes());
        for a in args {
            inv.arg(*a);
        }
        self.run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }
}

/// The seed URLs of `broker.url` (comma-separated in cluster mode).
pub fn seeds(url: &str) -> impl Iterator<Item = &str> {
    url.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn cluster_builder(config: &ClusterConfig) -> redis::cluster::ClusterClientBuilder {
    let t = config.command_timeout;
    redis::cluster::ClusterClientBuilder::new(seeds(&config.url).map(str::to_owned))
        .use_protocol(redis::ProtocolVersion::RESP3)
        .connection_timeout(t)
        .response_timeout(t)
        .retries(2)
        .max_retry_wait(500)
}

/// `Some(true)` when the server says it is a Redis Cluster node, `Some(false)` when it says it
/// is not, `None` when it does not answer `INFO cluster`.
async fn cluster_enabled(c: &mut impl redis::aio::ConnectionLike) -> Option<bool> {
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(c)
        .await
        .ok()?;
    Some(info.lines().any(|l| l.trim() == "cluster_enabled:1"))
}
