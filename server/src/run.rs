//! Starting the core: `run(listener, config, shutdown)` serves the gRPC API
//! until `shutdown` resolves; tests call it on port 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use herald_proto::v1::edge_service_server::EdgeServiceServer;
use herald_proto::v1::herald_service_server::HeraldServiceServer;
use herald_proto::v1::task_service_server::TaskServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

use crate::broker::{Broker, Limits, MemoryBroker, RedisBroker};
use crate::cluster::control::RedisControl;
use crate::cluster::presence::RedisPresence;
use crate::cluster::{ClusterConfig, Redis};
use crate::control::{Control, MemoryControl};
use crate::credential::Credentials;
use crate::hub::Hub;
use crate::idempotency::IdempotencyCache;
use crate::node::{ClusterNode, Node};
use crate::presence::{MemoryPresence, Presence};
use crate::rpc::{EdgeApi, HeraldApi, TaskApi, too_large};
use crate::tasks::{TaskConfig, Tasks};

/// Per-namespace rules the core enforces.
#[derive(Debug, Clone)]
pub struct NamespacePolicy {
    /// Emit `presence` events to a room when a user comes or goes.
    pub presence_events: bool,
    /// Rooms one connection may be in.
    pub max_rooms_per_connection: usize,
    /// Connections one user may hold at once in the namespace, across edges.
    pub max_connections_per_user: usize,
    /// How long recoverable events and lost sessions are kept.
    pub recovery_window: Duration,
    /// Recoverable events kept per topic.
    pub recovery_max_events: usize,
}

impl Default for NamespacePolicy {
    fn default() -> Self {
        Self {
            presence_events: false,
            max_rooms_per_connection: 100,
            max_connections_per_user: 100,
            recovery_window: Duration::from_secs(120),
            recovery_max_events: 1000,
        }
    }
}

/// What the core needs to run (built from the `[core]` section of the config file).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Bearer tokens accepted from services, edges and workers.
    pub service_tokens: Vec<String>,
    /// Namespaces an Emit may address.
    pub namespaces: Vec<String>,
    /// Largest total size of an event's arguments, in bytes.
    pub max_event_bytes: usize,
    /// Deliveries queued per edge link before it is dropped as too slow.
    pub link_queue: usize,
    /// Events queued per direct subscriber before it is dropped as too slow.
    pub subscriber_queue: usize,
    /// Events accepted by the in-memory broker and not yet dispatched.
    pub broker_queue: usize,
    /// How long an idempotency key is remembered.
    pub idempotency_window: Duration,
    /// Rules per namespace; namespaces not listed get the defaults.
    pub policies: std::collections::HashMap<String, NamespacePolicy>,
    /// How long a forwarded client event waits for its handler.
    pub handler_timeout: Duration,
    /// Store URL for tasks; `None` runs without tasks.
    pub store_url: Option<String>,
    /// Task queues and dispatch settings.
    pub tasks: TaskConfig,
    /// The cluster on Redis this core joins; `None` runs alone with the in-memory broker.
    pub cluster: Option<ClusterConfig>,
    /// TLS of the gRPC API (and mTLS with a client CA); `None` serves plaintext.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            service_tokens: Vec::new(),
            namespaces: vec!["/".into()],
            max_event_bytes: 1_000_000,
            link_queue: 65_536,
            subscriber_queue: 4096,
            broker_queue: 65_536,
            idempotency_window: Duration::from_secs(300),
            store_url: None,
            tasks: TaskConfig::default(),
            policies: std::collections::HashMap::new(),
            handler_timeout: Duration::from_secs(5),
            cluster: None,
            tls: None,
        }
    }
}

impl CoreConfig {
    /// The rules of a namespace.
    pub fn policy(&self, ns: &str) -> NamespacePolicy {
        self.policies.get(ns).cloned().unwrap_or_default()
    }
}

/// Errors that stop the core.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("store: {0}")]
    Store(#[from] herald_store::StoreError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// Serves the core on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: CoreConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    Core::start(config).await?.serve(listener, shutdown).await
}

/// What a core's semantics run over: in memory (alone), or as one node of a cluster on Redis.
struct Layers {
    broker: Arc<dyn Broker>,
    presence: Arc<dyn Presence>,
    control: Arc<dyn Control>,
    cluster: Option<ClusterNode>,
    /// Commands other nodes send this one.
    control_rx: Option<tokio::sync::mpsc::Receiver<crate::control::Command>>,
}

/// A started core: its state and background tasks, before it serves gRPC.
pub struct Core {
    api: Arc<Node>,
    cancel: CancellationToken,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Core {
    /// Builds the broker, the hub and (with a store) the task engine, and starts
    /// the dispatcher, the internal emitter and the broker's maintenance.
    pub async fn start(config: CoreConfig) -> Result<Self, RunError> {
        let cancel = CancellationToken::new();
        let limits = |p: &NamespacePolicy| Limits {
            max_events: p.recovery_max_events,
            max_age_ms: i64::try_from(p.recovery_window.as_millis()).unwrap_or(i64::MAX),
        };
        let limits_by_ns: std::collections::HashMap<String, Limits> = config
            .policies
            .iter()
            .map(|(ns, p)| (ns.clone(), limits(p)))
            .collect();
        let default_limits = limits(&NamespacePolicy::default());
        let mut background = Vec::new();
        let hub = Hub::new(cancel.clone());
        // Every configured namespace has its series from the start.
        for ns in &config.namespaces {
            hub.metrics.namespace(ns);
        }
        let Layers {
            broker,
            presence,
            control,
            cluster,
            control_rx,
        } = match &config.cluster {
            None => {
                let b = Arc::new(MemoryBroker::new(
                    config.broker_queue,
                    limits_by_ns,
                    default_limits,
                ));
                b.set_counter(hub.clone());
                let presence = Arc::new(MemoryPresence::new(hub.index.clone()));
                Layers {
                    broker: b,
                    presence,
                    control: Arc::new(MemoryControl),
                    cluster: None,
                    control_rx: None,
                }
            }
            Some(cc) => {
                let redis = Redis::connect(cc.clone()).await?;
                let node = redis.claim_node_id().await?;
                tracing::info!(node, url = %cc.url, "joined the cluster");
                let (ctl_tx, ctl_rx) = tokio::sync::mpsc::channel(4096);
                let b = RedisBroker::new(
                    redis.clone(),
                    node,
                    config.broker_queue,
                    limits_by_ns,
                    default_limits,
                    ctl_tx,
                );
                let stream = b.subscriber().await?;
                background.push(tokio::spawn(b.clone().run_reader(stream, cancel.clone())));
                let presence = Arc::new(RedisPresence::new(redis.clone(), node));
                let control = Arc::new(RedisControl::new(redis.clone(), node, b.clone()));
                let c = ClusterNode {
                    redis,
                    node,
                    seen: crate::cluster::registry::Seen::default(),
                    dirty: std::sync::atomic::AtomicBool::new(false),
                };
                Layers {
                    broker: b,
                    presence,
                    control,
                    cluster: Some(c),
                    control_rx: Some(ctl_rx),
                }
            }
        };
        background.push({
            let broker = broker.clone();
            let stop = cancel.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => broker.maintain().await,
                    }
                }
            })
        });
        if let Some(feed) = broker.take_feed() {
            background.push(tokio::spawn(hub.clone().run_dispatcher(feed)));
        }
        // Emits the core makes itself (task notifications, presence) go through the normal Emit path.
        let (notify_tx, mut notify_rx) = tokio::sync::mpsc::channel(4096);
        let tasks = match &config.store_url {
            Some(url) => {
                let store = herald_store::Store::connect(url).await?;
                let (t, h) = Tasks::start(
                    store,
                    config.tasks.clone(),
                    config.cluster.is_some(),
                    notify_tx.clone(),
                    cancel.clone(),
                )
                .await?;
                background.push(h);
                Some(t)
            }
            None => None,
        };
        let api = Arc::new(Node {
            cluster,
            hub,
            broker,
            presence,
            control,
            next_handler: std::sync::atomic::AtomicUsize::new(0),
            idempotency: IdempotencyCache::new(config.idempotency_window, 100_000),
            config: Arc::new(config),
            tasks,
            handlers: crate::node::handlers::Handlers::default(),
            internal: notify_tx,
            sessions: parking_lot::Mutex::new(std::collections::HashMap::new()),
        });
        background.push({
            let api = api.clone();
            let stop = cancel.clone();
            tokio::spawn(async move {
                loop {
                    let req = tokio::select! {
                        () = stop.cancelled() => break,
                        r = notify_rx.recv() => match r { Some(r) => r, None => break },
                    };
                    let event = req.event.clone();
                    if let Err(e) = api.emit(req).await {
                        tracing::warn!(event, error = %e, "internal emit failed");
                    }
                }
            })
        });
        if let Some(rx) = control_rx {
            background.push(tokio::spawn(api.clone().run_control(rx, cancel.clone())));
            background.push(tokio::spawn(
                api.clone()
                    .run_heartbeat(crate::clock::now_ms(), cancel.clone()),
            ));
        }
        Ok(Self {
            api,
            cancel,
            background,
        })
    }

    /// Renders this core's metrics (Prometheus text, without the `process_*` ones).
    pub fn metrics(&self) -> herald_edge::ExtraMetrics {
        let api = self.api.clone();
        std::sync::Arc::new(move || {
            let api = api.clone();
            Box::pin(async move { crate::metrics::render(&api).await })
        })
    }

    /// Links an edge in the same process to this core without gRPC.
    pub fn connector(&self) -> Arc<dyn herald_edge::CoreConnector> {
        Arc::new(crate::local_link::LocalLink(self.api.clone()))
    }

    /// Serves the gRPC API on `listener` until `shutdown` resolves, then stops
    /// the long-lived streams and the background tasks.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let Core {
            api,
            cancel,
            background,
        } = self;
        let creds = Credentials::new(&api.config.service_tokens);
        let (health_reporter, health) = tonic_health::server::health_reporter();
        let health_task = tokio::spawn(crate::health::report(
            health_reporter,
            api.tasks.as_ref().map(|t| t.store.clone()),
            api.cluster.as_ref().map(|c| c.redis.clone()),
            cancel.clone(),
        ));
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(herald_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let c1 = creds.clone();
        let c2 = creds.clone();
        let c3 = creds;
        let stop = cancel.clone();
        // `core.max_event_bytes` is the size limit, whatever tonic's default (4 MiB).
        let max_event = api.config.max_event_bytes;
        let max_message = too_large::decoding_limit(max_event);
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = api.config.tls.clone() {
            // With TLS on, a plaintext client fails the handshake: nothing is served in clear.
            server = server.tls_config(tls)?;
        }
        let result = server
            .layer(tower::util::MapResponseLayer::new(too_large::rewrite(
                max_event,
            )))
            .add_service(health)
            .add_service(reflection)
            .add_service(InterceptedService::new(
                HeraldServiceServer::new(HeraldApi(api.clone()))
                    .max_decoding_message_size(max_message),
                move |r| c1.check(r),
            ))
            .add_service(InterceptedService::new(
                EdgeServiceServer::new(EdgeApi(api.clone())).max_decoding_message_size(max_message),
                move |r| c2.check(r),
            ))
            .add_service(InterceptedService::new(
                TaskServiceServer::new(TaskApi(api)).max_decoding_message_size(max_message),
                move |r| c3.check(r),
            ))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                shutdown.await;
                // End the long-lived streams so the server can drain.
                stop.cancel();
            })
            .await;
        cancel.cancel();
        let _ = health_task.await;
        for h in background {
            let _ = h.await;
        }
        result.map_err(RunError::from)
    }
}
