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
    Applied, LinkHello, LinkRequest, LinkResponse, link_request::Msg, link_response,
};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::config::EdgeConfig;
use crate::connector::LinkResponses;
use crate::error::EdgeError;
use crate::owed::{BACKLOG_BYTES, BACKLOG_MESSAGES, Backlog, Owed};
use crate::socketio::core::{Core, CoreError};
use crate::socketio::fanout::Batch;
use crate::socketio::state::Sio;

/// Messages buffered towards the core per link.
const LINK_QUEUE: usize = 8192;
/// Most link messages handled as one batch (their deliveries written together).
const MAX_BATCH: usize = 64;
/// How long a request waits for a link that is (re)connecting before "core unavailable".
const LINK_WAIT: Duration = Duration::from_secs(3);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

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
    /// Messages owed to the core that the link queue had no room for (see [`crate::owed`]).
    owed: Backlog,
    /// Cancelled to reset the current link (when the owed backlog overflowed).
    reset: parking_lot::Mutex<Option<CancellationToken>>,
    /// Relay events without an ack dropped because the link was full or down.
    relays_dropped: AtomicU64,
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
            owed: Backlog::new(BACKLOG_MESSAGES, BACKLOG_BYTES),
            reset: parking_lot::Mutex::new(None),
            relays_dropped: AtomicU64::new(0),
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

    /// Sends `msg` and waits up to `limit` for the core's `Applied` (an error in it is `Refused`).
    pub async fn request_applied(&self, msg: Msg, limit: Duration) -> Result<Applied, CoreError> {
        if !self.is_up() {
            self.wait_up().await?;
        }
        let tx = self.tx.lock().clone().ok_or(CoreError::Unavailable)?;
        self.request_on(&tx, msg, limit).await
    }

    /// Sends `msg` on the stream `tx` (also before the link is open to others) and waits up to
    /// `limit` for its `Applied`.
    pub(crate) async fn request_on(
        &self,
        tx: &mpsc::Sender<LinkRequest>,
        msg: Msg,
        limit: Duration,
    ) -> Result<Applied, CoreError> {
        let sent = self.send_on(tx, msg).await?;
        self.answer(sent, limit).await
    }

    /// Sends `msg` on `tx` with a request id; [`Link::answer`] waits for its `Applied`.
    pub(crate) async fn send_on(
        &self,
        tx: &mpsc::Sender<LinkRequest>,
        msg: Msg,
    ) -> Result<Sent, CoreError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.pending.lock().insert(id, done);
        let req = LinkRequest {
            request_id: id,
            msg: Some(msg),
        };
        if tx.send(req).await.is_err() {
            self.pending.lock().remove(&id);
            return Err(CoreError::Unavailable);
        }
        Ok(Sent { id, wait })
    }

    /// Waits up to `limit` for the `Applied` of a sent request (an error in it is `Refused`).
    pub(crate) async fn answer(&self, sent: Sent, limit: Duration) -> Result<Applied, CoreError> {
        match tokio::time::timeout(limit, sent.wait).await {
            Ok(Ok(a)) if a.error.is_empty() => Ok(a),
            Ok(Ok(a)) => Err(CoreError::Refused(a.error)),
            Ok(Err(_)) => Err(CoreError::Unavailable),
            Err(_) => {
                self.pending.lock().remove(&sent.id);
                Err(CoreError::Timeout)
            }
        }
    }

    /// Sends a relay event without an ack, without waiting. Dropped (and counted) when the link
    /// is full or down: such an event is fire-and-forget by design (its sender asked for no ack
    /// and its edge already delivered it locally), and keeping it would let a flooding client
    /// grow the edge's memory or force link resets. Returns whether it went out.
    pub fn send_relay(&self, msg: Msg) -> bool {
        let sent = self.tx.lock().clone().is_some_and(|tx| {
            tx.try_send(LinkRequest {
                request_id: 0,
                msg: Some(msg),
            })
            .is_ok()
        });
        if !sent {
            self.relays_dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Sends a message the core must get (a `ConnectionClosed`, a `$disconnect` report, a
    /// client's ack), never dropping it: when the link queue is full (or the link is down) it waits
    /// in the owed backlog, sent in order as soon as a link has room. When that backlog overflows
    /// it is discarded and the link is reset, so that the core forgets the link's connections and
    /// the live sockets are registered again.
    pub fn send_owed(&self, msg: Msg) {
        let tx = self.tx.lock().clone();
        if self.owed.send(tx.as_ref(), msg) == Owed::Overflow {
            tracing::warn!(
                "the backlog of messages owed to the core is full: discarding it and resetting the link"
            );
            if let Some(reset) = self.reset.lock().as_ref() {
                reset.cancel();
            }
        }
    }

    /// Owed messages waiting for room on the link.
    pub fn backlog(&self) -> u64 {
        u64::try_from(self.owed.len()).unwrap_or(u64::MAX)
    }

    /// Owed messages discarded because the backlog overflowed.
    pub fn owed_discarded(&self) -> u64 {
        self.owed.discarded()
    }

    /// Relay events dropped on a full or missing link.
    pub fn relays_dropped(&self) -> u64 {
        self.relays_dropped.load(Ordering::Relaxed)
    }

    /// Waits a little for a link that is starting or reconnecting.
    pub async fn wait_up(&self) -> Result<(), CoreError> {
        let deadline = tokio::time::Instant::now() + LINK_WAIT;
        while !self.is_up() {
            let notified = self.up_notify.notified();
            if self.is_up() {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(CoreError::Unavailable);
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
        *self.reset.lock() = None;
        // Dropping the senders fails every waiting request with "core unavailable".
        self.pending.lock().clear();
    }
}

/// The Socket.IO layer's core is the link (the inherent methods do the work).
impl Core for Link {
    fn wait_up(&self) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(Link::wait_up(self))
    }

    fn request_applied(
        &self,
        msg: Msg,
        limit: Duration,
    ) -> BoxFuture<'_, Result<Applied, CoreError>> {
        Box::pin(Link::request_applied(self, msg, limit))
    }

    fn send_relay(&self, msg: Msg) -> bool {
        Link::send_relay(self, msg)
    }

    fn send_owed(&self, msg: Msg) {
        Link::send_owed(self, msg);
    }
}

/// A link that lived less than this counts as a failed attempt (no tight loop on a flapping core).
const STABLE_LINK: Duration = Duration::from_secs(1);

/// Keeps a link to a core until `stop` is cancelled: when a link breaks, the next configured URL is
/// tried at once (in order, wrapping around); after a whole round of failures, a backoff.
pub(crate) async fn run(sio: Arc<Sio>, link: Arc<Link>, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    let urls = link.endpoints.len().max(1);
    let mut misses = 0usize;
    loop {
        let started = tokio::time::Instant::now();
        let at = link.current.load(Ordering::Acquire);
        let url = sio.config.core_urls.get(at).map_or("", String::as_str);
        match connect_once(&sio, &link, &stop, at).await {
            Ok(()) => tracing::info!(core = %url, "link to core {url} closed"),
            Err(e) => tracing::warn!(core = %url, "link to core {url} failed: {}", e.message()),
        }
        link.set_down();
        if stop.is_cancelled() {
            return;
        }
        link.current.store((at + 1) % urls, Ordering::Release);
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
    sio: &Arc<Sio>,
    link: &Arc<Link>,
    stop: &CancellationToken,
    at: usize,
) -> Result<(), tonic::Status> {
    let (tx, rx) = mpsc::channel(LINK_QUEUE);
    let hello = LinkRequest {
        request_id: 0,
        msg: Some(Msg::Hello(LinkHello {
            edge_name: sio.config.name.clone(),
        })),
    };
    tx.try_send(hello)
        .map_err(|_| tonic::Status::internal("link queue"))?;
    let mut responses = tokio::select! {
        () = stop.cancelled() => return Ok(()),
        r = open(sio, link, rx, at) => r?,
    };
    // The sockets' offsets are of the epoch of the core they were last linked to.
    let epoch = link.epoch();
    let reset = CancellationToken::new();
    *link.reset.lock() = Some(reset.clone());
    *link.tx.lock() = Some(tx.clone());
    let weak = tx.downgrade();
    let register = tokio::spawn(crate::relink::reregister(
        sio.clone(),
        link.clone(),
        tx,
        epoch,
    ));
    let _abort = AbortOnDrop(register);
    let backlog = tokio::spawn({
        let link = link.clone();
        async move { link.owed.drain(weak).await }
    });
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
            () = reset.cancelled() => {
                return Err(tonic::Status::resource_exhausted(
                    "the backlog of messages owed to the core overflowed: link reset",
                ));
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
                        handle(sio, link, resp, &mut batch);
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
    sio: &Sio,
    link: &Link,
    rx: mpsc::Receiver<LinkRequest>,
    at: usize,
) -> Result<LinkResponses, tonic::Status> {
    if let Some(c) = &sio.config.connector {
        return c.open(rx).await;
    }
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

fn handle(sio: &Arc<Sio>, link: &Link, resp: LinkResponse, batch: &mut Batch) {
    let Some(msg) = resp.msg else { return };
    match msg {
        link_response::Msg::Welcome(w) => {
            tracing::debug!(link_id = %w.link_id, epoch = %w.broker_epoch, "core welcomed the link");
            *link.epoch.lock() = w.broker_epoch;
        }
        link_response::Msg::Applied(a) => link.applied(a),
        link_response::Msg::Delivery(d) => crate::socketio::fanout::deliver(sio, d, batch),
        link_response::Msg::Membership(m) => crate::socketio::commands::apply_membership(sio, &m),
        link_response::Msg::Disconnect(d) => crate::socketio::commands::apply_disconnect(sio, &d),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owed::tests::closed;

    #[tokio::test]
    async fn an_overflowing_backlog_resets_the_link() {
        let verifier = herald_auth::Verifier::new(&herald_auth::AuthConfig {
            hs256_secret: Some("s".into()),
            ..Default::default()
        })
        .unwrap();
        let mut link = Link::new(&EdgeConfig::new("http://core:1", "token", verifier)).unwrap();
        link.owed = Backlog::new(1, BACKLOG_BYTES);
        let (tx, mut rx) = mpsc::channel(1);
        *link.tx.lock() = Some(tx);
        let reset = CancellationToken::new();
        *link.reset.lock() = Some(reset.clone());

        link.send_owed(closed("a"));
        link.send_owed(closed("b"));
        assert_eq!((link.queued(), link.backlog()), (1, 1));
        assert!(!reset.is_cancelled(), "within the bound the link stays");
        link.send_owed(closed("c"));
        assert!(reset.is_cancelled(), "over the bound the link is reset");
        assert_eq!((link.backlog(), link.owed_discarded()), (0, 2));
        assert!(rx.recv().await.is_some());

        // A relay finds the link full (or down): dropped and counted.
        let (tx, _rx) = mpsc::channel(1);
        *link.tx.lock() = Some(tx);
        assert!(link.send_relay(closed("r1")));
        assert!(!link.send_relay(closed("r2")));
        link.set_down();
        assert!(!link.send_relay(closed("r3")));
        assert_eq!(link.relays_dropped(), 2);
    }
}
