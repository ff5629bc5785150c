//! The Redis broker of a cluster: an Emit is one script that counts the recipients, sequences the
//! event in its namespace, appends it to each target topic's log and publishes it on each topic's
//! channel, atomically, so offsets and channel order agree. Each core subscribes to the channels
//! its connections and direct subscribers need (reference-counted), reads them on one connection
//! in publish order, drops the copies of an event that came on several channels (by sequence),
//! and catches up from the logs after it lost Redis. Sessions for recovery live in Redis too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use herald_proto::v1::{DeliveryClass, Event, Position};
use parking_lot::Mutex;
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::log::{Gap, Limits};
use super::sessions::SessionRecord;
use super::{
    Broker, BrokerError, Counted, Envelope, FeedItem, HistoryPage, HistoryQuery, Member, Missed,
    RecoveryError, Replay, Unrecoverable,
};
use crate::clock::now_ms;
use crate::cluster::control::Pending;
use crate::cluster::stats::ResyncCause;
use crate::cluster::subscriber::{Messages, Subscriber};
use crate::cluster::wire::{self, Origin};
use crate::cluster::{ClusterError, Redis};
use crate::control::{Body, Command};

/// `expires_ms` of a session saved at registration, while its connection lives.
pub const LIVE_SESSION: i64 = i64::MAX;
/// Pause between attempts to get the subscriber connection back.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);
/// Most events one catch-up replays per namespace before it gives up and resyncs the edges.
const MAX_CATCH_UP: usize = 100_000;
/// Tries of a catch-up that Redis refuses (RECONNECT_PAUSE, doubling, between them) before the
/// edges are made to resync.
const CATCH_UP_TRIES: u32 = 4;

fn unavailable(e: ClusterError) -> BrokerError {
    BrokerError::Unavailable(e.to_string())
}

/// Channels this core is subscribed to, with how many local users each has.
#[derive(Default)]
struct Interest {
    sink: Option<Subscriber>,
    channels: HashMap<String, usize>,
    patterns: HashMap<String, usize>,
    /// Wanted topics per namespace: while a namespace has any, this node also follows the
    /// namespace's channel for the `conn:` targets it holds (`B:ev:{node}`).
    namespaces: HashMap<String, usize>,
    /// Redis Cluster: wanted patterns per namespace; while a namespace has any, this node is
    /// listed in `B:patnodes` and follows `B:pat`, the namespace's every event.
    pattern_ns: HashMap<String, usize>,
}

/// Where the reader is in each namespace's sequence: (epoch, last seq dispatched).
type Marks = HashMap<String, (String, u64)>;

/// The broker of a core in a cluster.
pub struct RedisBroker {
    redis: Arc<Redis>,
    node: u32,
    limits: HashMap<String, Limits>,
    default_limits: Limits,
    interest: tokio::sync::Mutex<Interest>,
    /// Namespace of every subscribed topic channel, for catch-up.
    topics: Mutex<HashMap<String, (String, String)>>,
    marks: Mutex<Marks>,
    feed_tx: mpsc::Sender<FeedItem>,
    feed_rx: Mutex<Option<mpsc::Receiver<FeedItem>>>,
    /// Set when an event could not be queued: the next item tells the core to resync its edges.
    lost: AtomicBool,
    /// The cluster's epoch as this core last saw it.
    epoch: parking_lot::RwLock<String>,
    control_tx: mpsc::Sender<Command>,
    pub pending: Pending,
}

impl RedisBroker {
    /// A broker for node `node`; `control` receives the commands other nodes send it.
    pub fn new(
        redis: Arc<Redis>,
        node: u32,
        capacity: usize,
        limits: HashMap<String, Limits>,
        default_limits: Limits,
        control: mpsc::Sender<Command>,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Arc::new(Self {
            redis,
            node,
            limits,
            default_limits,
            interest: tokio::sync::Mutex::new(Interest::default()),
            topics: Mutex::new(HashMap::new()),
            marks: Mutex::new(HashMap::new()),
            feed_tx: tx,
            feed_rx: Mutex::new(Some(rx)),
            lost: AtomicBool::new(false),
            epoch: parking_lot::RwLock::new(String::new()),
            control_tx: control,
            pending: Pending::default(),
        })
    }

    fn limits(&self, ns: &str) -> Limits {
        self.limits.get(ns).copied().unwrap_or(self.default_limits)
    }

    fn channel(&self, ns: &str, topic: &str) -> String {
        self.redis.ns_key(ns, &format!("ch:{topic}"))
    }

    /// Lists (or unlists) this node among those with pattern subscribers in a namespace.
    async fn list_pattern_node(&self, ns: &str, listed: bool) -> Result<(), ClusterError> {
        let (key, node) = (self.redis.ns_key(ns, "patnodes"), self.node);
        self.redis
            .run(|mut c| async move {
                if listed {
                    c.sadd::<_, _, ()>(key, node).await
                } else {
                    c.srem::<_, _, ()>(key, node).await
                }
            })
            .await
    }

    /// Redis Cluster: a pattern wanted (`delta` 1) or given up (-1) in a namespace; the first
    /// follows the namespace's every event, the last stops.
    async fn want_pattern(&self, ns: &str, delta: i32) -> Result<(), BrokerError> {
        let mut i = self.interest.lock().await;
        let n = i.pattern_ns.entry(ns.to_owned()).or_insert(0);
        if delta > 0 {
            *n += 1;
            if *n > 1 {
                return Ok(());
            }
        } else {
            *n = n.saturating_sub(1);
            if *n > 0 {
                return Ok(());
            }
            i.pattern_ns.remove(ns);
        }
        let channel = self.redis.ns_key(ns, "pat");
        let t = self.redis.config.command_timeout;
        if delta < 0 {
            let _ = self.list_pattern_node(ns, false).await;
            if let Some(sink) = i.sink.as_mut() {
                let _ = tokio::time::timeout(t, sink.unsubscribe(&channel)).await;
            }
            return Ok(());
        }
        if let Some(sink) = i.sink.as_mut() {
            match tokio::time::timeout(t, sink.subscribe(&channel)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(BrokerError::Unavailable(e.to_string())),
                Err(_) => {
                    return Err(BrokerError::Unavailable(format!(
                        "Redis did not confirm a subscription within {t:?}"
                    )));
                }
            }
        }
        // Listed once subscribed, so that nothing published after the listing is missed.
        self.list_pattern_node(ns, true).await.map_err(unavailable)
    }

    /// The channel of the `conn:` targets this node holds in a namespace.
    fn conn_channel(&self, ns: &str) -> String {
        self.redis.ns_key(ns, &format!("ev:{}", self.node))
    }

    /// Opens the subscriber connection; `run_reader` then reads it. Before this, nothing a core
    /// wants can arrive: a core connects it before it accepts anything.
    pub async fn subscriber(&self) -> Result<Messages, ClusterError> {
        self.load_epoch().await?;
        self.resubscribe().await
    }

    /// Reads the subscriber connection until `stop`, reconnecting (and catching up) when it breaks.
    pub async fn run_reader(self: Arc<Self>, connected: Messages, stop: CancellationToken) {
        let mut first = true;
        let mut connected = Some(connected);
        while !stop.is_cancelled() {
            let next = match connected.take() {
                Some(s) => Ok(s),
                None => self.resubscribe().await,
            };
            let stream = match next {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(url = %self.redis.config.url, error = %e, "Redis subscriber connection failed; retrying");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(RECONNECT_PAUSE) => continue,
                    }
                }
            };
            self.redis.stats.subscriber(true);
            if !first {
                tracing::info!(url = %self.redis.config.url, "Redis subscriber connection back; catching up");
                self.redis.stats.reconnected();
                self.catch_up().await;
            }
            first = false;
            let mut stream = stream;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    msg = stream.next() => match msg {
                        Some(m) => self.on_message(m.channel(), m.payload()),
                        None => break,
                    },
                }
            }
            self.interest.lock().await.sink = None;
            self.redis.stats.subscriber(false);
            tracing::warn!(url = %self.redis.config.url, "lost the Redis subscriber connection");
        }
    }

    /// A new subscriber connection with every channel this core needs.
    async fn resubscribe(&self) -> Result<Messages, ClusterError> {
        let (mut sink, stream) = self.redis.open_subscriber().await?;
        let mut interest = self.interest.lock().await;
        sink.subscribe(&self.redis.control_channel(self.node))
            .await?;
        for ns in interest.namespaces.keys() {
            sink.subscribe(&self.conn_channel(ns)).await?;
        }
        for ns in interest.pattern_ns.keys() {
            sink.subscribe(&self.redis.ns_key(ns, "pat")).await?;
            // Listed again: Redis may have come back without it.
            self.list_pattern_node(ns, true).await?;
        }
        for ch in interest.channels.keys() {
            sink.subscribe(ch).await?;
        }
        for p in interest.patterns.keys() {
            sink.psubscribe(p).await?;
        }
        interest.sink = Some(sink);
        Ok(stream)
    }

    fn on_message(&self, channel: &str, payload: &[u8]) {
        if channel == self.redis.control_channel(self.node) {
            match serde_json::from_slice::<Command>(payload) {
                Ok(Command {
                    req,
                    body: Body::Reply(r),
                    ..
                }) => self.pending.resolve(req, r),
                Ok(cmd) => {
                    if self.control_tx.try_send(cmd).is_err() {
                        tracing::warn!("control command dropped: queue full");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "malformed control command"),
            }
            return;
        }
        match wire::decode(payload) {
            Ok(d) => self.on_event(d),
            Err(e) => tracing::warn!(channel, error = %e, "malformed event from Redis"),
        }
    }

    fn on_event(&self, d: wire::Decoded) {
        if d.event.seq == 0 {
            // A relay: its origin delivered it locally already.
            if d.origin.node == self.node {
                return;
            }
        } else {
            let mut marks = self.marks.lock();
            let mark = marks
                .entry(d.event.namespace.clone())
                .or_insert_with(|| (d.ns_epoch.clone(), 0));
            if mark.0 == d.ns_epoch && d.event.seq <= mark.1 {
                return; // the copy that came on another channel
            }
            *mark = (d.ns_epoch.clone(), d.event.seq);
            drop(marks);
            if *self.epoch.read() != d.ns_epoch {
                *self.epoch.write() = d.ns_epoch.clone();
            }
        }
        self.queue(Envelope {
            event: Arc::new(d.event),
            ack_ref: d.ack_ref,
        });
    }

    fn queue(&self, env: Envelope) {
        if self.lost.load(Ordering::Acquire) {
            if self
                .feed_tx
                .try_send(FeedItem::Resync("the core fell behind its broker".into()))
                .is_err()
            {
                self.redis.stats.dropped();
                return;
            }
            self.redis.stats.resync(ResyncCause::Overflow);
            self.lost.store(false, Ordering::Release);
        }
        if self.feed_tx.try_send(FeedItem::Event(env)).is_err() {
            self.redis.stats.dropped();
            self.lost.store(true, Ordering::Release);
        }
    }

    /// After the subscriber connection came back: what was published meanwhile on the topics this
    /// core follows, from their logs; or, when the logs cannot say, a resync of the edges.
    async fn catch_up(&self) {
        let mut by_ns: HashMap<String, Vec<String>> = HashMap::new();
        for (ns, topic) in self.topics.lock().values() {
            by_ns.entry(ns.clone()).or_default().push(topic.clone());
        }
        for (ns, topics) in by_ns {
            let mark = self.marks.lock().get(&ns).cloned();
            let Some((epoch, seq)) = mark else { continue };
            // Redis may refuse for a moment after a node came back (a Redis Cluster is down
            // until every slot is served again): a few tries before the edges are made to resync.
            let mut pause = RECONNECT_PAUSE;
            let mut result = self.missed_since(&ns, &topics, &epoch, seq).await;
            for _ in 1..CATCH_UP_TRIES {
                if result.is_ok() {
                    break;
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
                result = self.missed_since(&ns, &topics, &epoch, seq).await;
            }
            match result {
                Ok(Ok(events)) => {
                    tracing::info!(namespace = %ns, events = events.len(), "caught up from the logs");
                    self.redis.stats.caught_up(events.len());
                    for e in events {
                        let ns_epoch = e
                            .offset
                            .rsplit_once(':')
                            .map(|(ep, _)| ep.to_owned())
                            .unwrap_or_default();
                        self.on_event(wire::Decoded {
                            ns_epoch,
                            ack_ref: 0,
                            origin: Origin::default(),
                            event: (*e).clone(),
                        });
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(namespace = %ns, reason = %e, "cannot catch up from the logs; edges resync");
                    self.redis.stats.resync(ResyncCause::LostEvents);
                    let _ = self
                        .feed_tx
                        .try_send(FeedItem::Resync(format!("broker lost events: {e}")));
                }
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e, "catch-up failed; edges resync");
                    self.redis.stats.resync(ResyncCause::Unavailable);
                    let _ = self
                        .feed_tx
                        .try_send(FeedItem::Resync(format!("broker unavailable: {e}")));
                }
            }
        }
    }

    /// What `topics` of `ns` got after `seq` of `epoch`, from their logs; when Redis lost the
    /// logs and a new epoch began (in Redis Cluster, the namespace's shard lost its keys and its
    /// sequence began again), everything accepted since is in the new logs, numbered above what
    /// was delivered before.
    async fn missed_since(
        &self,
        ns: &str,
        topics: &[String],
        epoch: &str,
        seq: u64,
    ) -> Result<Missed, BrokerError> {
        let result = self
            .replay_offset_inner(ns, topics, &format!("{epoch}:{seq}"), MAX_CATCH_UP)
            .await;
        if let Ok(Err(RecoveryError::Gap(Gap::Epoch))) = &result
            && let Ok(current) = self.load_ns_epoch(ns).await
            && (current != epoch || self.redis.config.cluster)
        {
            return self
                .replay_offset_inner(ns, topics, &format!("{current}:0"), MAX_CATCH_UP)
                .await;
        }
        result
    }

    /// The cluster's current epoch in Redis, creating it when there is none yet; this broker's
    /// [`Broker::epoch`] follows it.
    pub async fn load_epoch(&self) -> Result<String, ClusterError> {
        let epoch = self.read_epoch(self.redis.key("epoch")).await?;
        *self.epoch.write() = epoch.clone();
        Ok(epoch)
    }

    /// A namespace's current epoch (the cluster's on a standalone Redis), created when missing.
    async fn load_ns_epoch(&self, ns: &str) -> Result<String, ClusterError> {
        if !self.redis.config.cluster {
            return self.load_epoch().await;
        }
        self.read_epoch(self.redis.epoch_key(ns)).await
    }

    async fn read_epoch(&self, key: String) -> Result<String, ClusterError> {
        let candidate = format!("{:08x}", rand::random::<u32>());
        let epoch: String = self
            .redis
            .run(|mut c| async move {
                let _: bool = c.set_nx(&key, candidate).await?;
                c.get(&key).await
            })
            .await?;
        Ok(epoch)
    }

    async fn replay_offset_inner(
        &self,
        ns: &str,
        topics: &[String],
        offset: &str,
        max: usize,
    ) -> Result<Missed, BrokerError> {
        let Some((epoch, seq)) = offset.rsplit_once(':') else {
            return Ok(Err(RecoveryError::BadOffset(
                offset.chars().take(64).collect(),
            )));
        };
        if seq.parse::<u64>().is_err() {
            return Ok(Err(RecoveryError::BadOffset(
                offset.chars().take(64).collect(),
            )));
        }
        let max_s = max.to_string();
        let mut args: Vec<&[u8]> = vec![seq.as_bytes(), max_s.as_bytes(), epoch.as_bytes()];
        args.extend(topics.iter().map(|t| t.as_bytes()));
        let r: Vec<Vec<u8>> = self
            .redis
            .script(&self.redis.scripts.replay_seq, ns, &args)
            .await
            .map_err(unavailable)?;
        let status = r.first().map(Vec::as_slice).unwrap_or_default();
        Ok(match status {
            b"ok" => Ok(decode_sorted(&r[1..])),
            b"window" => Err(RecoveryError::Gap(Gap::Window)),
            b"many" => Err(RecoveryError::TooMany(max)),
            _ => Err(RecoveryError::Gap(Gap::Epoch)),
        })
    }

    /// A topic's events after position `p`, or its whole window when `p` is `None`; and the
    /// topic's current position.
    async fn since_position(
        &self,
        ns: &str,
        topic: &str,
        p: Option<&Position>,
        limit: usize,
    ) -> Result<(Result<Vec<Arc<Event>>, Gap>, Position), BrokerError> {
        let (epoch, offset) = match p {
            Some(p) => (p.epoch.as_str(), p.offset.to_string()),
            None => ("", "-1".to_owned()),
        };
        let limit = limit.to_string();
        let r: Vec<Vec<u8>> = self
            .redis
            .script(
                &self.redis.scripts.replay_position,
                ns,
                &[
                    topic.as_bytes(),
                    epoch.as_bytes(),
                    offset.as_bytes(),
                    limit.as_bytes(),
                ],
            )
            .await
            .map_err(unavailable)?;
        let text = |i: usize| String::from_utf8_lossy(r.get(i).map_or(&[][..], |v| v)).into_owned();
        let current = Position {
            topic: topic.to_owned(),
            epoch: text(1),
            offset: text(2).parse().unwrap_or(0),
        };
        let result = match text(0).as_str() {
            "ok" => Ok(decode_sorted(r.get(3..).unwrap_or_default())),
            "window" => Err(Gap::Window),
            _ => Err(Gap::Epoch),
        };
        Ok((result, current))
    }

    fn session_key(&self, ns: &str, pid: &str) -> String {
        self.redis.ns_key(ns, &format!("sess:{pid}"))
    }

    fn user_sessions_key(&self, ns: &str, user: &str) -> String {
        self.redis.ns_key(ns, &format!("usess:{user}"))
    }
}

/// Positions from the emit script's `epoch:offset` answers, one per target topic.
fn positions_of(targets: &[String], answers: &[String]) -> Vec<Position> {
    targets
        .iter()
        .zip(answers)
        .filter_map(|(topic, p)| {
            let (epoch, offset) = p.rsplit_once(':')?;
            Some(Position {
                topic: topic.clone(),
                offset: offset.parse().ok()?,
                epoch: epoch.to_owned(),
            })
        })
        .collect()
}

/// The answer the emit script kept for an idempotency key: the first Emit's id, positions and
/// counts, on the event as it was asked for this time.
fn first_answer(mut event: Event, stored: &[u8]) -> (Arc<Event>, Counted) {
    let v: serde_json::Value = serde_json::from_slice(stored).unwrap_or_default();
    // Lua's JSON writes an empty list as {}: anything but an array counts as empty.
    let strings = |name: &str| -> Vec<String> {
        v[name]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(id) = v["id"].as_str() {
        event.id = id.to_owned();
    }
    event.positions = positions_of(&event.targets, &strings("positions"));
    let counted = Counted {
        duplicate: true,
        connections: v["connections"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        offline_users: strings("offline"),
        members: Vec::new(),
    };
    (Arc::new(event), counted)
}

/// Decodes stored payloads, in sequence order, each once.
fn decode_sorted(payloads: &[Vec<u8>]) -> Vec<Arc<Event>> {
    let mut events: Vec<Event> = payloads
        .iter()
        .filter_map(|p| wire::decode(p).ok().map(|d| d.event))
        .collect();
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);
    events.into_iter().map(Arc::new).collect()
}

impl Broker for RedisBroker {
    fn epoch(&self) -> String {
        self.epoch.read().clone()
    }

    fn publish(
        &self,
        event: Event,
        ack_ref: u64,
        want_members: bool,
        idempotency: Option<(String, Duration)>,
    ) -> BoxFuture<'_, Result<(Arc<Event>, Counted), BrokerError>> {
        Box::pin(async move {
            let (idem_key, idem_ms) = match &idempotency {
                Some((k, w)) => (k.as_str(), w.as_millis().to_string()),
                None => ("", "0".to_owned()),
            };
            let limits = self.limits(&event.namespace);
            let recoverable = event.delivery == DeliveryClass::Recoverable as i32;
            let body = wire::body(&event);
            let now = now_ms().to_string();
            let max_events = limits.max_events.to_string();
            let max_age = limits.max_age_ms.to_string();
            // A namespace's epoch, when Redis has none: a new one on a standalone Redis (the
            // cluster's, lost with everything else); in Redis Cluster the cluster's epoch, so
            // that the namespaces on the shards share the one the edges hold.
            let known = self.epoch.read().clone();
            let candidate = if self.redis.config.cluster && !known.is_empty() {
                known
            } else {
                format!("{:08x}", rand::random::<u32>())
            };
            let ack = ack_ref.to_string();
            let origin = self.node.to_string();
            let nt = event.targets.len().to_string();
            let ne = event.except.len().to_string();
            let mut args: Vec<&[u8]> = vec![
                now.as_bytes(),
                if recoverable { b"1" } else { b"0" },
                max_events.as_bytes(),
                max_age.as_bytes(),
                if want_members { b"1" } else { b"0" },
                candidate.as_bytes(),
                ack.as_bytes(),
                origin.as_bytes(),
                &body,
                nt.as_bytes(),
            ];
            args.extend(event.targets.iter().map(|t| t.as_bytes()));
            args.push(ne.as_bytes());
            args.extend(event.except.iter().map(|t| t.as_bytes()));
            args.extend([idem_key.as_bytes(), idem_ms.as_bytes(), event.id.as_bytes()]);
            let answer: Vec<redis::Value> = self
                .redis
                .script(&self.redis.scripts.emit, &event.namespace, &args)
                .await
                .map_err(unavailable)?;
            if let [
                redis::Value::BulkString(tag),
                redis::Value::BulkString(first),
            ] = answer.as_slice()
                && tag.as_slice() == b"dup"
            {
                return Ok(first_answer(event, first));
            }
            type Answer = (u64, String, u32, Vec<String>, Vec<String>, Vec<String>);
            let (seq, ns_epoch, connections, positions, offline, members): Answer =
                redis::from_redis_value(redis::Value::Array(answer)).map_err(|e| {
                    BrokerError::Unavailable(format!("unexpected answer from Redis: {e}"))
                })?;
            let mut event = event;
            event.seq = seq;
            if recoverable {
                event.offset = format!("{ns_epoch}:{seq}");
                event.positions = positions_of(&event.targets, &positions);
            }
            let members = members
                .chunks(3)
                .filter_map(|m| match m {
                    [conn, user, node] => Some(Member {
                        conn: conn.clone(),
                        user: user.clone(),
                        node: node.parse().unwrap_or(0),
                    }),
                    _ => None,
                })
                .collect();
            Ok((
                Arc::new(event),
                Counted {
                    duplicate: false,
                    connections,
                    offline_users: offline,
                    members,
                },
            ))
        })
    }

    fn keeps_idempotency_keys(&self) -> bool {
        true
    }

    fn relay(&self, event: &Event, origin_link: u64) -> BoxFuture<'_, Result<(), BrokerError>> {
        let mut payload = wire::relay_header(Origin {
            node: self.node,
            link: origin_link,
        })
        .into_bytes();
        payload.extend(wire::body(event));
        let channels: Vec<String> = event
            .targets
            .iter()
            .map(|t| self.channel(&event.namespace, t))
            .collect();
        Box::pin(async move {
            self.redis
                .run(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for ch in channels {
                        pipe.add_command(self.redis.publish(&ch, &payload)).ignore();
                    }
                    pipe.query_async::<()>(&mut c).await
                })
                .await
                .map_err(unavailable)
        })
    }

    fn want(&self, ns: &str, topic: &str) -> BoxFuture<'_, Result<(), BrokerError>> {
        let pattern = topic.len() > 1 && topic.ends_with('*');
        if pattern && self.redis.config.cluster {
            let ns = ns.to_owned();
            return Box::pin(async move { self.want_pattern(&ns, 1).await });
        }
        let channel = if pattern {
            let prefix = &topic[..topic.len() - 1];
            format!("{}*", glob_escape(&self.channel(ns, prefix)))
        } else {
            self.channel(ns, topic)
        };
        if !pattern {
            self.topics
                .lock()
                .insert(channel.clone(), (ns.to_owned(), topic.to_owned()));
        }
        let ns = ns.to_owned();
        Box::pin(async move {
            let mut i = self.interest.lock().await;
            let first_in_ns = {
                let n = i.namespaces.entry(ns.clone()).or_insert(0);
                *n += 1;
                *n == 1
            };
            let map = if pattern {
                &mut i.patterns
            } else {
                &mut i.channels
            };
            let n = map.entry(channel.clone()).or_insert(0);
            *n += 1;
            let first = *n == 1;
            self.redis
                .stats
                .set_topics(i.channels.len() + i.patterns.len());
            let Some(sink) = i.sink.as_mut() else {
                // Subscribed when the connection comes back.
                return Ok(());
            };
            let t = self.redis.config.command_timeout;
            let confirm = |r: Result<redis::RedisResult<()>, tokio::time::error::Elapsed>| match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(BrokerError::Unavailable(e.to_string())),
                Err(_) => Err(BrokerError::Unavailable(format!(
                    "Redis did not confirm a subscription within {t:?}"
                ))),
            };
            if first_in_ns {
                let ch = self.conn_channel(&ns);
                confirm(tokio::time::timeout(t, sink.subscribe(&ch)).await)?;
            }
            if !first {
                return Ok(());
            }
            confirm(if pattern {
                tokio::time::timeout(t, sink.psubscribe(&channel)).await
            } else {
                tokio::time::timeout(t, sink.subscribe(&channel)).await
            })
        })
    }

    fn unwant(&self, ns: &str, topic: &str) -> BoxFuture<'_, ()> {
        let pattern = topic.len() > 1 && topic.ends_with('*');
        if pattern && self.redis.config.cluster {
            let ns = ns.to_owned();
            return Box::pin(async move {
                let _ = self.want_pattern(&ns, -1).await;
            });
        }
        let channel = if pattern {
            let prefix = &topic[..topic.len() - 1];
            format!("{}*", glob_escape(&self.channel(ns, prefix)))
        } else {
            self.channel(ns, topic)
        };
        let ns = ns.to_owned();
        Box::pin(async move {
            let mut i = self.interest.lock().await;
            let map = if pattern {
                &mut i.patterns
            } else {
                &mut i.channels
            };
            let Some(n) = map.get_mut(&channel) else {
                return;
            };
            *n -= 1;
            let last = *n == 0;
            if last {
                map.remove(&channel);
            }
            let last_in_ns = match i.namespaces.get_mut(&ns) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    i.namespaces.remove(&ns);
                    true
                }
                None => false,
            };
            if !last {
                return;
            }
            self.redis
                .stats
                .set_topics(i.channels.len() + i.patterns.len());
            if !pattern {
                self.topics.lock().remove(&channel);
            }
            if let Some(sink) = i.sink.as_mut() {
                let t = self.redis.config.command_timeout;
                let _ = if pattern {
                    tokio::time::timeout(t, sink.punsubscribe(&channel)).await
                } else {
                    tokio::time::timeout(t, sink.unsubscribe(&channel)).await
                };
                if last_in_ns {
                    let ch = self.conn_channel(&ns);
                    let _ = tokio::time::timeout(t, sink.unsubscribe(&ch)).await;
                }
            }
        })
    }

    fn current_seq(&self) -> u64 {
        0
    }

    fn take_feed(&self) -> Option<mpsc::Receiver<FeedItem>> {
        self.feed_rx.lock().take()
    }

    fn history(
        &self,
        ns: &str,
        topic: &str,
        q: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>> {
        let (ns, topic) = (ns.to_owned(), topic.to_owned());
        Box::pin(async move {
            let limit = self.limits(&ns).max_events.saturating_add(1);
            let (result, latest) = self
                .since_position(&ns, &topic, q.since.as_ref(), limit)
                .await?;
            let mut page = HistoryPage {
                latest,
                ..Default::default()
            };
            let mut picked = match result {
                Ok(events) if q.since.is_some() => events,
                Ok(events) => events
                    .into_iter()
                    .filter(|e| e.timestamp_ms >= q.since_ms)
                    .collect(),
                Err(gap) => {
                    // As with the memory broker: the gap is said, and the window given whole.
                    page.gap = Some(gap);
                    self.since_position(&ns, &topic, None, limit)
                        .await?
                        .0
                        .unwrap_or_default()
                }
            };
            if q.reverse {
                picked.reverse();
            }
            page.truncated = picked.len() > q.limit;
            picked.truncate(q.limit);
            page.events = picked;
            Ok(page)
        })
    }

    fn replay_positions(
        &self,
        ns: &str,
        since: &[Position],
    ) -> BoxFuture<'_, Result<Replay, BrokerError>> {
        let ns = ns.to_owned();
        let since = since.to_vec();
        Box::pin(async move {
            let limit = self.limits(&ns).max_events.saturating_add(1);
            let mut events = Vec::new();
            let mut lost = Vec::new();
            for p in &since {
                let (result, current) = self.since_position(&ns, &p.topic, Some(p), limit).await?;
                match result {
                    Ok(e) => events.extend(e),
                    Err(gap) => lost.push(Unrecoverable {
                        topic: p.topic.clone(),
                        gap,
                        current,
                    }),
                }
            }
            events.sort_by_key(|e| e.seq);
            events.dedup_by_key(|e| e.seq);
            Ok((events, lost))
        })
    }

    fn replay_offset(
        &self,
        ns: &str,
        topics: &[String],
        offset: &str,
        max: usize,
    ) -> BoxFuture<'_, Result<Missed, BrokerError>> {
        let (ns, topics, offset) = (ns.to_owned(), topics.to_vec(), offset.to_owned());
        Box::pin(async move { self.replay_offset_inner(&ns, &topics, &offset, max).await })
    }

    fn save_session(
        &self,
        pid: String,
        record: SessionRecord,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let ttl = u64::try_from(record.expires_ms - now_ms()).unwrap_or(0);
            if ttl == 0 {
                return Ok(());
            }
            let key = self.session_key(&record.namespace, &pid);
            let index = self.user_sessions_key(&record.namespace, &record.user_id);
            let value = serde_json::to_string(&record)
                .map_err(|e| BrokerError::Unavailable(e.to_string()))?;
            self.redis
                .run(|mut c| async move {
                    redis::pipe()
                        .pset_ex(&key, value, ttl)
                        .ignore()
                        .sadd(&index, &pid)
                        .ignore()
                        .pexpire(&index, i64::try_from(ttl).unwrap_or(i64::MAX))
                        .ignore()
                        .query_async::<()>(&mut c)
                        .await
                })
                .await
                .map_err(unavailable)
        })
    }

    fn take_session(
        &self,
        ns: &str,
        pid: &str,
    ) -> BoxFuture<'_, Result<Option<SessionRecord>, BrokerError>> {
        let (ns, pid) = (ns.to_owned(), pid.to_owned());
        Box::pin(async move {
            // One step: the session goes with the rooms it is restored with (see TAKE_SESSION).
            let r: Vec<redis::Value> = self
                .redis
                .script(&self.redis.scripts.take_session, &ns, &[pid.as_bytes()])
                .await
                .map_err(unavailable)?;
            let [raw, rooms, granted] = r.as_slice() else {
                return Ok(None);
            };
            let strings = |v: &redis::Value| -> Vec<String> {
                redis::from_redis_value_ref::<Vec<String>>(v).unwrap_or_default()
            };
            let Some(mut rec) = redis::from_redis_value_ref::<String>(raw)
                .ok()
                .and_then(|v| serde_json::from_str::<SessionRecord>(&v).ok())
            else {
                return Ok(None);
            };
            // One reading of the clock: a session that is good is good at that reading.
            let now = now_ms();
            if rec.expires_ms == LIVE_SESSION {
                // Kept since registration: its rooms are its connection's, or those kept when it
                // went (its expiry is then the key's, so it is good as long as it is there).
                (rec.rooms, rec.granted_rooms) = (strings(rooms), strings(granted));
                rec.expires_ms = now + 1;
            }
            Ok(Some(rec).filter(|r| r.expires_ms > now))
        })
    }

    fn leave_saved(
        &self,
        ns: &str,
        user: &str,
        room: &str,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        let index = self.user_sessions_key(ns, user);
        let (ns, room) = (ns.to_owned(), room.to_owned());
        Box::pin(async move {
            let pids: Vec<String> = self
                .redis
                .run(|mut c| async move { c.smembers(index).await })
                .await
                .map_err(unavailable)?;
            for pid in pids {
                let key = self.session_key(&ns, &pid);
                let swept_key = self.redis.ns_key(&ns, &format!("sessrooms:{pid}"));
                let granted_key = self.redis.ns_key(&ns, &format!("sessgranted:{pid}"));
                let room = room.clone();
                self.redis
                    .run(|mut c| async move {
                        let _: i64 = c.srem(&swept_key, &room).await?;
                        let _: i64 = c.srem(&granted_key, &room).await?;
                        let v: Option<String> = c.get(&key).await?;
                        let Some(mut rec) =
                            v.and_then(|v| serde_json::from_str::<SessionRecord>(&v).ok())
                        else {
                            return Ok(());
                        };
                        rec.rooms.retain(|r| *r != room);
                        rec.granted_rooms.retain(|r| *r != room);
                        let v = serde_json::to_string(&rec).unwrap_or_default();
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(v)
                            .arg("KEEPTTL")
                            .arg("XX")
                            .query_async::<()>(&mut c)
                            .await
                    })
                    .await
                    .map_err(unavailable)?;
            }
            Ok(())
        })
    }

    fn maintain(&self) -> BoxFuture<'_, ()> {
        // Logs and sessions expire in Redis by themselves.
        Box::pin(async {})
    }
}

/// Escapes Redis glob characters, so that a prefix matches only itself.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
