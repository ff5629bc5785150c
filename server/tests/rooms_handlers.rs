//! Rooms, handlers, presence, disconnect and stats in the core, in-process:
//! a fake edge on the Link stream and a backend handler on the Handle stream.

mod common;

use std::time::Duration;

use common::{FakeEdge, GUARD, authed, channel, start, start_with};
use futures::StreamExt;
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{
    Arg, ClientEventForward, DisconnectRequest, EmitRequest, HandleRegister, HandleReply,
    HandleRequest, JoinRequest, PresenceRequest, RelayEvent, StatsRequest, SubscribeRequest, arg,
    handle_request, handle_response, link_request, link_response, subscribe_response,
};
use herald_server::NamespacePolicy;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;

fn json(s: &str) -> Arg {
    Arg {
        value: Some(arg::Value::Json(s.into())),
    }
}

async fn api(url: &str) -> HeraldServiceClient<Channel> {
    HeraldServiceClient::new(channel(url).await)
}

/// A backend handler registered for `events` of "/".
struct Handler {
    tx: mpsc::Sender<HandleRequest>,
    rx: tonic::Streaming<herald_proto::v1::HandleResponse>,
}

impl Handler {
    async fn register(url: &str, events: &[&str]) -> Self {
        let (tx, rx) = mpsc::channel(16);
        tx.send(HandleRequest {
            msg: Some(handle_request::Msg::Register(HandleRegister {
                namespace: "/".into(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
            })),
        })
        .await
        .unwrap();
        let mut rx = api(url)
            .await
            .handle(authed(ReceiverStream::new(rx)))
            .await
            .unwrap()
            .into_inner();
        let first = rx.message().await.unwrap().unwrap();
        assert!(matches!(
            first.msg,
            Some(handle_response::Msg::Registered(_))
        ));
        Handler { tx, rx }
    }

    async fn event(&mut self) -> herald_proto::v1::ClientEvent {
        let m = tokio::time::timeout(GUARD, self.rx.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match m.msg {
            Some(handle_response::Msg::Event(e)) => e,
            other => panic!("expected event, got {other:?}"),
        }
    }

    async fn reply(&self, call_id: u64, args: Vec<Arg>, error: &str) {
        self.tx
            .send(HandleRequest {
                msg: Some(handle_request::Msg::Reply(HandleReply {
                    call_id,
                    args,
                    error: error.into(),
                })),
            })
            .await
            .unwrap();
    }
}

fn forward(conn: &str, event: &str) -> link_request::Msg {
    link_request::Msg::Forward(ClientEventForward {
        namespace: "/".into(),
        event: event.into(),
        connection_id: conn.into(),
        user_id: "alice".into(),
        claims_json: "{\"sub\":\"alice\"}".into(),
        data_json: String::new(),
        args: vec![json("{\"text\":\"hi\"}")],
        room: String::new(),
    })
}

/// A `typing:start` relay from `conn` to `room`; `delivered_locally` as the sending edge says.
fn relay(conn: &str, room: &str, delivered_locally: bool) -> link_request::Msg {
    link_request::Msg::Relay(RelayEvent {
        namespace: "/".into(),
        room: room.into(),
        connection_id: conn.into(),
        event: "typing:start".into(),
        args: vec![json("{}")],
        delivered_locally,
        ..Default::default()
    })
}

/// Sends a forward and returns (error, args) from its Applied.
async fn forward_and_wait(
    edge: &mut FakeEdge,
    id: u64,
    msg: link_request::Msg,
) -> (String, Vec<Arg>) {
    edge.tx
        .send(herald_proto::v1::LinkRequest {
            request_id: id,
            msg: Some(msg),
        })
        .await
        .unwrap();
    loop {
        match edge.recv().await {
            link_response::Msg::Applied(a) if a.request_id == id => return (a.error, a.args),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn forwarded_events_reach_one_handler_and_its_reply_comes_back() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    let mut h = Handler::register(&core.url, &["message:send"]).await;

    let edge_side = tokio::spawn(async move {
        let r = forward_and_wait(&mut edge, 1000, forward("a1", "message:send")).await;
        (edge, r)
    });
    let ev = h.event().await;
    assert_eq!(ev.event, "message:send");
    assert_eq!(ev.connection_id, "a1");
    assert_eq!(ev.claims_json, "{\"sub\":\"alice\"}");
    h.reply(ev.call_id, vec![json("{\"ok\":true,\"id\":7}")], "")
        .await;
    let (mut edge, (err, args)) = edge_side.await.unwrap();
    assert_eq!(err, "");
    assert_eq!(args, vec![json("{\"ok\":true,\"id\":7}")]);

    // No handler for this event.
    let (err, _) = forward_and_wait(&mut edge, 1001, forward("a1", "message:edit")).await;
    assert_eq!(err, "no handler for message:edit");

    // A handler error becomes the reply's error.
    let edge_side = tokio::spawn(async move {
        let r = forward_and_wait(&mut edge, 1002, forward("a1", "message:send")).await;
        (edge, r)
    });
    let ev = h.event().await;
    h.reply(ev.call_id, Vec::new(), "message too long").await;
    let (mut edge, (err, _)) = edge_side.await.unwrap();
    assert_eq!(err, "message too long");

    // The handler leaves with a call in flight: the call fails at once.
    let edge_side = tokio::spawn(async move {
        let r = forward_and_wait(&mut edge, 1003, forward("a1", "message:send")).await;
        (edge, r)
    });
    let _ = h.event().await;
    drop(h);
    let (_, (err, _)) = edge_side.await.unwrap();
    assert_eq!(err, "handler disconnected");
}

#[tokio::test]
async fn slow_handlers_time_out_and_late_replies_are_ignored() {
    let core = start_with(|c| c.handler_timeout = Duration::from_millis(200)).await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    let mut h = Handler::register(&core.url, &["message:send"]).await;
    let edge_side = tokio::spawn(async move {
        let r = forward_and_wait(&mut edge, 5, forward("a1", "message:send")).await;
        (edge, r)
    });
    let ev = h.event().await;
    let (mut edge, (err, _)) = edge_side.await.unwrap();
    assert!(err.starts_with("handler timeout"), "{err}");
    h.reply(ev.call_id, vec![json("1")], "").await;
    // Still serving: a fresh call works.
    let edge_side =
        tokio::spawn(
            async move { forward_and_wait(&mut edge, 6, forward("a1", "message:send")).await },
        );
    let ev = h.event().await;
    h.reply(ev.call_id, vec![json("2")], "").await;
    assert_eq!(edge_side.await.unwrap().1, vec![json("2")]);
}

#[tokio::test]
async fn handlers_share_the_load_round_robin() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    let mut h1 = Handler::register(&core.url, &["e"]).await;
    let mut h2 = Handler::register(&core.url, &["e"]).await;
    for i in 0..4u64 {
        edge.tx
            .send(herald_proto::v1::LinkRequest {
                request_id: 0,
                msg: Some(forward("a1", "e")),
            })
            .await
            .unwrap();
        let _ = i;
    }
    for _ in 0..2 {
        h1.event().await;
        h2.event().await;
    }
}

#[tokio::test]
async fn server_side_join_reaches_every_connection_of_the_user() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    edge.open("a2", "alice").await;
    edge.open("b1", "bob").await;
    let mut c = api(&core.url).await;
    let r = c
        .join(authed(JoinRequest {
            namespace: "/".into(),
            user_id: "alice".into(),
            rooms: vec!["ops".into()],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.connections, 2);
    let mut joined = Vec::new();
    for _ in 0..2 {
        match edge.recv().await {
            link_response::Msg::Membership(m) => {
                assert!(m.join);
                assert_eq!(m.room, "ops");
                joined.push(m.connection_id);
            }
            other => panic!("expected membership change, got {other:?}"),
        }
    }
    joined.sort();
    assert_eq!(joined, ["a1", "a2"]);
    let p = c
        .presence(authed(PresenceRequest {
            namespace: "/".into(),
            room: "ops".into(),
            user_ids: Vec::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.connections, 2);
    assert_eq!(p.users.len(), 1);
    assert_eq!(
        (p.users[0].user_id.as_str(), p.users[0].connections),
        ("alice", 2)
    );
    // Bad requests.
    let e = c
        .join(authed(JoinRequest {
            namespace: "/".into(),
            rooms: vec!["ops".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = c
        .join(authed(JoinRequest {
            namespace: "/".into(),
            user_id: "alice".into(),
            rooms: vec!["a*".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn presence_follows_devices_and_disconnect_reaches_the_edge() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    edge.open("a2", "alice").await;
    let mut c = api(&core.url).await;
    let status = |c: &mut HeraldServiceClient<Channel>| {
        let mut c = c.clone();
        async move {
            c.presence(authed(PresenceRequest {
                namespace: "/".into(),
                room: String::new(),
                user_ids: vec!["alice".into(), "bob".into()],
            }))
            .await
            .unwrap()
            .into_inner()
            .users
            .iter()
            .map(|u| (u.user_id.clone(), u.online, u.connections))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        status(&mut c).await,
        [("alice".into(), true, 2), ("bob".into(), false, 0)]
    );
    let r = c
        .disconnect(authed(DisconnectRequest {
            namespace: "/".into(),
            connection_id: "a1".into(),
            reason: "kicked".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.connections, 1);
    match edge.recv().await {
        link_response::Msg::Disconnect(d) => {
            assert_eq!(d.connection_id, "a1");
            assert_eq!(d.reason, "kicked");
        }
        other => panic!("expected disconnect, got {other:?}"),
    }
    // The edge closes it: one device left, still online.
    edge.apply(link_request::Msg::Closed(
        herald_proto::v1::ConnectionClosed {
            connection_id: "a1".into(),
            reason: "kicked".into(),
            recoverable: false,
        },
    ))
    .await;
    assert_eq!(status(&mut c).await[0], ("alice".into(), true, 1));
    edge.apply(link_request::Msg::Closed(
        herald_proto::v1::ConnectionClosed {
            connection_id: "a2".into(),
            reason: "gone".into(),
            recoverable: false,
        },
    ))
    .await;
    assert_eq!(status(&mut c).await[0], ("alice".into(), false, 0));
    let s = c.stats(authed(StatsRequest {})).await.unwrap().into_inner();
    assert_eq!(s.edges, 1);
    assert_eq!(
        s.namespaces
            .iter()
            .find(|n| n.namespace == "/")
            .unwrap()
            .connections,
        0
    );
}

#[tokio::test]
async fn relay_needs_membership_and_room_limit_holds() {
    let core = start_with(|c| {
        c.policies.insert(
            "/".into(),
            NamespacePolicy {
                presence_events: true,
                max_rooms_per_connection: 2,
                ..NamespacePolicy::default()
            },
        );
    })
    .await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    edge.open("b1", "bob").await;
    assert_eq!(edge.join("b1", "convo").await, "");
    assert_eq!(edge.join("a1", "convo").await, "");
    // Bob is told alice is present in the room (a presence event, not to alice).
    let d = edge.delivery().await;
    let ev = d.event.unwrap();
    assert_eq!(ev.name, "presence");
    assert_eq!(ev.except, ["user:alice"]);
    assert_eq!(edge.join("a1", "r2").await, "");
    assert_eq!(edge.join("a1", "r3").await, "room limit reached (2)");

    assert_eq!(
        edge.apply(relay("a1", "elsewhere", false)).await,
        "not a member of room elsewhere"
    );
    assert_eq!(edge.apply(relay("a1", "convo", false)).await, "");
    let ev = edge.delivery().await.event.unwrap();
    assert_eq!(ev.name, "typing:start");
    assert_eq!(ev.targets, ["room:convo"]);
    assert_eq!(ev.except, ["conn:a1"]);
    assert_eq!(
        ev.delivery,
        herald_proto::v1::DeliveryClass::Volatile as i32
    );
}

#[tokio::test]
async fn a_relay_delivered_locally_reaches_only_the_other_edges() {
    let core = start().await;
    let mut near = FakeEdge::link(&core.url).await;
    let mut far = FakeEdge::link(&core.url).await;
    near.open("a1", "alice").await;
    near.open("b1", "bob").await;
    far.open("c1", "carol").await;
    assert_eq!(near.join("a1", "convo").await, "");
    assert_eq!(near.join("b1", "convo").await, "");
    assert_eq!(far.join("c1", "convo").await, "");
    assert_eq!(near.apply(relay("a1", "convo", true)).await, "");
    let ev = far.delivery().await.event.unwrap();
    assert_eq!(ev.name, "typing:start");
    assert_eq!(ev.except, ["conn:a1"]);

    // The near edge is not sent the relay back: the next delivery it sees is a later emit.
    api(&core.url)
        .await
        .emit(authed(EmitRequest {
            namespace: "/".into(),
            targets: vec!["room:convo".into()],
            event: "after".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(near.delivery().await.event.unwrap().name, "after");
}

#[tokio::test]
async fn a_relay_may_skip_every_connection_of_the_senders_user() {
    let core = start().await;
    let mut near = FakeEdge::link(&core.url).await;
    let mut far = FakeEdge::link(&core.url).await;
    near.open("a1", "alice").await;
    far.open("a2", "alice").await;
    far.open("c1", "carol").await;
    assert_eq!(near.join("a1", "convo").await, "");
    assert_eq!(far.join("a2", "convo").await, "");
    assert_eq!(far.join("c1", "convo").await, "");
    let mut msg = relay("a1", "convo", true);
    if let link_request::Msg::Relay(r) = &mut msg {
        r.exclude_user = true;
    }
    assert_eq!(near.apply(msg).await, "");
    let ev = far.delivery().await.event.unwrap();
    assert_eq!(ev.name, "typing:start");
    assert_eq!(ev.except, ["conn:a1", "user:alice"]);
}

#[tokio::test]
async fn a_relay_delivered_locally_still_reaches_direct_subscribers() {
    let core = start().await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    assert_eq!(edge.join("a1", "convo").await, "");
    let mut feed = api(&core.url)
        .await
        .subscribe(authed(herald_proto::v1::SubscribeRequest {
            namespace: "/".into(),
            topics: vec!["room:convo".into()],
            since: Vec::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let first = feed.message().await.unwrap().unwrap();
    assert!(matches!(
        first.item,
        Some(herald_proto::v1::subscribe_response::Item::Subscribed(_))
    ));
    assert_eq!(edge.apply(relay("a1", "convo", true)).await, "");
    let got = tokio::time::timeout(GUARD, feed.message())
        .await
        .expect("the subscriber gets the relay in time")
        .unwrap()
        .unwrap();
    match got.item {
        Some(herald_proto::v1::subscribe_response::Item::Event(ev)) => {
            assert_eq!(ev.name, "typing:start");
        }
        other => panic!("expected the relay, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_over_the_connection_limit_is_refused() {
    let core = start_with(|c| {
        c.policies.insert(
            "/".into(),
            NamespacePolicy {
                max_connections_per_user: 2,
                ..NamespacePolicy::default()
            },
        );
    })
    .await;
    let mut edge = FakeEdge::link(&core.url).await;
    edge.open("a1", "alice").await;
    edge.open("a2", "alice").await;
    let refused = edge
        .apply(link_request::Msg::Opened(
            herald_proto::v1::ConnectionOpened {
                connection_id: "a3".into(),
                namespace: "/".into(),
                user_id: "alice".into(),
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(refused, "too many connections for this user (limit 2)");
    edge.open("b1", "bob").await;
    edge.apply(link_request::Msg::Closed(
        herald_proto::v1::ConnectionClosed {
            connection_id: "a1".into(),
            reason: "gone".into(),
            recoverable: false,
        },
    ))
    .await;
    edge.open("a3", "alice").await;
}

#[tokio::test]
async fn pattern_subscriptions_match_prefixes_only() {
    let core = start().await;
    let mut c = api(&core.url).await;
    let bad = c
        .subscribe(authed(SubscribeRequest {
            namespace: "/".into(),
            topics: vec!["room:a*b".into()],
            since: Vec::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let mut feed = c
        .subscribe(authed(SubscribeRequest {
            namespace: "/".into(),
            topics: vec!["room:campaign:*".into()],
            since: Vec::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    feed.next().await.unwrap().unwrap();
    for room in ["campaign:c1", "other", "campaign:c2"] {
        c.emit(authed(EmitRequest {
            targets: vec![format!("room:{room}")],
            event: room.replace(':', "_"),
            ..Default::default()
        }))
        .await
        .unwrap();
    }
    let mut names = Vec::new();
    for _ in 0..2 {
        let item = tokio::time::timeout(GUARD, feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Some(subscribe_response::Item::Event(e)) = item.item {
            names.push(e.name);
        }
    }
    assert_eq!(names, ["campaign_c1", "campaign_c2"]);
}
