//! The Link stream to the core: hello, registrations with `Applied` answers, the inbound
//! Delivery / MembershipChange / DisconnectCommand messages, and reconnection: to the next of the
//! configured core URLs when a link breaks (in order, with backoff after a full round), then every
//! live socket is registered again with its last offset (see [`crate::relink`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use herald_proto::v1::edge_service_client::EdgeServiceClient;
use herald_proto::v1::{
    Applied, Arg, LinkHello, LinkRequest, LinkResponse, link_request::Msg, link_response,
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

/// A request on its way: its id and where its answer arrives.
pub(crate) struct Sent {
    id: u64,
    wait: oneshot::Receiver<Applied>,
}

/// The edge's side of the link: what other tasks use to talk to the core.
pub(crate) struct Link {
    /// One per configured core URL, tried in order.
    endpoints: Vec<Endpoint>,
    /// Lazily connected channels for unary calls (`/v1/emit`, stats), one per endpoint.
    unary: Vec<tonic::transport::Channel>,
    /// The endpoint of the current (or last) link.
    current: AtomicUsize,
    /// The broker epoch the current (or last) core announced: the epoch of the sockets' offsets.
    epoch: parking_lot::Mutex<String>,
    auth: MetadataValue<tonic::metadata::Ascii>,
    tx: parking_lot::Mutex<Option<mpsc::Sender<LinkRequest>>>,
    up: AtomicBool,
    /// Woken whenever the link comes up.
    up_notify: tokio::sync::Notify,
    next_id: AtomicU64,
    pending: parking_lot::Mutex<HashMap<u64, Pending>>,
    /// `ConnectionClosed` notices the link queue had no room for, sent as soon as it has: the
    /// core's presence and per-user counts depend on them. At most one per connection that lived
    /// on this edge, so bounded by the connections it held.
    closed_backlog: parking_lot::Mutex<std::collections::VecDeque<Msg>>,
    /// Woken when a notice went to the backlog.
    backlog_notify: tokio::sync::Notify,
}

impl Link {
    pub fn new(config: &EdgeConfig) -> Result<Self, EdgeError> {
        let endpoints = config
            .core_urls
            .iter()
            .map(|url| {
                let e = Endpoint::from_shared(url.clone())
                    .map_err(|e| EdgeError::BadCoreUrl(url.clone(), e.to_string()))?
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true);
                match config.core_tls.clone() {
                    Some(tls) => e
                        .tls_config(tls)
                        .map_err(|e| EdgeError::BadCoreUrl(url.clone(), causes(&e))),
                    None => Ok(e),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.is_empty() {
            return Err(EdgeError::BadCoreUrl(
                String::new(),
                "no core URL configured".into(),
            ));
        }
        let auth = format!("Bearer {}", config.service_token)
            .parse()
            .map_err(|_| EdgeError::BadServiceToken)?;
        let unary = endpoints.iter().map(Endpoint::connect_lazy).collect();
        Ok(Link {
            unary,
            endpoints,
            current: AtomicUsize::new(0),
            epoch: parking_lot::Mutex::new(String::new()),
            auth,
            tx: parking_lot::Mutex::new(None),
            up: AtomicBool::new(false),
            up_notify: tokio::sync::Notify::new(),
            next_id: AtomicU64::new(1),
            pending: parking_lot::Mutex::new(HashMap::new()),
            closed_backlog: parking_lot::Mutex::new(std::collections::VecDeque::new()),
            backlog_notify: tokio::sync::Notify::new(),
        })
    }

    /// The channel for unary calls to the core the edge is linked to.
    pub fn channel(&self) -> tonic::transport::Channel {
        let i = self.current.load(Ordering::Acquire);
        self.unary[i.min(self.unary.len().saturating_sub(1))].clone()
    }

    /// The broker epoch of the last core that welcomed this edge.
    pub fn epoch(&self) -> String {
        self.epoch.lock().clone()
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
        self.request_on(&tx, msg, limit).await
    }

    /// Sends `msg` on the stream `tx` (also before the link is open to others) and waits up to
    /// `limit` for its `Applied`.
    pub(crate) async fn request_on(
        &self,
        tx: &mpsc::Sender<LinkRequest>,
        msg: Msg,
        limit: Duration,
    ) -> Result<Applied, LinkError> {
        let sent = self.send_on(tx, msg).await?;
        self.answer(sent, limit).await
    }

    /// Sends `msg` on `tx` with a request id; [`Link::answer`] waits for its `Applied`.
    pub(crate) async fn send_on(
        &self,
        tx: &mpsc::Sender<LinkRequest>,
        msg: Msg,
    ) -> Result<Sent, LinkError> {
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
        Ok(Sent { id, wait })
    }

    /// Waits up to `limit` for the `Applied` of a sent request (an error in it is `Refused`).
    pub(crate) async fn answer(&self, sent: Sent, limit: Duration) -> Result<Applied, LinkError> {
        match tokio::time::timeout(limit, sent.wait).await {
            Ok(Ok(a)) if a.error.is_empty() => Ok(a),
            Ok(Ok(a)) => Err(LinkError::Refused(a.error)),
            Ok(Err(_)) => Err(LinkError::Unavailable),
            Err(_) => {
                self.pending.lock().remove(&sent.id);
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

    /// Sends a `ConnectionClosed` notice, never dropping it: when the link queue is full (or the
    /// link is down) it waits in a backlog that goes out, in order, as soon as a link has room.
    pub fn notify_closed(&self, msg: Msg) {
        let tx = self.tx.lock().clone();
        let mut backlog = self.closed_backlog.lock();
        // Behind earlier notices still waiting, to keep their order.
        if backlog.is_empty()
            && let Some(tx) = tx
        {
            let req = LinkRequest {
                request_id: 0,
                msg: Some(msg),
            };
            match tx.try_send(req) {
                Ok(()) => return,
                Err(
                    mpsc::error::TrySendError::Full(req) | mpsc::error::TrySendError::Closed(req),
                ) => {
                    if let Some(msg) = req.msg {
                        backlog.push_back(msg);
                    }
                }
            }
        } else {
            backlog.push_back(msg);
        }
        drop(backlog);
        self.backlog_notify.notify_one();
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

    /// Opens the link for every request once its sockets are registered again.
    pub(crate) fn set_up(&self) {
        self.up.store(true, Ordering::Release);
        self.up_notify.notify_waiters();
        tracing::info!("link to core is up");
    }

    fn set_down(&self) {
        self.up.store(false, Ordering::Release);
        *self.tx.lock() = None;
        // Dropping the senders fails every waiting request with "core unavailable".
        self.pending.lock().clear();
    }
}

/// A link that lived less than this counts as a failed attempt (no tight loop on a flapping core).
const STABLE_LINK: Duration = Duration::from_secs(1);

/// Keeps a link to a core until `stop` is cancelled: when a link breaks, the next configured URL is
/// tried at once (in order, wrapping around); after a whole round of failures, a backoff.
pub(crate) async fn run(edge: Arc<Edge>, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    let urls = edge.link.endpoints.len().max(1);
    let mut misses = 0usize;
    loop {
        let started = tokio::time::Instant::now();
        let at = edge.link.current.load(Ordering::Acquire);
        let url = edge.config.core_urls.get(at).map_or("", String::as_str);
        match connect_once(&edge, &stop, at).await {
            Ok(()) => tracing::info!(core = %url, "link to core {url} closed"),
            Err(e) => tracing::warn!(core = %url, "link to core {url} failed: {}", e.message()),
        }
        edge.link.set_down();
        if stop.is_cancelled() {
            return;
        }
        edge.link.current.store((at + 1) % urls, Ordering::Release);
        if started.elapsed() >= STABLE_LINK {
            misses = 0;
            backoff = BACKOFF_MIN;
            continue;
        }
        misses += 1;
        if misses < urls {
            continue;
        }
        misses = 0;
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
    at: usize,
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
        r = open(edge, rx, at) => r?,
    };
    // The sockets' offsets are of the epoch of the core they were last linked to.
    let epoch = link.epoch();
    *link.tx.lock() = Some(tx.clone());
    let weak = tx.downgrade();
    let register = tokio::spawn(crate::relink::reregister(edge.clone(), tx, epoch));
    let _abort = AbortOnDrop(register);
    let backlog = tokio::spawn(send_closed_backlog(edge.clone(), weak));
    let _abort_backlog = AbortOnDrop(backlog);
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

/// Sends the backlog of close notices on the link `tx`, waiting for room, until the link ends
/// (what is not sent stays for the next link). Holds the link's sender only while sending, so the
/// stream still ends when the link closes.
async fn send_closed_backlog(edge: Arc<Edge>, tx: mpsc::WeakSender<LinkRequest>) {
    let link = &edge.link;
    loop {
        if link.closed_backlog.lock().is_empty() {
            link.backlog_notify.notified().await;
            continue;
        }
        let Some(tx) = tx.upgrade() else { return };
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        // Taken only once there is room, so a notice is never lost in between. Only this task
        // takes from the backlog.
        let mut backlog = link.closed_backlog.lock();
        let Some(msg) = backlog.pop_front() else {
            continue;
        };
        drop(backlog);
        permit.send(LinkRequest {
            request_id: 0,
            msg: Some(msg),
        });
    }
}

/// Opens the link stream: in-process when the edge was given a connector, else over gRPC.
async fn open(
    edge: &Arc<Edge>,
    rx: mpsc::Receiver<LinkRequest>,
    at: usize,
) -> Result<LinkResponses, tonic::Status> {
    if let Some(c) = &edge.config.connector {
        return c.open(rx).await;
    }
    let link = &edge.link;
    let channel = link.endpoints[at]
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(causes(&e)))?;
    let auth = link.auth.clone();
    let mut client =
        EdgeServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", auth.clone());
            Ok(req)
        })
        // The core bounds events by its own `max_event_bytes`, which may exceed tonic's 4 MiB.
        .max_decoding_message_size(usize::MAX);
    let responses = client.link(ReceiverStream::new(rx)).await?.into_inner();
    Ok(Box::pin(responses))
}

fn handle(edge: &Arc<Edge>, resp: LinkResponse, batch: &mut Batch) {
    let Some(msg) = resp.msg else { return };
    match msg {
        link_response::Msg::Welcome(w) => {
            tracing::debug!(link_id = %w.link_id, epoch = %w.broker_epoch, "core welcomed the link");
            *edge.link.epoch.lock() = w.broker_epoch;
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
