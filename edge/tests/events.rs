//! Client events by namespace policy against the fake core: room aliases, claim vs `$join` handler,
//! relay with its rate limit, forwards with handler replies as acks, unknown and reserved events,
//! `$connect` rooms/data/refusal and `$disconnect` reports.

mod common;

use common::*;
use herald_edge::{RoomAlias, UnknownEvents};
use herald_proto::v1::{arg, link_request};

fn json_of(a: &herald_proto::v1::Arg) -> serde_json::Value {
    match &a.value {
        Some(arg::Value::Json(j)) => serde_json::from_str(j).unwrap(),
        other => panic!("not a json arg: {other:?}"),
    }
}

#[tokio::test]
async fn room_aliases_join_and_leave_prefixed_rooms() {
    let (mut core, edge) = setup_with(|c| {
        with_root(c, |n| {
            n.join_event.clear();
            n.room_aliases.push(RoomAlias {
                join: "subscribe:campaign".into(),
                leave: "unsubscribe:campaign".into(),
                prefix: "campaign:".into(),
                ..RoomAlias::default()
            });
        })
    })
    .await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &["campaign:*"])).await;
    ws_send(&mut ws, r#"421["subscribe:campaign","c1"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"431[{"ok":true}]"#);
    assert_eq!(core.next_join().await, (id.clone(), "campaign:c1".into()));
    core.deliver("/", "news", &["room:campaign:c1"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["news"]"#);

    // Numeric ids work too; the built-in join is disabled here.
    ws_send(&mut ws, r#"422["subscribe:campaign",42]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"432[{"ok":true}]"#);
    ws_send(&mut ws, r#"423["join","campaign:c2"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"433[{"error":"unknown event join"}]"#
    );

    ws_send(&mut ws, r#"424["unsubscribe:campaign","c1"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"434[{"ok":true}]"#);
    let leave = core
        .next_matching(|m| match m {
            link_request::Msg::Leave(l) => Some(l.clone()),
            _ => None,
        })
        .await;
    assert_eq!(leave.room, "campaign:c1");
    core.deliver("/", "news", &["room:campaign:c1"], &[], vec![], 0)
        .await;
    core.deliver("/", "marker", &["user:alice"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["marker"]"#);
}

#[tokio::test]
async fn claims_allow_joins_else_the_join_handler_decides() {
    let (mut core, edge) = setup_with(|c| with_root(c, |n| n.join_handler = true)).await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &["team:*"])).await;
    ws_send(&mut ws, r#"421["join","team:a"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"431[{"ok":true}]"#);
    ws_send(&mut ws, r#"422["join","ok:x"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"432[{"ok":true}]"#);
    // The first $join the core saw is for ok:x: the claimed room did not ask the handler.
    let asked = core.next_forward().await;
    assert_eq!(
        (
            asked.event.as_str(),
            asked.room.as_str(),
            asked.connection_id.as_str()
        ),
        ("$join", "ok:x", id.as_str())
    );
    assert_eq!(asked.user_id, "alice");
    let claims: serde_json::Value = serde_json::from_str(&asked.claims_json).unwrap();
    assert_eq!(claims["sub"], "alice");
    ws_send(&mut ws, r#"423["join","nope"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"433[{"error":"join refused by handler","ok":false}]"#
    );
    core.deliver("/", "x", &["room:ok:x"], &[], vec![], 0).await;
    assert_eq!(ws_text(&mut ws).await, r#"42["x"]"#);
}

#[tokio::test]
async fn room_limit_is_checked_at_the_edge() {
    let (_core, edge) = setup_with(|c| with_root(c, |n| n.max_rooms_per_connection = 1)).await;
    let (mut ws, _) = ws_connect(edge.addr, "/", &token("alice", &["*"])).await;
    ws_send(&mut ws, r#"421["join","a"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"431[{"ok":true}]"#);
    ws_send(&mut ws, r#"422["join","a"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"432[{"ok":true}]"#,
        "rejoin is fine"
    );
    ws_send(&mut ws, r#"423["join","b"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"433[{"error":"room limit reached (1)","ok":false}]"#
    );
}

#[tokio::test]
async fn relay_checks_room_membership_and_rate() {
    let (mut core, edge) = setup_with(|c| {
        with_root(c, |n| {
            n.relay = vec!["typing".into()];
            // No refill: the burst is all there is, so the test does not depend on time.
            n.relay_rate_per_sec = 0;
            n.relay_burst = 3;
        })
    })
    .await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &["*"])).await;
    for (i, room) in ["r", "core-refuses-relay"].iter().enumerate() {
        ws_send(&mut ws, &format!(r#"42{i}["join","{room}"]"#)).await;
        assert_eq!(ws_text(&mut ws).await, format!(r#"43{i}[{{"ok":true}}]"#));
    }
    // No room: refused without using a token.
    ws_send(&mut ws, r#"425["typing",5]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"435[{"error":"relay event needs a room (first argument, or its \"room\" field)","ok":false}]"#
    );
    ws_send(&mut ws, r#"426["typing",{"room":"r","on":true}]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"436[{"ok":true}]"#);
    let relay = core
        .next_matching(|m| match m {
            link_request::Msg::Relay(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (
            relay.namespace.as_str(),
            relay.room.as_str(),
            relay.event.as_str()
        ),
        ("/", "r", "typing")
    );
    assert_eq!(relay.connection_id, id);
    assert_eq!(
        json_of(&relay.args[0]),
        serde_json::json!({"room":"r","on":true})
    );

    ws_send(&mut ws, r#"427["typing","core-refuses-relay"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"437[{"error":"relay refused by core","ok":false}]"#
    );
    ws_send(&mut ws, r#"428["typing","elsewhere"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"438[{"error":"not a member of room elsewhere","ok":false}]"#
    );
    ws_send(&mut ws, r#"429["typing","r"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"439[{"error":"rate limited","ok":false}]"#
    );
    // Without an ack, a limited relay is dropped silently: the next frame answers the next event.
    ws_send(&mut ws, r#"42["typing","r"]"#).await;
    ws_send(&mut ws, r#"4210["nothing"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"4310[{"error":"unknown event nothing"}]"#
    );
}

#[tokio::test]
async fn forwards_answer_with_the_handler_reply() {
    let (mut core, edge) =
        setup_with(|c| with_root(c, |n| n.forward = vec!["echo".into(), "fail".into()])).await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    ws_send(&mut ws, r#"421["echo",{"x":1},"y"]"#).await;
    let frame = ws_text(&mut ws).await;
    let body: serde_json::Value = serde_json::from_str(frame.strip_prefix("431").unwrap()).unwrap();
    assert_eq!(body[0]["user"], "alice");
    assert_eq!(body[0]["claims"]["sub"], "alice");
    assert_eq!(body[0]["data"], serde_json::Value::Null);
    assert_eq!(body[1], serde_json::json!({"x":1}));
    assert_eq!(body[2], serde_json::json!("y"));
    assert_eq!(body.as_array().unwrap().len(), 3);
    let fwd = core.next_forward().await;
    assert_eq!(
        (fwd.event.as_str(), fwd.connection_id.as_str()),
        ("echo", id.as_str())
    );

    ws_send(&mut ws, r#"422["fail"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"432[{"error":"no handler for fail"}]"#
    );
    // Without an ack the event is still forwarded, and nothing comes back.
    ws_send(&mut ws, r#"42["echo","quiet"]"#).await;
    let fwd = core
        .next_matching(|m| match m {
            link_request::Msg::Forward(f) if f.event == "echo" => Some(f.clone()),
            _ => None,
        })
        .await;
    assert_eq!(json_of(&fwd.args[0]), serde_json::json!("quiet"));
    ws_send(&mut ws, r#"423["unknown"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"433[{"error":"unknown event unknown"}]"#
    );
}

#[tokio::test]
async fn unknown_events_can_be_ignored() {
    let (_core, edge) =
        setup_with(|c| with_root(c, |n| n.unknown_events = UnknownEvents::Ignore)).await;
    let (mut ws, _) = ws_connect(edge.addr, "/", &token("alice", &["*"])).await;
    ws_send(&mut ws, r#"421["whatever",1]"#).await;
    ws_send(&mut ws, r#"422["join","r"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"432[{"ok":true}]"#,
        "no answer to the unknown event"
    );
}

#[tokio::test]
async fn reserved_event_names_close_the_connection() {
    let (mut core, edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    ws_send(&mut ws, r#"42["disconnect"]"#).await;
    assert_eq!(ws_next(&mut ws).await, None);
    let closed = core.next_closed().await;
    assert_eq!(
        (closed.connection_id, closed.reason),
        (id, "parse error".into())
    );
}

#[tokio::test]
async fn connect_handler_joins_rooms_attaches_data_or_refuses() {
    let (mut core, edge) = setup_with(|c| {
        with_root(c, |n| {
            n.connect_handler = true;
            n.forward = vec!["echo".into()];
        })
    })
    .await;
    let tok = token("alice", &[]);
    let (mut ws, answer) = ws_connect_raw(
        edge.addr,
        "/",
        &format!(r#"{{"token":"{tok}","lang":"fr"}}"#),
    )
    .await;
    let id = socket_sid(&answer);
    let asked = core.next_forward().await;
    assert_eq!(
        (
            asked.event.as_str(),
            asked.connection_id.as_str(),
            asked.user_id.as_str()
        ),
        ("$connect", id.as_str(), "alice")
    );
    assert_eq!(
        json_of(&asked.args[0]),
        serde_json::json!({"lang":"fr"}),
        "auth minus token"
    );
    assert_eq!(core.next_join().await, (id.clone(), "from-connect".into()));
    core.deliver("/", "welcome", &["room:from-connect"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["welcome"]"#);

    // The data the handler attached travels with later forwards.
    ws_send(&mut ws, r#"421["echo"]"#).await;
    let frame = ws_text(&mut ws).await;
    let body: serde_json::Value = serde_json::from_str(frame.strip_prefix("431").unwrap()).unwrap();
    assert_eq!(body[0]["data"], serde_json::json!({"tier":"gold"}));

    let (_, answer) = ws_connect_raw(
        edge.addr,
        "/",
        &format!(r#"{{"token":"{}"}}"#, token("intruder", &[])),
    )
    .await;
    assert_eq!(answer, r#"44{"message":"not welcome"}"#);
}

#[tokio::test]
async fn disconnects_are_reported_to_handlers() {
    let (mut core, edge) = setup_with(|c| with_root(c, |n| n.disconnect_handler = true)).await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    ws_send(&mut ws, "41").await;
    let req = core
        .next_request(|m| matches!(m.msg, Some(link_request::Msg::Forward(_))))
        .await;
    assert_eq!(req.request_id, 0, "$disconnect expects no reply");
    let Some(link_request::Msg::Forward(fwd)) = req.msg else {
        unreachable!()
    };
    assert_eq!(
        (
            fwd.event.as_str(),
            fwd.connection_id.as_str(),
            fwd.user_id.as_str()
        ),
        ("$disconnect", id.as_str(), "alice")
    );
    assert_eq!(
        json_of(&fwd.args[0]),
        serde_json::json!({"reason":"client namespace disconnect"})
    );
    let closed = core.next_closed().await;
    assert_eq!(closed.connection_id, id);
    drop(ws);
}
