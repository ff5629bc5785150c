//! A core that falls behind its Redis: the broker queue stays bounded, events that find it full
//! are dropped and counted, and the core is told to resync before anything after them.

use std::collections::HashMap;
use std::time::Duration;

use herald_proto::v1::{DeliveryClass, Event};
use herald_server::broker::{Broker, FeedItem, Limits, RedisBroker};
use herald_server::cluster::{ClusterConfig, Redis};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GUARD: Duration = Duration::from_secs(20);
const CAPACITY: usize = 4;

fn event() -> Event {
    Event {
        id: format!("{:032x}", rand::random::<u128>()),
        namespace: "/".into(),
        targets: vec!["room:o".into()],
        name: "e".into(),
        delivery: DeliveryClass::Recoverable as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_full_broker_queue_drops_counts_and_then_resyncs_before_the_next_event() {
    let url = std::env::var("HERALD_TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let mut cfg = ClusterConfig::new(url);
    cfg.prefix = format!("herald-overflow-{:016x}", rand::random::<u64>());
    let redis = Redis::connect(cfg)
        .await
        .expect("the test Redis is reachable");
    let node = redis.claim_node_id().await.unwrap();
    let (ctl, _ctl_rx) = mpsc::channel(16);
    let limits = Limits {
        max_events: 1000,
        max_age_ms: 60_000,
    };
    let b = RedisBroker::new(redis.clone(), node, CAPACITY, HashMap::new(), limits, ctl);
    let mut feed = b.take_feed().unwrap();
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();
    let stream = b.subscriber().await.unwrap();
    tokio::spawn(b.clone().run_reader(stream, stop.clone()));
    b.want("/", "room:o").await.unwrap();

    // Nobody reads the feed: four events fit, the rest are dropped (and counted).
    let burst = 3 * CAPACITY;
    let mut seqs = Vec::new();
    for _ in 0..burst {
        seqs.push(b.publish(event(), 0, false, None).await.unwrap().0.seq);
    }
    let dropped = u64::try_from(burst - CAPACITY).unwrap();
    tokio::time::timeout(GUARD, async {
        while redis.stats.dropped_count() < dropped {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the events beyond the queue are dropped");
    assert_eq!(
        redis.stats.dropped_count(),
        dropped,
        "never more queued than the capacity"
    );

    let mut first = Vec::new();
    for _ in 0..CAPACITY {
        match tokio::time::timeout(GUARD, feed.recv()).await {
            Ok(Some(FeedItem::Event(env))) => first.push(env.event.seq),
            other => panic!("expected a queued event, got {other:?}"),
        }
    }
    assert_eq!(
        first,
        seqs[..CAPACITY],
        "the queue kept the first events, in order"
    );

    // The next event from Redis is preceded by the resync that tells the core what it missed.
    let next = b.publish(event(), 0, false, None).await.unwrap().0.seq;
    match tokio::time::timeout(GUARD, feed.recv()).await {
        Ok(Some(FeedItem::Resync(why))) => assert!(why.contains("fell behind"), "{why}"),
        other => panic!("expected a resync, got {other:?}"),
    }
    match tokio::time::timeout(GUARD, feed.recv()).await {
        Ok(Some(FeedItem::Event(env))) => assert_eq!(env.event.seq, next),
        other => panic!("expected the next event, got {other:?}"),
    }
    let mut text = String::new();
    redis.stats.render(&mut text, 1);
    assert!(
        text.contains("herald_broker_resyncs_total{cause=\"overflow\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(&format!("herald_broker_dropped_events_total {dropped}")),
        "{text}"
    );
}
