//! One suite for every broker: the in-memory broker of a single process and the Redis broker of a
//! cluster (on the test Redis, under a key prefix of its own) must give the same positions,
//! replays, gaps, sessions and history, and deliver what they accept.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use herald_proto::v1::{DeliveryClass, Event, Position};
use herald_server::broker::{
    Broker, FeedItem, Gap, HistoryQuery, Limits, MemoryBroker, RecoveryError, RedisBroker,
    SessionRecord,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GUARD: Duration = Duration::from_secs(10);

fn limits(max_events: usize) -> Limits {
    Limits {
        max_events,
        max_age_ms: 60_000,
    }
}

struct Subject {
    broker: Arc<dyn Broker>,
    feed: mpsc::Receiver<FeedItem>,
    stop: CancellationToken,
}

impl Drop for Subject {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn memory(max_events: usize) -> Subject {
    let b = Arc::new(MemoryBroker::new(64, HashMap::new(), limits(max_events)));
    let feed = b.take_feed().unwrap();
    Subject {
        broker: b,
        feed,
        stop: CancellationToken::new(),
    }
}

async fn redis(max_events: usize, cluster: bool) -> Subject {
    let r = if cluster {
        common::test_redis_cluster("conformance").await
    } else {
        common::test_redis("conformance").await
    };
    let node = r.claim_node_id().await.unwrap();
    let (ctl, _) = mpsc::channel(16);
    let b = RedisBroker::new(r, node, 64, HashMap::new(), limits(max_events), ctl);
    let feed = b.take_feed().unwrap();
    let stop = CancellationToken::new();
    let stream = b.subscriber().await.unwrap();
    tokio::spawn(b.clone().run_reader(stream, stop.clone()));
    Subject {
        broker: b,
        feed,
        stop,
    }
}

/// Runs a scenario against both brokers: in memory, and on Redis (standalone and Redis Cluster).
async fn both<F, Fut>(max_events: usize, scenario: F)
where
    F: Fn(Subject) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(memory(max_events)).await;
    scenario(redis(max_events, false).await).await;
    scenario(redis(max_events, true).await).await;
}

fn ev(targets: &[&str], recoverable: bool) -> Event {
    Event {
        id: format!("{:032x}", rand::random::<u128>()),
        namespace: "/".into(),
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        name: "e".into(),
        delivery: if recoverable {
            DeliveryClass::Recoverable as i32
        } else {
            DeliveryClass::Volatile as i32
        },
        ..Default::default()
    }
}

async fn publish(s: &Subject, targets: &[&str], recoverable: bool) -> Arc<Event> {
    s.broker
        .publish(ev(targets, recoverable), 0, false, None)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn positions_grow_per_topic_and_sequences_per_namespace() {
    both(100, |s| async move {
        let e1 = publish(&s, &["room:a"], true).await;
        let e2 = publish(&s, &["room:a", "user:u"], true).await;
        let v = publish(&s, &["room:a"], false).await;
        assert_eq!(e1.positions[0].offset, 1);
        let offsets: Vec<u64> = e2.positions.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, [2, 1]);
        assert_eq!(e1.positions[0].epoch, e2.positions[0].epoch);
        assert!(
            v.positions.is_empty() && v.offset.is_empty(),
            "volatile: no position"
        );
        assert!(
            e1.seq < e2.seq && e2.seq < v.seq,
            "every class is sequenced, in order"
        );
        assert!(!e2.offset.is_empty());
    })
    .await;
}

#[tokio::test]
async fn replay_after_positions_and_gaps() {
    both(3, |s| async move {
        let first = publish(&s, &["room:a"], true).await;
        let second = publish(&s, &["room:a"], true).await;
        let (events, lost) = s
            .broker
            .replay_positions("/", &first.positions)
            .await
            .unwrap();
        assert!(lost.is_empty());
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, [second.id.as_str()]);
        for _ in 0..3 {
            publish(&s, &["room:a"], true).await;
        }
        let (_, lost) = s
            .broker
            .replay_positions("/", &first.positions)
            .await
            .unwrap();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].gap, Gap::Window, "dropped from the window");
        assert_eq!(lost[0].current.offset, 5);
        let other_epoch = Position {
            topic: "room:a".into(),
            offset: 1,
            epoch: "not-an-epoch".into(),
        };
        let (_, lost) = s
            .broker
            .replay_positions("/", &[other_epoch])
            .await
            .unwrap();
        assert_eq!(lost[0].gap, Gap::Epoch);
    })
    .await;
}

#[tokio::test]
async fn replay_after_a_socket_offset_gives_each_event_once_in_order() {
    both(100, |s| async move {
        let start = publish(&s, &["user:u"], true).await;
        let a = publish(&s, &["room:r", "user:u"], true).await;
        publish(&s, &["room:other"], true).await;
        let b = publish(&s, &["room:r"], true).await;
        let topics = vec!["user:u".to_owned(), "room:r".to_owned()];
        let missed = s
            .broker
            .replay_offset("/", &topics, &start.offset, 100)
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<_> = missed.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, [a.id.clone(), b.id.clone()]);
        assert!(matches!(
            s.broker
                .replay_offset("/", &topics, "zz:1", 100)
                .await
                .unwrap(),
            Err(RecoveryError::Gap(Gap::Epoch))
        ));
        assert!(matches!(
            s.broker
                .replay_offset("/", &topics, "garbage", 100)
                .await
                .unwrap(),
            Err(RecoveryError::BadOffset(_))
        ));
        assert!(matches!(
            s.broker
                .replay_offset("/", &topics, &start.offset, 1)
                .await
                .unwrap(),
            Err(RecoveryError::TooMany(1))
        ));
    })
    .await;
}

#[tokio::test]
async fn history_pages_forward_and_back() {
    both(100, |s| async move {
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(publish(&s, &["room:h"], true).await.id.clone());
        }
        let page = s
            .broker
            .history(
                "/",
                "room:h",
                HistoryQuery {
                    limit: 3,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids[..3]
        );
        assert!(page.truncated);
        assert_eq!(page.latest.offset, 5);
        let back = s
            .broker
            .history(
                "/",
                "room:h",
                HistoryQuery {
                    limit: 2,
                    reverse: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            back.events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            [ids[4].clone(), ids[3].clone()]
        );
    })
    .await;
}

#[tokio::test]
async fn sessions_are_taken_once_and_follow_server_side_leaves() {
    both(100, |s| async move {
        let rec = SessionRecord {
            connection_id: "c1".into(),
            namespace: "/".into(),
            user_id: "u".into(),
            rooms: vec!["a".into(), "b".into()],
            granted_rooms: vec!["a".into()],
            data_json: String::new(),
            expires_ms: i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap()
                + 60_000,
        };
        let pid = format!("p{:x}", rand::random::<u64>());
        s.broker
            .save_session(pid.clone(), rec.clone())
            .await
            .unwrap();
        s.broker.leave_saved("/", "u", "a").await.unwrap();
        let back = s.broker.take_session("/", &pid).await.unwrap().unwrap();
        assert_eq!(back.rooms, ["b"]);
        assert!(
            back.granted_rooms.is_empty(),
            "a left room is no longer granted"
        );
        assert!(
            s.broker.take_session("/", &pid).await.unwrap().is_none(),
            "only once"
        );
    })
    .await;
}

#[tokio::test]
async fn what_is_accepted_reaches_the_feed_in_order() {
    both(100, |mut s| async move {
        s.broker.want("/", "room:f").await.unwrap();
        let mut sent = Vec::new();
        for i in 0..20 {
            sent.push(publish(&s, &["room:f"], i % 2 == 0).await.id.clone());
        }
        let mut got = Vec::new();
        while got.len() < sent.len() {
            match tokio::time::timeout(GUARD, s.feed.recv()).await {
                Ok(Some(FeedItem::Event(env))) => got.push(env.event.id.clone()),
                other => panic!("feed ended or stalled: {other:?}"),
            }
        }
        assert_eq!(got, sent);
    })
    .await;
}

#[tokio::test]
async fn history_of_a_trimmed_log_is_its_window_and_an_old_position_is_a_gap() {
    both(3, |s| async move {
        let first = publish(&s, &["room:t"], true).await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(publish(&s, &["room:t"], true).await.id.clone());
        }
        let all = HistoryQuery {
            limit: 10,
            ..Default::default()
        };
        let page = s.broker.history("/", "room:t", all).await.unwrap();
        let got: Vec<String> = page.events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(got, ids[1..], "the window: the last three");
        assert!(page.gap.is_none());
        let since_first = HistoryQuery {
            since: Some(first.positions[0].clone()),
            limit: 10,
            ..Default::default()
        };
        let page = s.broker.history("/", "room:t", since_first).await.unwrap();
        assert_eq!(page.gap, Some(Gap::Window), "events after it were dropped");
        assert_eq!(page.events.len(), 3);
    })
    .await;
}
