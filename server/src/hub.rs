//! The core's shared state: the index of every connection its edges hold, the
//! edge links, the direct subscribers, pending acks; and the dispatcher that
//! fans each accepted event out once per link and once per subscriber.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use herald_index::{Index, Removed, Topic};
use herald_proto::v1::{
    Ack, Arg, Delivery, Event, LinkResponse, SubscribeResponse, link_response, subscribe_response,
};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::broker::{Counted, Counter, Envelope, FeedItem, Member};
use crate::feed::{Feed, FeedError};

pub type LinkId = u64;
pub type SubId = u64;

/// An edge link as the hub keeps it.
pub struct Link {
    pub feed: Feed<LinkResponse>,
    pub name: String,
}

/// Acks awaited for one Emit. Until the broker said who the event reached (`pending` is `None`),
/// acks that arrive early are kept in `done`.
struct AckWaiter {
    pending: Option<HashMap<String, (String, u32)>>,
    done: Vec<Ack>,
    notify: Option<oneshot::Sender<()>>,
}

/// A subscriber's feed and its (namespace, topic) keys.
type Subscriber = (Feed<SubscribeResponse>, Vec<(String, String)>);

/// Direct subscribers by exact topic, and by topic prefix for patterns (`room:campaign:*`).
#[derive(Default)]
struct Subscribers {
    by_topic: HashMap<(String, String), Vec<SubId>>,
    patterns: Vec<(String, String, SubId)>,
    feeds: HashMap<SubId, Subscriber>,
}

/// Shared core state.
pub struct Hub {
    pub index: crate::presence::SharedIndex,
    links: Mutex<HashMap<LinkId, Link>>,
    subs: Mutex<Subscribers>,
    acks: Mutex<HashMap<u64, AckWaiter>>,
    next_id: AtomicU64,
    pub cancel: CancellationToken,
    /// Counters of the fan-out and the API (`/metrics`).
    pub metrics: crate::metrics::CoreMetrics,
}

impl Hub {
    pub fn new(cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            index: Arc::new(RwLock::new(Index::new())),
            links: Mutex::new(HashMap::new()),
            subs: Mutex::new(Subscribers::default()),
            acks: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            cancel,
            metrics: crate::metrics::CoreMetrics::default(),
        })
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    // ---- links ----

    pub fn add_link(&self, id: LinkId, link: Link) {
        self.links.lock().insert(id, link);
    }

    /// Forgets a link and every connection that came through it.
    pub fn drop_link(&self, id: LinkId) -> Vec<Removed<LinkId>> {
        let Some(link) = self.links.lock().remove(&id) else {
            return Vec::new();
        };
        link.feed.close(Status::cancelled("link closed"));
        let removed = self.index.write().remove_where(|l| *l == id);
        tracing::info!(link = id, edge = %link.name, connections = removed.len(), "edge link closed");
        removed
    }

    pub fn link_count(&self) -> usize {
        self.links.lock().len()
    }

    /// Whether `link` is the only link and nobody subscribes directly: no one else to deliver to.
    pub fn alone(&self, link: LinkId) -> bool {
        {
            let links = self.links.lock();
            if links.len() != 1 || !links.contains_key(&link) {
                return false;
            }
        }
        self.subs.lock().feeds.is_empty()
    }

    /// Deliveries waiting in the edge links' queues (all links).
    pub fn link_queue_depth(&self) -> usize {
        self.links.lock().values().map(|l| l.feed.queued()).sum()
    }

    /// Events waiting in the direct subscribers' queues (all subscribers).
    pub fn subscriber_queue_depth(&self) -> usize {
        self.subs
            .lock()
            .feeds
            .values()
            .map(|(f, _)| f.queued())
            .sum()
    }

    pub fn subscriber_count(&self) -> usize {
        self.subs.lock().feeds.len()
    }

    /// Sends a control message to one link (membership change, disconnect).
    pub fn send_to_link(&self, id: LinkId, msg: link_response::Msg) {
        let links = self.links.lock();
        if let Some(l) = links.get(&id)
            && l.feed.try_send(LinkResponse { msg: Some(msg) }) == Err(FeedError::Full)
        {
            l.feed
                .close(Status::resource_exhausted("edge link cannot keep up"));
        }
    }

    pub fn rename_link(&self, id: LinkId, name: String) {
        if let Some(l) = self.links.lock().get_mut(&id) {
            l.name = name;
        }
    }

    // ---- subscribers ----

    /// `keys` are (namespace, topic); a topic ending in '*' (other than "*") is a prefix pattern.
    pub fn add_subscriber(
        &self,
        id: SubId,
        feed: Feed<SubscribeResponse>,
        keys: Vec<(String, String)>,
    ) {
        let mut s = self.subs.lock();
        for (ns, topic) in &keys {
            match topic.strip_suffix('*') {
                Some(prefix) if !prefix.is_empty() => {
                    s.patterns.push((ns.clone(), prefix.to_owned(), id));
                }
                _ => s
                    .by_topic
                    .entry((ns.clone(), topic.clone()))
                    .or_default()
                    .push(id),
            }
        }
        s.feeds.insert(id, (feed, keys));
    }

    pub fn remove_subscriber(&self, id: SubId) {
        let mut s = self.subs.lock();
        if let Some((feed, keys)) = s.feeds.remove(&id) {
            feed.close(Status::cancelled("unsubscribed"));
            s.patterns.retain(|(_, _, x)| *x != id);
            for k in keys {
                if let Some(v) = s.by_topic.get_mut(&k) {
                    v.retain(|x| *x != id);
                    if v.is_empty() {
                        s.by_topic.remove(&k);
                    }
                }
            }
        }
    }

    // ---- acks ----

    /// Starts collecting acks for `ack_ref`, before the event is published.
    pub fn await_acks(&self, ack_ref: u64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.acks.lock().insert(
            ack_ref,
            AckWaiter {
                pending: None,
                done: Vec::new(),
                notify: Some(tx),
            },
        );
        rx
    }

    /// The connections the event reached: the ones that have not acked yet are awaited.
    pub fn expect_acks(&self, ack_ref: u64, members: Vec<Member>) {
        let mut acks = self.acks.lock();
        if let Some(w) = acks.get_mut(&ack_ref) {
            let mut pending: HashMap<String, (String, u32)> = members
                .into_iter()
                .map(|m| (m.conn, (m.user, m.node)))
                .collect();
            // An ack that came before the count (from another core, whose connections this
            // index does not know) takes its user from the count.
            for a in &mut w.done {
                if let Some((user, _)) = pending.remove(&a.connection_id)
                    && a.user_id.is_empty()
                {
                    a.user_id = user;
                }
            }
            w.pending = Some(pending);
            complete_if_done(w);
        }
    }

    /// Ends the wait: acks received, and a timeout entry for every connection still pending.
    pub fn finish_acks(&self, ack_ref: u64) -> Vec<Ack> {
        let Some(w) = self.acks.lock().remove(&ack_ref) else {
            return Vec::new();
        };
        let mut out = w.done;
        out.extend(
            w.pending
                .unwrap_or_default()
                .into_iter()
                .map(|(conn, (user, _))| Ack {
                    connection_id: conn,
                    user_id: user,
                    acked: false,
                    args: Vec::new(),
                    error: "timeout".into(),
                }),
        );
        out.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        out
    }

    pub fn client_ack(&self, ack_ref: u64, conn: &str, args: Vec<Arg>) {
        let mut acks = self.acks.lock();
        let Some(w) = acks.get_mut(&ack_ref) else {
            return;
        };
        let user = match &mut w.pending {
            Some(p) => match p.remove(conn) {
                Some((user, _)) => user,
                None => return,
            },
            None if w.done.iter().any(|a| a.connection_id == conn) => return,
            None => self
                .index
                .read()
                .get(conn)
                .and_then(|c| c.user.as_deref().map(str::to_owned))
                .unwrap_or_default(),
        };
        w.done.push(Ack {
            connection_id: conn.to_owned(),
            user_id: user,
            acked: true,
            args,
            error: String::new(),
        });
        complete_if_done(w);
    }

    /// A connection went away: it will never ack.
    pub fn ack_conn_gone(&self, conn: &str) {
        self.fail_acks(|c, _| c == conn);
    }

    /// A cluster node died: its connections will never ack.
    pub fn ack_node_gone(&self, node: u32) {
        self.fail_acks(|_, n| n == node);
    }

    fn fail_acks(&self, gone: impl Fn(&str, u32) -> bool) {
        for w in self.acks.lock().values_mut() {
            let Some(p) = &mut w.pending else { continue };
            let lost: Vec<String> = p
                .iter()
                .filter(|(c, (_, n))| gone(c, *n))
                .map(|(c, _)| c.clone())
                .collect();
            for conn in lost {
                if let Some((user, _)) = p.remove(&conn) {
                    w.done.push(Ack {
                        connection_id: conn,
                        user_id: user,
                        acked: false,
                        args: Vec::new(),
                        error: "disconnected".into(),
                    });
                }
            }
            complete_if_done(w);
        }
    }

    /// The core fell behind its broker (or the broker lost events): every edge link and direct
    /// subscriber stream is closed with UNAVAILABLE, and each resumes from its own positions, which
    /// the topic logs answer (or report as a gap). Nobody goes on as if nothing was missed.
    pub fn resync(&self, why: &str) {
        tracing::warn!(
            reason = why,
            "closing every edge link and subscriber stream so that they resume from their positions"
        );
        for l in self.links.lock().values() {
            l.feed
                .close(Status::unavailable(format!("{why}; link again")));
        }
        let ids: Vec<SubId> = {
            let subs = self.subs.lock();
            for (feed, _) in subs.feeds.values() {
                feed.close(Status::unavailable(format!(
                    "{why}; subscribe again from your last positions"
                )));
            }
            subs.feeds.keys().copied().collect()
        };
        for id in ids {
            self.remove_subscriber(id);
        }
    }

    // ---- fan-out ----

    /// Delivers one accepted event: one copy per link that holds a matching
    /// connection, one per direct subscriber of a matching topic.
    pub fn dispatch(&self, env: &Envelope) {
        self.dispatch_skipping(env, None);
    }

    /// [`Hub::dispatch`], except to link `skip` (which delivered the event itself).
    pub fn dispatch_skipping(&self, env: &Envelope, skip: Option<LinkId>) {
        let ev = &env.event;
        self.dispatch_links(ev, env.ack_ref, skip);
        self.dispatch_subscribers(ev);
    }

    fn dispatch_links(&self, ev: &Arc<Event>, ack_ref: u64, skip: Option<LinkId>) {
        let targets: Vec<Topic> = ev
            .targets
            .iter()
            .filter_map(|t| Topic::parse(t).ok())
            .collect();
        let except: Vec<Topic> = ev
            .except
            .iter()
            .filter_map(|t| Topic::parse(t).ok())
            .collect();
        let mut wanted: Vec<LinkId> = Vec::new();
        {
            let links = self.links.lock();
            if links.is_empty() {
                return;
            }
            let all_links = links.len();
            drop(links);
            let ix = self.index.read();
            ix.resolve(&ev.namespace, &targets, &except, |c| {
                if wanted.len() < all_links && Some(c.value) != skip && !wanted.contains(&c.value) {
                    wanted.push(c.value);
                }
            });
        }
        if wanted.is_empty() {
            return;
        }
        let counters = self.metrics.namespace(&ev.namespace);
        let links = self.links.lock();
        for id in wanted {
            let Some(l) = links.get(&id) else { continue };
            let msg = LinkResponse {
                msg: Some(link_response::Msg::Delivery(Delivery {
                    event: Some((**ev).clone()),
                    ack_ref,
                })),
            };
            let sent = l.feed.try_send(msg);
            counters.delivered(sent.is_ok());
            if sent == Err(FeedError::Full) {
                self.metrics.slow_link();
                tracing::warn!(link = id, edge = %l.name, "edge link cannot keep up; closing it");
                l.feed
                    .close(Status::resource_exhausted("edge link cannot keep up"));
            }
        }
    }

    fn dispatch_subscribers(&self, ev: &Arc<Event>) {
        let subs = self.subs.lock();
        if subs.feeds.is_empty() {
            return;
        }
        let mut ids: Vec<SubId> = Vec::new();
        let ns = ev.namespace.clone();
        for t in ev.targets.iter().map(String::as_str).chain(["*"]) {
            if let Some(v) = subs.by_topic.get(&(ns.clone(), t.to_owned())) {
                for id in v {
                    if !ids.contains(id) {
                        ids.push(*id);
                    }
                }
            }
        }
        for (pns, prefix, id) in &subs.patterns {
            if *pns == ns
                && !ids.contains(id)
                && ev.targets.iter().any(|t| t.starts_with(prefix.as_str()))
            {
                ids.push(*id);
            }
        }
        let counters = self.metrics.namespace(&ev.namespace);
        let mut slow = Vec::new();
        for id in ids {
            let Some((feed, _)) = subs.feeds.get(&id) else {
                continue;
            };
            let item = SubscribeResponse {
                item: Some(subscribe_response::Item::Event((**ev).clone())),
            };
            let sent = feed.try_send(item);
            counters.delivered(sent.is_ok());
            match sent {
                Ok(()) => {}
                Err(FeedError::Full) => {
                    self.metrics.slow_subscriber();
                    feed.close(Status::resource_exhausted(
                        "subscriber cannot keep up: its queue is full",
                    ));
                    slow.push(id);
                }
                Err(FeedError::Closed) => slow.push(id),
            }
        }
        drop(subs);
        for id in slow {
            self.remove_subscriber(id);
        }
    }

    /// Runs the dispatcher until the broker feed ends or the hub is cancelled.
    pub async fn run_dispatcher(self: Arc<Self>, mut feed: mpsc::Receiver<FeedItem>) {
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => break,
                item = feed.recv() => match item {
                    Some(FeedItem::Event(env)) => self.dispatch(&env),
                    Some(FeedItem::Resync(why)) => self.resync(&why),
                    None => break,
                },
            }
        }
    }
}

fn complete_if_done(w: &mut AckWaiter) {
    if w.pending.as_ref().is_some_and(HashMap::is_empty)
        && let Some(n) = w.notify.take()
    {
        let _ = n.send(());
    }
}

impl Counter for Hub {
    fn count(&self, event: &Event, want_members: bool, sequence: &mut dyn FnMut()) -> Counted {
        let targets: Vec<Topic> = event
            .targets
            .iter()
            .filter_map(|t| Topic::parse(t).ok())
            .collect();
        let except: Vec<Topic> = event
            .except
            .iter()
            .filter_map(|t| Topic::parse(t).ok())
            .collect();
        let ns = event.namespace.as_str();
        let ix = self.index.read();
        let mut members = Vec::new();
        let n = ix.resolve(ns, &targets, &except, |c| {
            if want_members {
                members.push(Member {
                    conn: c.id.to_string(),
                    user: c.user.as_deref().unwrap_or_default().to_owned(),
                    node: 0,
                });
            }
        });
        let offline_users = targets
            .iter()
            .filter_map(|t| match t {
                Topic::User(u) if !ix.is_online(ns, u) => Some((*u).to_owned()),
                _ => None,
            })
            .collect();
        // Still under the read lock: no connection registers between the count and the number.
        sequence();
        Counted {
            duplicate: false,
            connections: u32::try_from(n).unwrap_or(u32::MAX),
            offline_users,
            members,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use tokio_util::sync::CancellationToken;

    use super::*;

    #[tokio::test]
    async fn a_resync_ends_direct_subscriber_streams_so_they_resume_from_their_positions() {
        let stop = CancellationToken::new();
        let hub = Hub::new(stop.clone());
        let (feed, mut stream) = crate::feed::feed::<SubscribeResponse>(8, &stop);
        hub.add_subscriber(1, feed, vec![("/".into(), "room:a".into())]);
        hub.resync("the core fell behind its broker");
        let end = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("the stream ends");
        let status = end.expect("an item").expect_err("a status, not an event");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().contains("subscribe again"), "{status:?}");
        assert_eq!(hub.subscriber_count(), 0);
    }

    #[tokio::test]
    async fn an_ack_from_another_core_before_the_count_keeps_its_user() {
        let hub = Hub::new(CancellationToken::new());
        let _done = hub.await_acks(7);
        // The connection is held by another core: this core's index does not know its user.
        hub.client_ack(7, "c1", Vec::new());
        hub.expect_acks(
            7,
            vec![Member {
                conn: "c1".into(),
                user: "alice".into(),
                node: 2,
            }],
        );
        let acks = hub.finish_acks(7);
        assert_eq!(acks.len(), 1);
        assert!(acks[0].acked);
        assert_eq!(acks[0].user_id, "alice");
    }
}
