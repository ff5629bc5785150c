//! The core served in-process on port 0: Emit through a linked fake edge,
//! direct Subscribe, acks, credentials and argument errors.

use std::time::Duration;

mod common;

use common::{FakeEdge, GUARD, authed, channel, start};
use futures::StreamExt;
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{
    Arg, ClientAck, EmitRequest, LinkRequest, SubscribeRequest, arg, link_request,
    subscribe_response,
};
use tonic::Request;

fn json(s: &str) -> Arg {
    Arg {
        value: Some(arg::Value::Json(s.into())),
    }
}

fn emit_req(targets: &[&str], except: &[&str], event: &str) -> EmitRequest {
    EmitRequest {
        targets: targets.iter().map(|s| (*s).into()).collect(),
        except: except.iter().map(|s| (*s).into()).collect(),
        event: event.into(),
        args: vec![json("{\"n\":1}")],
        ..Default::default()
    }
}

#[tokio::test]
async fn emit_reaches_the_linked_edge_once_with_counts() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    edge.open("a2", "alice").await;
    edge.open("b1", "bob").await;
    assert_eq!(edge.join("a1", "lobby").await, "");
    assert_ne!(
        edge.join("nope", "lobby").await,
        "",
        "unknown connection refused"
    );

    let mut api = HeraldServiceClient::new(channel(&core.url).await);
    let r = api
        .emit(authed(emit_req(
            &["user:alice", "room:lobby", "user:carol"],
            &[],
            "hello",
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.connections, 2, "a1 counted once though in two targets");
    assert_eq!(r.offline_users, ["carol"]);
    let d = edge.delivery().await;
    let ev = d.event.unwrap();
    assert_eq!(ev.name, "hello");
    assert_eq!(ev.id, r.event_id);
    assert_eq!(d.ack_ref, 0);

    let r = api
        .emit(authed(emit_req(&["*"], &["conn:a1"], "all")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.connections, 2);
    assert_eq!(edge.delivery().await.event.unwrap().except, ["conn:a1"]);

    // Nothing matched on this edge: it gets no copy; the next matching event comes next.
    let r = api
        .emit(authed(emit_req(&["user:nobody"], &[], "none")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.connections, 0);
    api.emit(authed(emit_req(&["conn:b1"], &[], "marker")))
        .await
        .unwrap();
    assert_eq!(edge.delivery().await.event.unwrap().name, "marker");
}

#[tokio::test]
async fn acks_are_collected_and_missing_ones_time_out() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    edge.open("b1", "bob").await;
    let mut api = HeraldServiceClient::new(channel(&core.url).await);
    let mut req = emit_req(&["user:alice", "user:bob"], &[], "ping");
    req.ack_timeout_ms = 1500;
    let call = tokio::spawn(async move { api.emit(authed(req)).await });
    let d = edge.delivery().await;
    assert_ne!(d.ack_ref, 0);
    edge.tx
        .send(LinkRequest {
            request_id: 0,
            msg: Some(link_request::Msg::Ack(ClientAck {
                ack_ref: d.ack_ref,
                connection_id: "a1".into(),
                args: vec![json("\"pong\"")],
            })),
        })
        .await
        .unwrap();
    let r = call.await.unwrap().unwrap().into_inner();
    assert_eq!(r.acks.len(), 2);
    let a1 = r.acks.iter().find(|a| a.connection_id == "a1").unwrap();
    assert!(a1.acked);
    assert_eq!(a1.user_id, "alice");
    assert_eq!(a1.args, vec![json("\"pong\"")]);
    let b1 = r.acks.iter().find(|a| a.connection_id == "b1").unwrap();
    assert!(!b1.acked);
    assert_eq!(b1.error, "timeout");
}

#[tokio::test]
async fn a_dropped_link_takes_its_connections_with_it() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    drop(edge);
    let mut api = HeraldServiceClient::new(channel(&core.url).await);
    // The core notices the closed stream; poll until alice is offline (bounded).
    let mut offline = false;
    for _ in 0..200 {
        let r = api
            .emit(authed(emit_req(&["user:alice"], &[], "x")))
            .await
            .unwrap()
            .into_inner();
        if r.offline_users == ["alice"] {
            offline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(offline, "alice stays online after her edge went away");
}

#[tokio::test]
async fn direct_subscriber_gets_its_topics_only() {
    let core = start().await;
    let mut api = HeraldServiceClient::new(channel(&core.url).await);
    let mut feed = api
        .subscribe(authed(SubscribeRequest {
            namespace: "/".into(),
            topics: vec!["room:ops".into()],
            since: Vec::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let first = feed.next().await.unwrap().unwrap();
    assert!(matches!(
        first.item,
        Some(subscribe_response::Item::Subscribed(_))
    ));
    api.emit(authed(emit_req(&["room:other"], &[], "skip")))
        .await
        .unwrap();
    api.emit(authed(emit_req(&["room:ops", "user:x"], &[], "take")))
        .await
        .unwrap();
    let got = tokio::time::timeout(GUARD, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match got.item {
        Some(subscribe_response::Item::Event(e)) => assert_eq!(e.name, "take"),
        other => panic!("expected event, got {other:?}"),
    }
}

#[tokio::test]
async fn credentials_and_bad_arguments_get_clear_statuses() {
    let core = start().await;
    let mut api = HeraldServiceClient::new(channel(&core.url).await);
    let e = api
        .emit(Request::new(emit_req(&["*"], &[], "x")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let mut bad = Request::new(emit_req(&["*"], &[], "x"));
    bad.metadata_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    assert_eq!(
        api.emit(bad).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );

    let cases = [
        emit_req(&[], &[], "x"),
        emit_req(&["team:x"], &[], "x"),
        emit_req(&["*"], &["bogus"], "x"),
        emit_req(&["*"], &[], ""),
        emit_req(&["*"], &[], "disconnect"),
        EmitRequest {
            args: vec![json("{not json")],
            ..emit_req(&["*"], &[], "x")
        },
        EmitRequest {
            namespace: "/missing".into(),
            ..emit_req(&["*"], &[], "x")
        },
    ];
    for req in cases {
        let e = api.emit(authed(req.clone())).await.unwrap_err();
        assert_eq!(
            e.code(),
            tonic::Code::InvalidArgument,
            "{req:?}: {}",
            e.message()
        );
        assert!(!e.message().is_empty());
    }
    // Still serving.
    let ok = api.emit(authed(emit_req(&["*"], &[], "fine"))).await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn idempotency_key_returns_the_first_response() {
    let core = start().await;
    let mut api = HeraldServiceClient::new(channel(&core.url).await);
    let req = EmitRequest {
        idempotency_key: "k1".into(),
        ..emit_req(&["*"], &[], "x")
    };
    let a = api.emit(authed(req.clone())).await.unwrap().into_inner();
    let b = api.emit(authed(req)).await.unwrap().into_inner();
    assert_eq!(a.event_id, b.event_id);
}
