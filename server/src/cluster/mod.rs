//! Several cores on one Redis: the node's identity and its Redis connections, the presence of
//! every connection cluster-wide, commands between nodes, and the registry that tells live nodes
//! from dead ones. The broker half (live events, logs, sessions) is `broker::RedisBroker`.

pub mod control;
pub mod presence;
pub mod registry;
pub mod scripts;
pub mod stats;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

/// How a core joins a cluster (`[broker]` in the config file).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
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
    pub client: redis::Client,
    pub conn: ConnectionManager,
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
    /// Connects, failing fast (and naming the URL) when Redis is not there.
    pub async fn connect(config: ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let err = |cause: String| ClusterError::Connect {
            url: config.url.clone(),
            cause,
        };
        let client = redis::Client::open(config.url.as_str()).map_err(|e| err(e.to_string()))?;
        let mc = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.command_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            config.command_timeout,
            client.get_connection_manager_with_config(mc),
        )
        .await
        .map_err(|_| err(format!("no answer within {:?}", config.command_timeout)))?
        .map_err(|e| err(e.to_string()))?;
        let redis = Arc::new(Self {
            config,
            client,
            conn,
            scripts: scripts::Scripts::default(),
            stats: stats::RedisStats::default(),
        });
        if redis.is_cluster_node().await {
            return Err(ClusterError::Unsupported {
                url: redis.config.url.clone(),
                why: "it runs in Redis Cluster mode, which Herald does not support: a namespace's \
                 events are sequenced by one script over keys that may live on several shards. \
                 Point broker.url at a standalone primary (with replicas and Sentinel for failover)"
                    .into(),
            });
        }
        Ok(redis)
    }

    /// Whether Redis says it is a Redis Cluster node (`INFO cluster`); a server that does not
    /// answer INFO (some managed services rename it) is taken as standalone.
    async fn is_cluster_node(&self) -> bool {
        let info = self
            .run(|mut c| async move {
                redis::cmd("INFO")
                    .arg("cluster")
                    .query_async::<String>(&mut c)
                    .await
            })
            .await;
        info.is_ok_and(|text| text.lines().any(|l| l.trim() == "cluster_enabled:1"))
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

    /// A key or channel name under the prefix.
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.config.prefix)
    }

    /// Runs one command with the command timeout.
    pub async fn run<T, F>(&self, f: impl FnOnce(ConnectionManager) -> F) -> Result<T, ClusterError>
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

    /// Invokes a script with `ARGV = [prefix, args...]`.
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        args: &[&[u8]],
    ) -> Result<T, ClusterError> {
        let mut inv = script.prepare_invoke();
        inv.arg(self.config.prefix.as_bytes());
        for a in args {
            inv.arg(*a);
        }
        self.run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }
}
