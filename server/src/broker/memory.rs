//! In-memory broker: a bounded queue from Emit to this process's dispatcher,
//! per-topic recovery logs and saved sessions, all under one small lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use herald_proto::v1::{DeliveryClass, Event, Position};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::log::{Gap, Limits, TopicLog};
use super::sessions::{SessionRecord, Sessions};
use super::{
    Broker, BrokerError, Counted, Counter, Envelope, FeedItem, HistoryPage, HistoryQuery, Missed,
    RecoveryError, Replay, Unrecoverable,
};
use crate::clock::now_ms;

/// How long Emit waits for room in a full queue before answering UNAVAILABLE.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Saved sessions kept at most.
const MAX_SESSIONS: usize = 100_000;

struct State {
    /// Broker-wide order of recoverable events.
    seq: u64,
    /// Makes every log's epoch unique within this broker's life.
    generation: u64,
    logs: HashMap<(String, String), TopicLog>,
    sessions: Sessions,
}

/// The default broker of a single process.
pub struct MemoryBroker {
    tx: mpsc::Sender<FeedItem>,
    rx: Mutex<Option<mpsc::Receiver<FeedItem>>>,
    /// Counts recipients in this process's index (set once the hub exists).
    counter: OnceLock<Arc<dyn Counter>>,
    /// The newest sequence number, readable without the state lock.
    published: AtomicU64,
    /// Changes at every start: offsets of an earlier run are "another epoch".
    epoch: String,
    limits: HashMap<String, Limits>,
    default_limits: Limits,
    state: Mutex<State>,
}

impl MemoryBroker {
    /// `capacity` bounds the events accepted but not yet dispatched; `limits`
    /// bound each namespace's recovery logs.
    pub fn new(capacity: usize, limits: HashMap<String, Limits>, default_limits: Limits) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let epoch = format!("{:08x}", rand::random::<u32>());
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            counter: OnceLock::new(),
            published: AtomicU64::new(0),
            epoch,
            limits,
            default_limits,
            state: Mutex::new(State {
                seq: 0,
                generation: 0,
                logs: HashMap::new(),
                sessions: Sessions::new(MAX_SESSIONS),
            }),
        }
    }

    /// Counts recipients with `counter` from now on.
    pub fn set_counter(&self, counter: Arc<dyn Counter>) {
        let _ = self.counter.set(counter);
    }

    fn limits(&self, ns: &str) -> Limits {
        self.limits.get(ns).copied().unwrap_or(self.default_limits)
    }

    /// Gives the event its sequence number (and, when recoverable, its positions and offset,
    /// appended to its topics' logs). Called with the state locked, so that the order of
    /// sequence numbers is the order in which events enter the dispatch queue.
    fn record(&self, st: &mut State, mut event: Event) -> Arc<Event> {
        let seq = st.seq;
        event.seq = seq;
        if event.delivery != DeliveryClass::Recoverable as i32 {
            return Arc::new(event);
        }
        let now = now_ms();
        let limits = self.limits(&event.namespace);
        event.offset = format!("{}:{seq}", self.epoch);
        // Positions are known before the append; the stored copy carries them too.
        let mut positions = Vec::with_capacity(event.targets.len());
        for topic in &event.targets {
            let key = (event.namespace.clone(), topic.clone());
            if !st.logs.contains_key(&key) {
                st.generation += 1;
                let epoch = format!("{}-{}", self.epoch, st.generation);
                st.logs.insert(key.clone(), TopicLog::new(epoch, now));
            }
            let log = &st.logs[&key];
            positions.push(Position {
                topic: topic.clone(),
                offset: log.last + 1,
                epoch: log.epoch.clone(),
            });
        }
        event.positions = positions;
        let event = Arc::new(event);
        for topic in &event.targets {
            if let Some(log) = st.logs.get_mut(&(event.namespace.clone(), topic.clone())) {
                log.append(seq, event.clone(), now, limits);
            }
        }
        event
    }

    fn current(&self, st: &State, ns: &str, topic: &str) -> Position {
        match st.logs.get(&(ns.to_owned(), topic.to_owned())) {
            Some(log) => Position {
                topic: topic.to_owned(),
                offset: log.last,
                epoch: log.epoch.clone(),
            },
            None => Position {
                topic: topic.to_owned(),
                offset: 0,
                epoch: String::new(),
            },
        }
    }
}

/// "{epoch}:{seq}" → seq, when the epoch is ours.
fn parse_offset(epoch: &str, offset: &str) -> Result<u64, RecoveryError> {
    let (e, seq) = offset
        .split_once(':')
        .ok_or_else(|| RecoveryError::BadOffset(offset.chars().take(64).collect()))?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| RecoveryError::BadOffset(offset.chars().take(64).collect()))?;
    if e != epoch {
        return Err(RecoveryError::Gap(Gap::Epoch));
    }
    Ok(seq)
}

impl Broker for MemoryBroker {
    fn epoch(&self) -> String {
        self.epoch.clone()
    }

    fn publish(
        &self,
        event: Event,
        ack_ref: u64,
        want_members: bool,
        _idempotency: Option<(String, Duration)>,
    ) -> BoxFuture<'_, Result<(Arc<Event>, Counted), BrokerError>> {
        Box::pin(async move {
            // Room in the queue first; then count, sequence and enqueue under one lock, so that
            // concurrent publishers cannot enqueue in another order than their sequence numbers,
            // and a connection is counted exactly when it registered before the event's number.
            let permit = match tokio::time::timeout(ACCEPT_TIMEOUT, self.tx.reserve()).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(BrokerError::Closed),
                Err(_) => return Err(BrokerError::Overloaded(ACCEPT_TIMEOUT)),
            };
            let mut st = self.state.lock();
            let mut sequence = || {
                st.seq += 1;
                self.published.store(st.seq, Ordering::Release);
            };
            let counted = match self.counter.get() {
                Some(c) => c.count(&event, want_members, &mut sequence),
                None => {
                    sequence();
                    Counted::default()
                }
            };
            let event = self.record(&mut st, event);
            permit.send(FeedItem::Event(Envelope {
                event: event.clone(),
                ack_ref,
            }));
            Ok((event, counted))
        })
    }

    fn keeps_idempotency_keys(&self) -> bool {
        false
    }

    fn relay(&self, _event: &Event, _origin_link: u64) -> BoxFuture<'_, Result<(), BrokerError>> {
        // One process: the core delivered it already.
        Box::pin(async { Ok(()) })
    }

    fn want(&self, _ns: &str, _topic: &str) -> BoxFuture<'_, Result<(), BrokerError>> {
        // Every event of this process reaches its dispatcher.
        Box::pin(async { Ok(()) })
    }

    fn unwant(&self, _ns: &str, _topic: &str) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn current_seq(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    fn take_feed(&self) -> Option<mpsc::Receiver<FeedItem>> {
        self.rx.lock().take()
    }

    fn history(
        &self,
        ns: &str,
        topic: &str,
        q: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>> {
        let st = self.state.lock();
        let latest = self.current(&st, ns, topic);
        let mut page = HistoryPage {
            latest,
            ..Default::default()
        };
        if let Some(log) = st.logs.get(&(ns.to_owned(), topic.to_owned())) {
            let mut picked: Vec<Arc<Event>> = match &q.since {
                Some(p) => match log.after_offset(&p.epoch, p.offset) {
                    Ok(it) => it.map(|e| e.event.clone()).collect(),
                    Err(gap) => {
                        page.gap = Some(gap);
                        log.entries().map(|e| e.event.clone()).collect()
                    }
                },
                None => log
                    .entries()
                    .filter(|e| e.at_ms >= q.since_ms)
                    .map(|e| e.event.clone())
                    .collect(),
            };
            if q.reverse {
                picked.reverse();
            }
            page.truncated = picked.len() > q.limit;
            picked.truncate(q.limit);
            page.events = picked;
        } else if let Some(p) = &q.since
            && (p.offset > 0 || !p.epoch.is_empty())
        {
            page.gap = Some(Gap::Epoch);
        }
        Box::pin(async move { Ok(page) })
    }

    fn replay_positions(
        &self,
        ns: &str,
        since: &[Position],
    ) -> BoxFuture<'_, Result<Replay, BrokerError>> {
        let st = self.state.lock();
        let mut entries = Vec::new();
        let mut lost = Vec::new();
        for p in since {
            let key = (ns.to_owned(), p.topic.clone());
            let result = match st.logs.get(&key) {
                Some(log) => log
                    .after_offset(&p.epoch, p.offset)
                    .map(|it| entries.extend(it.map(|e| (e.seq, e.event.clone())))),
                None if p.offset == 0 && p.epoch.is_empty() => Ok(()),
                None => Err(Gap::Epoch),
            };
            if let Err(gap) = result {
                lost.push(Unrecoverable {
                    topic: p.topic.clone(),
                    gap,
                    current: self.current(&st, ns, &p.topic),
                });
            }
        }
        entries.sort_by_key(|(seq, _)| *seq);
        entries.dedup_by_key(|(seq, _)| *seq);
        let events = entries.into_iter().map(|(_, e)| e).collect();
        Box::pin(async move { Ok((events, lost)) })
    }

    fn replay_offset(
        &self,
        ns: &str,
        topics: &[String],
        offset: &str,
        max: usize,
    ) -> BoxFuture<'_, Result<Missed, BrokerError>> {
        let result = (|| {
            let seq = parse_offset(&self.epoch, offset)?;
            let st = self.state.lock();
            if seq > st.seq {
                return Err(RecoveryError::Gap(Gap::Epoch));
            }
            let mut entries = Vec::new();
            for t in topics {
                if let Some(log) = st.logs.get(&(ns.to_owned(), t.clone())) {
                    let it = log.after_seq(seq).map_err(RecoveryError::Gap)?;
                    entries.extend(it.map(|e| (e.seq, e.event.clone())));
                    if entries.len() > max * topics.len().max(1) {
                        return Err(RecoveryError::TooMany(max));
                    }
                }
            }
            entries.sort_by_key(|(seq, _)| *seq);
            entries.dedup_by_key(|(seq, _)| *seq);
            if entries.len() > max {
                return Err(RecoveryError::TooMany(max));
            }
            Ok(entries.into_iter().map(|(_, e)| e).collect())
        })();
        Box::pin(async move { Ok(result) })
    }

    fn save_session(
        &self,
        pid: String,
        record: SessionRecord,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        self.state.lock().sessions.save(pid, record);
        Box::pin(async { Ok(()) })
    }

    fn take_session(
        &self,
        _ns: &str,
        pid: &str,
    ) -> BoxFuture<'_, Result<Option<SessionRecord>, BrokerError>> {
        let rec = self.state.lock().sessions.take(pid, now_ms());
        Box::pin(async move { Ok(rec) })
    }

    fn leave_saved(
        &self,
        ns: &str,
        user: &str,
        room: &str,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        self.state.lock().sessions.leave(ns, user, room);
        Box::pin(async { Ok(()) })
    }

    fn maintain(&self) -> BoxFuture<'_, ()> {
        let now = now_ms();
        let mut st = self.state.lock();
        st.sessions.expire(now);
        let limits = &self.limits;
        let default = self.default_limits;
        st.logs.retain(|(ns, _), log| {
            let l = limits.get(ns).copied().unwrap_or(default);
            log.trim(now, l);
            // An empty log idle for a window is forgotten; a new one gets a new epoch.
            !(log.is_empty() && now - log.touched_ms > l.max_age_ms)
        });
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(max_events: usize) -> MemoryBroker {
        MemoryBroker::new(
            64,
            HashMap::new(),
            Limits {
                max_events,
                max_age_ms: 60_000,
            },
        )
    }

    fn ev(targets: &[&str], recoverable: bool) -> Event {
        Event {
            namespace: "/".into(),
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            delivery: if recoverable {
                DeliveryClass::Recoverable as i32
            } else {
                DeliveryClass::Volatile as i32
            },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn positions_per_topic_and_one_broker_order() {
        let b = broker(100);
        let _feed = b.take_feed();
        let e1 = b
            .publish(ev(&["room:a"], true), 0, false, None)
            .await
            .unwrap()
            .0;
        let e2 = b
            .publish(ev(&["room:a", "user:u"], true), 0, false, None)
            .await
            .unwrap()
            .0;
        let v = b
            .publish(ev(&["room:a"], false), 0, false, None)
            .await
            .unwrap()
            .0;
        assert_eq!(e1.positions[0].offset, 1);
        assert_eq!(
            e2.positions.iter().map(|p| p.offset).collect::<Vec<_>>(),
            [2, 1]
        );
        assert!(
            v.positions.is_empty() && v.offset.is_empty(),
            "volatile: no position"
        );
        let (events, lost) = b
            .replay_positions("/", std::slice::from_ref(&e1.positions[0]))
            .await
            .unwrap();
        assert!(lost.is_empty());
        assert_eq!(events.len(), 1);
        let missed = b
            .replay_offset("/", &["user:u".into(), "room:a".into()], &e1.offset, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(missed.len(), 1, "e2 once, though in two logs");
        assert!(matches!(
            b.replay_offset("/", &["room:a".into()], "zz:1", 100)
                .await
                .unwrap(),
            Err(RecoveryError::Gap(Gap::Epoch))
        ));
        assert!(matches!(
            b.replay_offset("/", &["room:a".into()], "garbage", 100)
                .await
                .unwrap(),
            Err(RecoveryError::BadOffset(_))
        ));
    }

    #[tokio::test]
    async fn window_overflow_is_reported() {
        let b = broker(2);
        let _feed = b.take_feed();
        let first = b
            .publish(ev(&["room:a"], true), 0, false, None)
            .await
            .unwrap()
            .0;
        for _ in 0..3 {
            b.publish(ev(&["room:a"], true), 0, false, None)
                .await
                .unwrap();
        }
        let (_, lost) = b.replay_positions("/", &first.positions).await.unwrap();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].current.offset, 4);
        assert!(matches!(
            b.replay_offset("/", &["room:a".into()], &first.offset, 100)
                .await
                .unwrap(),
            Err(RecoveryError::Gap(Gap::Window))
        ));
    }
}
