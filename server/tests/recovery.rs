//! Recovery in the core, in-process: positions and History, Subscribe from a
//! position under concurrent emits, NotRecovered, saved sessions and their
//! replay, and the Rust client resuming by itself.

mod common;

use std::collections::HashSet;

use common::{FakeEdge, GUARD, TOKEN, authed, channel, start, start_with};
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{
    ConnectionClosed, ConnectionOpened, EmitRequest, Event, HistoryRequest, LeaveRequest,
    LinkRequest, Position, SessionLookup, SubscribeRequest, link_request, link_response,
    subscribe_response,
};
use herald_server::NamespacePolicy;
use tonic::transport::Channel;

async fn api(url: &str) -> HeraldServiceClient<Channel> {
    HeraldServiceClient::new(channel(url).await)
}

async fn emit(c: &mut HeraldServiceClient<Channel>, target: &str, n: u64) -> Vec<Position> {
    c.emit(authed(EmitRequest {
        targets: vec![target.into()],
        event: format!("e{n}"),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
    .positions
}

fn offset_in(e: &Event, topic: &str) -> u64 {
    e.positions
        .iter()
        .find(|p| p.topic == topic)
        .unwrap()
        .offset
}

#[tokio::test]
async fn positions_grow_by_one_and_history_reads_them_back() {
    let core = start().await;
    let mut c = api(&core.url).await;
    let p1 = emit(&mut c, "room:a", 1).await;
    let p2 = emit(&mut c, "room:a", 2).await;
    assert_eq!((p1[0].offset, p2[0].offset), (1, 2));
    assert_eq!(p1[0].epoch, p2[0].epoch);
    // Volatile events get none.
    let v = c
        .emit(authed(EmitRequest {
            targets: vec!["room:a".into()],
            event: "typing".into(),
            delivery: herald_proto::v1::DeliveryClass::Volatile as i32,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(v.positions.is_empty());
    let h = c
        .history(authed(HistoryRequest {
            namespace: "/".into(),
            topic: "room:a".into(),
            since: Some(p1[0].clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["e2"]
    );
    assert_eq!(h.latest.unwrap().offset, 2);
    let newest = c
        .history(authed(HistoryRequest {
            namespace: "/".into(),
            topic: "room:a".into(),
            limit: 1,
            reverse: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(newest.events[0].name, "e2");
    assert!(newest.truncated);
    let stale = c
        .history(authed(HistoryRequest {
            namespace: "/".into(),
            topic: "room:a".into(),
            since: Some(Position {
                topic: "room:a".into(),
                offset: 1,
                epoch: "other".into(),
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stale.not_recovered, "epoch changed");
}

/// A subscriber that starts from a position while several tasks emit sees
/// exactly the topic's log after that position: no gap, no duplicate.
#[tokio::test]
async fn subscribe_from_a_position_under_concurrent_emits_sees_the_log() {
    let core = start().await;
    let mut c = api(&core.url).await;
    for round in 0..5u64 {
        let start_pos = emit(&mut c, "room:r", 1000 + round).await.remove(0);
        let emitters: Vec<_> = (0..4u64)
            .map(|k| {
                let mut c = c.clone();
                tokio::spawn(async move {
                    for n in 0..50u64 {
                        emit(&mut c, "room:r", k * 100 + n).await;
                        if (n + k + round) % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        // Subscribe somewhere in the middle of the emits.
        for _ in 0..(round * 3) {
            tokio::task::yield_now().await;
        }
        let mut feed = c
            .subscribe(authed(SubscribeRequest {
                namespace: "/".into(),
                topics: vec!["room:r".into()],
                since: vec![start_pos.clone()],
            }))
            .await
            .unwrap()
            .into_inner();
        for e in emitters {
            e.await.unwrap();
        }
        let last = emit(&mut c, "room:r", 9999).await.remove(0).offset;
        let mut seen = Vec::new();
        while seen.last().copied() != Some(last) {
            let item = tokio::time::timeout(GUARD, feed.message())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Some(subscribe_response::Item::Event(e)) = item.item {
                seen.push(offset_in(&e, "room:r"));
            }
        }
        let expected: Vec<u64> = (start_pos.offset + 1..=last).collect();
        assert_eq!(seen, expected, "round {round}: gap or duplicate");
    }
}

#[tokio::test]
async fn a_position_outside_the_window_is_not_recovered() {
    let core = start_with(|c| {
        c.policies.insert(
            "/".into(),
            NamespacePolicy {
                recovery_max_events: 3,
                ..NamespacePolicy::default()
            },
        );
    })
    .await;
    let mut c = api(&core.url).await;
    let first = emit(&mut c, "room:w", 1).await.remove(0);
    for n in 2..=6 {
        emit(&mut c, "room:w", n).await;
    }
    let mut feed = c
        .subscribe(authed(SubscribeRequest {
            namespace: "/".into(),
            topics: vec!["room:w".into()],
            since: vec![first],
        }))
        .await
        .unwrap()
        .into_inner();
    let item = feed.message().await.unwrap().unwrap();
    match item.item {
        Some(subscribe_response::Item::NotRecovered(n)) => {
            assert_eq!(n.reason, "outside the recovery window");
            assert_eq!(n.current.unwrap().offset, 6);
        }
        other => panic!("expected NotRecovered, got {other:?}"),
    }
}

fn opened(conn: &str, user: &str, pid: &str) -> link_request::Msg {
    link_request::Msg::Opened(ConnectionOpened {
        connection_id: conn.into(),
        namespace: "/".into(),
        user_id: user.into(),
        pid: pid.into(),
        ..Default::default()
    })
}

async fn lookup(
    edge: &mut FakeEdge,
    id: u64,
    pid: &str,
    user: &str,
    offset: &str,
) -> link_response::Msg {
    edge.tx
        .send(LinkRequest {
            request_id: id,
            msg: Some(link_request::Msg::Lookup(SessionLookup {
                pid: pid.into(),
                namespace: "/".into(),
                user_id: user.into(),
                offset: offset.into(),
            })),
        })
        .await
        .unwrap();
    edge.recv().await
}

#[tokio::test]
async fn a_lost_session_is_restored_once_with_its_missed_events() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    assert_eq!(edge.apply(opened("c1", "alice", "pid-1")).await, "");
    assert_eq!(edge.join("c1", "lobby").await, "");
    assert_eq!(edge.join("c1", "ops").await, "");
    let mut c = api(&core.url).await;
    let before = c
        .emit(authed(EmitRequest {
            targets: vec!["room:lobby".into()],
            event: "before".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let seen_offset = match edge.recv().await {
        link_response::Msg::Delivery(d) => d.event.unwrap().offset,
        other => panic!("expected delivery, got {other:?}"),
    };
    assert!(!seen_offset.is_empty());
    let _ = before;
    // Transport lost: the session is kept.
    assert_eq!(
        edge.apply(link_request::Msg::Closed(ConnectionClosed {
            connection_id: "c1".into(),
            reason: "transport close".into(),
            recoverable: true,
        }))
        .await,
        ""
    );
    for (target, name) in [
        ("user:alice", "u1"),
        ("room:lobby", "l1"),
        ("room:ops", "o1"),
        ("user:bob", "b1"),
    ] {
        c.emit(authed(EmitRequest {
            targets: vec![target.into()],
            event: name.into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    }
    // Removed from ops while away.
    c.leave(authed(LeaveRequest {
        namespace: "/".into(),
        user_id: "alice".into(),
        rooms: vec!["ops".into()],
        ..Default::default()
    }))
    .await
    .unwrap();
    c.emit(authed(EmitRequest {
        targets: vec!["room:ops".into()],
        event: "o2".into(),
        ..Default::default()
    }))
    .await
    .unwrap();

    // Another user's lookup of this pid finds nothing, and spends it.
    match lookup(&mut edge, 90, "pid-1", "mallory", &seen_offset).await {
        link_response::Msg::Applied(a) => assert_eq!(a.error, "session not found"),
        other => panic!("{other:?}"),
    }
    // So save it again from a fresh connection and lose it again.
    assert_eq!(edge.apply(opened("c1", "alice", "pid-2")).await, "");
    assert_eq!(edge.join("c1", "lobby").await, "");
    edge.apply(link_request::Msg::Closed(ConnectionClosed {
        connection_id: "c1".into(),
        reason: "ping timeout".into(),
        recoverable: true,
    }))
    .await;
    match lookup(&mut edge, 91, "pid-2", "alice", "garbage").await {
        link_response::Msg::Applied(a) => assert!(a.error.contains("malformed"), "{}", a.error),
        other => panic!("{other:?}"),
    }
    assert_eq!(edge.apply(opened("c1", "alice", "pid-3")).await, "");
    assert_eq!(edge.join("c1", "lobby").await, "");
    assert_eq!(edge.join("c1", "ops").await, "");
    edge.apply(link_request::Msg::Closed(ConnectionClosed {
        connection_id: "c1".into(),
        reason: "ping timeout".into(),
        recoverable: true,
    }))
    .await;
    c.leave(authed(LeaveRequest {
        namespace: "/".into(),
        user_id: "alice".into(),
        rooms: vec!["ops".into()],
        ..Default::default()
    }))
    .await
    .unwrap();
    let session = match lookup(&mut edge, 92, "pid-3", "alice", &seen_offset).await {
        link_response::Msg::Applied(a) => {
            assert_eq!(a.error, "");
            a.session.unwrap()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(session.connection_id, "c1");
    assert_eq!(session.rooms, ["lobby"], "ops was left while away");
    // Resume: the missed events addressed to alice's user and lobby, in order, none of ops or bob.
    edge.tx
        .send(LinkRequest {
            request_id: 93,
            msg: Some(link_request::Msg::Opened(ConnectionOpened {
                connection_id: session.connection_id.clone(),
                namespace: "/".into(),
                user_id: "alice".into(),
                pid: "pid-3".into(),
                rooms: session.rooms.clone(),
                resume_offset: seen_offset.clone(),
                data_json: String::new(),
                granted_rooms: Vec::new(),
            })),
        })
        .await
        .unwrap();
    let replay = loop {
        match edge.recv().await {
            link_response::Msg::Applied(a) if a.request_id == 93 => {
                assert_eq!(a.error, "");
                break a.replay;
            }
            _ => continue,
        }
    };
    let names: Vec<_> = replay.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["u1", "l1"]);
    // Spent: a second lookup finds nothing.
    match lookup(&mut edge, 94, "pid-3", "alice", &seen_offset).await {
        link_response::Msg::Applied(a) => assert_eq!(a.error, "session not found"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_rust_client_resumes_after_its_stream_is_dropped() {
    // A tiny subscriber queue: the core drops the slow subscriber, the client resumes by itself.
    let core = start_with(|c| c.subscriber_queue = 4).await;
    let client = herald_client::Client::connect(&core.url, TOKEN)
        .await
        .unwrap();
    let mut c = api(&core.url).await;
    let start = emit(&mut c, "room:s", 0).await.remove(0);
    let mut sub = client.follow("/", &["room:s"], vec![start]);
    // Open the stream, then stop reading while 200 events go by.
    let first = emit(&mut c, "room:s", 1).await.remove(0).offset;
    match tokio::time::timeout(GUARD, sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        herald_client::Item::Event(e) => assert_eq!(offset_in(&e, "room:s"), first),
        other => panic!("{other:?}"),
    }
    // Large events overflow the transport's buffers too, so the core's queue fills.
    let big = format!("\"{}\"", "x".repeat(16 * 1024));
    let mut last = 0;
    for n in 2..=200 {
        last = c
            .emit(authed(EmitRequest {
                targets: vec!["room:s".into()],
                event: format!("e{n}"),
                args: vec![herald_proto::v1::Arg {
                    value: Some(herald_proto::v1::arg::Value::Json(big.clone())),
                }],
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .positions[0]
            .offset;
    }
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    while order.last().copied() != Some(last) {
        match tokio::time::timeout(GUARD, sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            herald_client::Item::Event(e) => {
                let o = offset_in(&e, "room:s");
                assert!(seen.insert(o), "duplicate {o}");
                order.push(o);
            }
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<u64> = (first + 1..=last).collect();
    assert_eq!(order, expected);
    assert!(
        sub.resumed() >= 1,
        "the core never dropped the slow stream: nothing was resumed"
    );
}
