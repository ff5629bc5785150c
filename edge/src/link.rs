//! The Link stream to the core: hello, registrations with `Applied` answers, the inbound
//! Delivery / MembershipChange / DisconnectCommand messages, and reconnection with backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use herald_proto::v1::edge_service_client::EdgeServiceClient;
use herald_proto::v1::{
    Applied, Arg, ConnectionOpened, LinkHello, LinkRequest, LinkResponse, RoomChange,
    link_request::Msg, link_response,
};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;

use futures::{FutureExt, StreamExt};

use crate::config::EdgeConfig;
use crate::connector::LinkResponses;
use crate::edge::Edge;
use crate::error::EdgeError;
use crate::fanout::Batch;

/// Messages buffered towards the core per link.
const LINK_QUEUE: usize = 8192;
/// Most link messages handled as one batch (their deliveries written together).
const MAX_BATCH: usize = 64;
/// How long a request waits for its `Applied`.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a forwarded client event waits for its handler's reply (the core bounds it first).
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request waits for a link that is (re)connecting before "core unavailable".
const LINK_WAIT: Duration = Duration::from_secs(3);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a request to the core did not take effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("core unavailable")]
    Unavailable,
    #[error("{0}")]
    Refused(String),
    #[error("core did not answer in time")]
    Timeout,
}

/// The core's answer to a request.
type Pending = oneshot::Sender<Applied>;

/// The edge's side of the link: what other tasks use to talk to the core.
pub(crate) struct Link {
    endpoint: Endpoint,
    auth: MetadataValue<tonic::metadata::Ascii>,
    tx: parking_lot::Mutex<Option<mpsc::Sender<LinkRequest>>>,
    up: AtomicBool,
    /// Woken whenever the link comes up.
    up_notify: tokio::sync::Notify,
    next_id: AtomicU64,
    pending: parking_lot::Mutex<HashMap<u64, Pending>>,
    /// A lazily connected channel for unary calls (`/v1/emit`).
    unary: tonic::transport::Channel,
}

impl Link {
    pub fn new(config: &EdgeConfig) -> Result<Self, EdgeError> {
        let mut endpoint = Endpoint::from_shared(config.core_url.clone())
            .map_err(|e| EdgeError::BadCoreUrl(config.core_url.clone(), e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        if let Some(tls) = config.core_tls.clone() {
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| EdgeError::BadCoreUrl(config.core_url.clone(), causes(&e)))?;
        }
        let auth = format!("Bearer {}", config.service_token)
            .parse()
            .map_err(|_| EdgeError::BadServiceToken)?;
        let unary = endpoint.connect_lazy();
        Ok(Link {
            unary,
            endpoint,
            auth,
            tx: parking_lot::Mutex::new(None),
            up: AtomicBool::new(false),
            up_notify: tokio::sync::Notify::new(),
            next_id: AtomicU64::new(1),
            pending: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// The channel for unary calls to the core.
    pub fn channel(&self) -> tonic::transport::Channel {
        self.unary.clone()
    }

    /// `Bearer <service token>`, for the edge's own unary calls.
    pub fn auth(&self) -> MetadataValue<tonic::metadata::Ascii> {
        self.auth.clone()
    }

    /// Messages waiting to go to the core.
    pub fn queued(&self) -> u64 {
        self.tx.lock().as_ref().map_or(0, |tx| {
            u64::try_from(tx.max_capacity() - tx.capacity()).unwrap_or(0)
        })
    }

    /// Whether the core is connected and this edge's sockets are registered.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Sends `msg` and waits until the core applied it.
    pub async fn request(&self, msg: Msg) -> Result<(), LinkError> {
        self.request_reply(msg, REQUEST_TIMEOUT).await.map(|_| ())
    }

    /// Sends `msg` and waits up to `limit` for the core's `Applied`; returns its args.
    pub async fn request_reply(&self, msg: Msg, limit: Duration) -> Result<Vec<Arg>, LinkError> {
        self.request_applied(msg, limit).await.map(|a| a.args)
    }

    /// Sends `msg` and waits up to `limit` for the core's `Applied` (an error in it is `Refused`).
    pub async fn request_applied(&self, msg: Msg, limit: Duration) -> Result<Applied, LinkError> {
        if !self.is_up() {
            self.wait_up().await?;
        }
        let tx = self.tx.lock().clone().ok_or(LinkError::Unavailable)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.pending.lock().insert(id, done);
        let req = LinkRequest {
            request_id: id,
            msg: Some(msg),
        };
        if tx.send(req).await.is_err() {
            self.pending.lock().remove(&id);
            return Err(LinkError::Unavailable);
        }
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(a)) if a.error.is_empty() => Ok(a),
            Ok(Ok(a)) => Err(LinkError::Refused(a.error)),
            Ok(Err(_)) => Err(LinkError::Unavailable),
            Err(_) => {
                self.pending.lock().remove(&id);
                Err(LinkError::Timeout)
            }
        }
    }

    /// Sends `msg` without waiting; dropped (with a warning) when the link is down or congested
    /// (a reconnect re-registers the live state anyway).
    pub fn notify(&self, msg: Msg) {
        let Some(tx) = self.tx.lock().clone() else {
            return;
        };
        let req = LinkRequest {
            request_id: 0,
            msg: Some(msg),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(req) {
            tracing::warn!("link queue full: a message to the core was dropped");
        }
    }

    /// Waits a little for a link that is starting or reconnecting.
    pub async fn wait_up(&self) -> Result<(), LinkError> {
        let deadline = tokio::time::Instant::now() + LINK_WAIT;
        while !self.is_up() {
            let notified = self.up_notify.notified();
            if self.is_up() {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(LinkError::Unavailable);
            }
        }
        Ok(())
    }

    fn applied(&self, a: Applied) {
        if let Some(done) = self.pending.lock().remove(&a.request_id) {
            let _ = done.send(a);
        }
    }

    fn set_down(&self) {
        self.up.store(false, Ordering::Release);
        *self.tx.lock() = None;
        // Dropping the senders fails every waiting request with "core unavailable".
        self.pending.lock().clear();
    }
}

/// Keeps a link to the core until `stop` is cancelled.
pub(crate) async fn run(edge: Arc<Edge>, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    loop {
        match connect_once(&edge, &stop, &mut backoff).await {
            Ok(()) => {
                tracing::info!(core = %edge.config.core_url, "link to core {} closed", edge.config.core_url)
            }
            Err(e) => tracing::warn!(
                core = %edge.config.core_url,
                "link to core {} failed: {}",
                edge.config.core_url,
                e.message()
            ),
        }
        edge.link.set_down();
        if stop.is_cancelled() {
            return;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn connect_once(
    edge: &Arc<Edge>,
    stop: &CancellationToken,
    backoff: &mut Duration,
) -> Result<(), tonic::Status> {
    let link = &edge.link;
    let (tx, rx) = mpsc::channel(LINK_QUEUE);
    let hello = LinkRequest {
        request_id: 0,
        msg: Some(Msg::Hello(LinkHello {
            edge_name: edge.config.name.clone(),
        })),
    };
    tx.try_send(hello)
        .map_err(|_| tonic::Status::internal("link queue"))?;
    let mut responses = tokio::select! {
        () = stop.cancelled() => return Ok(()),
        r = open(edge, rx) => r?,
    };
    *link.tx.lock() = Some(tx.clone());
    let register = tokio::spawn(reregister(edge.clone(), tx));
    let _abort = AbortOnDrop(register);
    let mut ready = Vec::with_capacity(MAX_BATCH);

    loop {
        tokio::select! {
            () = stop.cancelled() => {
                // Let the queued messages (ConnectionClosed of the shutdown) go out, then end the stream.
                *link.tx.lock() = None;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    while let Some(Ok(_)) = responses.next().await {}
                }).await;
                return Ok(());
            }
            m = responses.next() => match m.transpose()? {
                Some(resp) => {
                    if matches!(resp.msg, Some(link_response::Msg::Welcome(_))) {
                        *backoff = BACKOFF_MIN;
                    }
                    // Whatever else is ready is handled with it, so each socket gets one write.
                    ready.push(resp);
                    let mut end = None;
                    while ready.len() < MAX_BATCH {
                        match responses.next().now_or_never() {
                            Some(Some(Ok(r))) => ready.push(r),
                            Some(Some(Err(e))) => end = Some(Err(e)),
                            Some(None) => end = Some(Ok(())),
                            None => break,
                        }
                        if end.is_some() {
                            break;
                        }
                    }
                    let mut batch = Batch::new(ready.len() > 1);
                    for resp in ready.drain(..) {
                        handle(edge, resp, &mut batch);
                    }
                    batch.finish();
                    if let Some(end) = end {
                        return end;
                    }
                }
                None => return Ok(()),
            }
        }
    }
}

/// Opens the link stream: in-process when the edge was given a connector, else over gRPC.
async fn open(
    edge: &Arc<Edge>,
    rx: mpsc::Receiver<LinkRequest>,
) -> Result<LinkResponses, tonic::Status> {
    if let Some(c) = &edge.config.connector {
        return c.open(rx).await;
    }
    let link = &edge.link;
    let channel = link
        .endpoint
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(causes(&e)))?;
    let auth = link.auth.clone();
    let mut client =
        EdgeServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", auth.clone());
            Ok(req)
        });
    let responses = client.link(ReceiverStream::new(rx)).await?.into_inner();
    Ok(Box::pin(responses))
}

/// A live socket as the core must know it after a reconnection.
struct Snapshot {
    id: String,
    ns: String,
    user: String,
    rooms: Vec<String>,
    session: Arc<crate::engine::session::Session>,
}

/// Re-announces every live socket (with its recovery pid and data) and its rooms, then opens the
/// link for new requests.
async fn reregister(edge: Arc<Edge>, tx: mpsc::Sender<LinkRequest>) {
    let snapshot: Vec<Snapshot> = {
        let index = edge.index.read();
        let mut out = Vec::with_capacity(index.len());
        for ns in index.namespaces() {
            index.resolve(ns, &[herald_index::Topic::All], &[], |c| {
                out.push(Snapshot {
                    id: c.id.to_string(),
                    ns: c.namespace.to_string(),
                    user: c.user.as_deref().unwrap_or("").to_owned(),
                    rooms: c.rooms.iter().map(|r| r.to_string()).collect(),
                    session: c.value.clone(),
                });
            });
        }
        out
    };
    if !snapshot.is_empty() {
        tracing::info!(
            sockets = snapshot.len(),
            "re-registering sockets with the core"
        );
    }
    for s in snapshot {
        let (pid, data_json) = s
            .session
            .with_socket(&s.ns, |st| {
                (
                    st.pid.as_deref().unwrap_or("").to_owned(),
                    st.data_json.to_string(),
                )
            })
            .unwrap_or_default();
        let opened = Msg::Opened(ConnectionOpened {
            connection_id: s.id.clone(),
            namespace: s.ns,
            user_id: s.user,
            pid,
            data_json,
            ..Default::default()
        });
        if tx
            .send(LinkRequest {
                request_id: 0,
                msg: Some(opened),
            })
            .await
            .is_err()
        {
            return;
        }
        for room in s.rooms {
            let join = Msg::Join(RoomChange {
                connection_id: s.id.clone(),
                room,
            });
            if tx
                .send(LinkRequest {
                    request_id: 0,
                    msg: Some(join),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
    edge.link.up.store(true, Ordering::Release);
    edge.link.up_notify.notify_waiters();
    tracing::info!("link to core is up");
}

fn handle(edge: &Arc<Edge>, resp: LinkResponse, batch: &mut Batch) {
    let Some(msg) = resp.msg else { return };
    match msg {
        link_response::Msg::Welcome(w) => {
            tracing::debug!(link_id = %w.link_id, "core welcomed the link")
        }
        link_response::Msg::Applied(a) => edge.link.applied(a),
        link_response::Msg::Delivery(d) => crate::fanout::deliver(edge, d, batch),
        link_response::Msg::Membership(m) => crate::socketio::commands::apply_membership(edge, &m),
        link_response::Msg::Disconnect(d) => crate::socketio::commands::apply_disconnect(edge, &d),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error and its causes, each said once: `transport error: tcp connect error: Connection refused`.
pub(crate) fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let msg = err.to_string();
        if !out.iter().any(|m| m == &msg) {
            out.push(msg);
        }
        next = err.source();
    }
    out.join(": ")
}
