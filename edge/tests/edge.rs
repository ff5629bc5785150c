//! The edge against a fake core: Engine.IO transports, Socket.IO connect/auth, fan-out, acks, limits.

mod common;

use common::*;
use herald_proto::v1::{DisconnectCommand, MembershipChange, arg, link_request, link_response};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn polling_handshake_connect_and_delivery() {
    let (mut core, edge) = setup().await;
    let (sid, hs) = poll_handshake(edge.addr).await;
    assert_eq!(hs["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(hs["pingInterval"], 25000);
    assert_eq!(hs["pingTimeout"], 20000);
    assert_eq!(hs["maxPayload"], 1_000_000);

    let tok = token("alice", &[]);
    let answer = loop {
        let r = http(
            edge.addr,
            "POST",
            &poll_path(&sid),
            &format!("40{{\"token\":\"{tok}\"}}"),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "ok");
        let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
        assert_eq!(r.status, 200);
        assert!(
            r.headers
                .to_ascii_lowercase()
                .contains("content-type: text/plain; charset=utf-8"),
            "{}",
            r.headers
        );
        if !r.body.contains("core unavailable") {
            break r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let socket_id = socket_sid(&answer);
    assert_ne!(socket_id, sid, "socket id and engine.io sid differ");
    let (conn, user) = core
        .next_matching(|m| match m {
            link_request::Msg::Opened(o) => Some((o.connection_id.clone(), o.user_id.clone())),
            _ => None,
        })
        .await;
    assert_eq!(conn, socket_id);
    assert_eq!(user, "alice");

    core.deliver(
        "/",
        "hello",
        &["user:alice"],
        &[],
        vec![json(r#"{"a":1}"#), json("2")],
        0,
    )
    .await;
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(r.body, r#"42["hello",{"a":1},2]"#);

    // Binary args arrive as b<base64> records after the placeholder packet.
    core.deliver(
        "/",
        "bin",
        &[&format!("conn:{socket_id}")],
        &[],
        vec![binary(&[1, 2, 3])],
        0,
    )
    .await;
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(
        r.body,
        "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]\u{1e}bAQID"
    );
}

#[tokio::test]
async fn engine_io_errors() {
    let (_core, edge) = setup().await;
    let r = http(
        edge.addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling&sid=nope",
        "",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"code":1,"message":"Session ID unknown"}"#);
    let r = http(
        edge.addr,
        "GET",
        "/socket.io/?EIO=4&transport=carrier-pigeon",
        "",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"code":0,"message":"Transport unknown"}"#);
    let r = http(edge.addr, "GET", "/healthz", "").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let r = http(edge.addr, "GET", "/index.html", "").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn concurrent_polling_gets_close_the_session() {
    let (_core, edge) = setup().await;
    let (sid, _) = poll_handshake(edge.addr).await;
    let gets: Vec<_> = (0..2)
        .map(|_| {
            let (addr, path) = (edge.addr, poll_path(&sid));
            tokio::spawn(async move { http(addr, "GET", &path, "").await })
        })
        .collect();
    let mut bodies = Vec::new();
    for g in gets {
        let r = g.await.unwrap();
        bodies.push((r.status, r.body));
    }
    bodies.sort();
    assert_eq!(
        bodies[0],
        (200, "1".to_owned()),
        "the pending GET ends with a close packet"
    );
    assert_eq!(bodies[1].0, 400);
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(r.body, r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test]
async fn refusals_and_namespaces() {
    let (_core, edge) = setup().await;
    let (_, a) = ws_connect_raw(edge.addr, "/", "").await;
    assert_eq!(a, r#"44{"message":"missing token"}"#);
    let (_, a) = ws_connect_raw(edge.addr, "/", r#"{"token":"abc"}"#).await;
    assert_eq!(a, r#"44{"message":"malformed token"}"#);
    let bad = token("alice", &[]) + "x";
    let (_, a) = ws_connect_raw(edge.addr, "/", &format!(r#"{{"token":"{bad}"}}"#)).await;
    assert!(
        a == r#"44{"message":"invalid signature"}"# || a == r#"44{"message":"malformed token"}"#,
        "{a}"
    );
    let (_, a) = ws_connect_raw(edge.addr, "/nope", "").await;
    assert_eq!(a, r#"44/nope,{"message":"Invalid namespace"}"#);
    let (_, a) = ws_connect_raw(edge.addr, "/anon", "").await;
    assert!(a.starts_with("40/anon,{\"sid\":"), "{a}");
}

#[tokio::test]
async fn delivery_resolves_targets_and_exclusions() {
    let (core, edge) = setup().await;
    let (mut a1, a1_id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    let (mut a2, _) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    let (mut b, _) = ws_connect(edge.addr, "/", &token("bob", &[])).await;
    let (mut c, _) = ws_connect(edge.addr, "/", &token("carol", &[])).await;
    let (mut anon, _) = ws_connect_raw(edge.addr, "/anon", "").await;

    let except = format!("conn:{a1_id}");
    core.deliver(
        "/",
        "news",
        &["user:alice", "user:bob"],
        &[&except],
        vec![json("1")],
        0,
    )
    .await;
    core.deliver("/", "marker", &["*"], &[], vec![], 0).await;

    assert_eq!(ws_text(&mut a1).await, r#"42["marker"]"#);
    assert_eq!(ws_text(&mut a2).await, r#"42["news",1]"#);
    assert_eq!(ws_text(&mut a2).await, r#"42["marker"]"#);
    assert_eq!(ws_text(&mut b).await, r#"42["news",1]"#);
    assert_eq!(ws_text(&mut c).await, r#"42["marker"]"#);
    // Other namespaces do not see "/" events.
    core.deliver("/anon", "anon-only", &["*"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut anon).await, r#"42/anon,["anon-only"]"#);
}

#[tokio::test]
async fn binary_delivery_over_websocket() {
    let (core, edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    core.deliver(
        "/",
        "file",
        &[&format!("conn:{id}")],
        &[],
        vec![json("\"x\""), binary(b"abc"), binary(b"de")],
        0,
    )
    .await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"452-["file","x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(
        ws_next(&mut ws).await,
        Some(Message::binary(b"abc".to_vec()))
    );
    assert_eq!(
        ws_next(&mut ws).await,
        Some(Message::binary(b"de".to_vec()))
    );
}

#[tokio::test]
async fn events_above_four_mebibytes_come_over_the_link() {
    // The core bounds events by its own max_event_bytes, which may exceed gRPC's usual 4 MiB.
    let (core, edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    let big = vec![7u8; 5 * 1024 * 1024];
    core.deliver(
        "/",
        "big",
        &[&format!("conn:{id}")],
        &[],
        vec![binary(&big)],
        0,
    )
    .await;
    core.deliver("/", "after", &[&format!("conn:{id}")], &[], vec![], 0)
        .await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"451-["big",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(ws_next(&mut ws).await, Some(Message::binary(big)));
    assert_eq!(
        ws_text(&mut ws).await,
        r#"42["after"]"#,
        "the link is still up"
    );
}

#[tokio::test]
async fn websocket_requests_the_fast_path_leaves_to_the_http_stack_still_work() {
    let (core, edge) = setup().await;
    // An escaped query value, and a header past what the fast path parses: both are served by the
    // HTTP stack's upgrade instead, with the same result.
    let mut escaped = ws_open(edge.addr, "&note=a%20b").await;
    let mut crowded = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", edge.addr);
        let mut req = url.into_client_request().unwrap();
        for i in 0..40 {
            req.headers_mut().insert(
                format!("x-filler-{i}")
                    .parse::<axum::http::HeaderName>()
                    .unwrap(),
                "1".parse().unwrap(),
            );
        }
        tokio_tungstenite::connect_async(req).await.unwrap().0
    };
    for ws in [&mut escaped, &mut crowded] {
        assert!(ws_text(ws).await.starts_with("0{"));
        ws_send(ws, &format!("40{{\"token\":\"{}\"}}", token("alice", &[]))).await;
        let id = socket_sid(&ws_text(ws).await);
        core.deliver("/", "hi", &[&format!("conn:{id}")], &[], vec![json("1")], 0)
            .await;
        assert_eq!(ws_text(ws).await, r#"42["hi",1]"#);
    }
}

#[tokio::test]
async fn acks_flow_back_to_the_core() {
    let (mut core, edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    core.deliver("/", "ask", &["user:alice"], &[], vec![json("1")], 77)
        .await;
    let frame = ws_text(&mut ws).await;
    assert!(
        frame.starts_with("42") && frame.ends_with(r#"["ask",1]"#),
        "{frame}"
    );
    let ack_id = &frame[2..frame.find('[').unwrap()];
    ws_send(&mut ws, &format!(r#"43{ack_id}[{{"fine":true}}]"#)).await;
    let ack = core
        .next_matching(|m| match m {
            link_request::Msg::Ack(a) => Some(a.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ack.ack_ref, 77);
    assert_eq!(ack.connection_id, id);
    assert_eq!(ack.args.len(), 1);
    assert_eq!(
        ack.args[0].value,
        Some(arg::Value::Json(r#"{"fine":true}"#.into()))
    );
}

#[tokio::test]
async fn join_and_leave_with_acks() {
    let (mut core, edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &["team:*"])).await;
    ws_send(&mut ws, r#"421["join","team:red"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"431[{"ok":true}]"#);
    assert_eq!(core.next_join().await, (id.clone(), "team:red".into()));
    core.deliver("/", "in-room", &["room:team:red"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["in-room"]"#);

    ws_send(&mut ws, r#"422["join","other"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"432[{"error":"not allowed to join room other","ok":false}]"#
    );

    ws_send(&mut ws, r#"423["leave","team:red"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"433[{"ok":true}]"#);
    core.deliver("/", "in-room", &["room:team:red"], &[], vec![], 0)
        .await;
    core.deliver("/", "marker", &["user:alice"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["marker"]"#);

    // Server-side join from the core.
    core.send(link_response::Msg::Membership(MembershipChange {
        namespace: "/".into(),
        user_id: "alice".into(),
        room: "vip".into(),
        join: true,
        ..Default::default()
    }))
    .await;
    core.deliver("/", "vip-news", &["room:vip"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["vip-news"]"#);
}

#[tokio::test]
async fn kick_sends_reason_then_disconnect() {
    let (mut core, edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    core.send(link_response::Msg::Disconnect(DisconnectCommand {
        namespace: "/".into(),
        connection_id: id.clone(),
        reason: "kicked".into(),
        ..Default::default()
    }))
    .await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"42["herald:disconnect",{"reason":"kicked"}]"#
    );
    assert_eq!(ws_text(&mut ws).await, "41");
    let closed = core.next_closed().await;
    assert_eq!(closed.connection_id, id);
    assert_eq!(closed.reason, "kicked");
}

#[tokio::test]
async fn max_payload_and_malformed_packets_close_only_that_connection() {
    let (core, edge) = setup_with(|c| c.engine.max_payload = 1000).await;
    let (mut good, _) = ws_connect(edge.addr, "/", &token("alice", &[])).await;

    let (mut big, _) = ws_connect(edge.addr, "/", &token("bob", &[])).await;
    ws_send(&mut big, &format!(r#"42["x","{}"]"#, "y".repeat(2000))).await;
    assert_eq!(ws_next(&mut big).await, None);

    let (mut bad, _) = ws_connect(edge.addr, "/", &token("bob", &[])).await;
    ws_send(&mut bad, "4zzz").await;
    assert_eq!(ws_next(&mut bad).await, None);

    let (mut bad2, _) = ws_connect(edge.addr, "/", &token("bob", &[])).await;
    ws_send(&mut bad2, "9").await;
    assert_eq!(ws_next(&mut bad2).await, None);

    let (sid, _) = poll_handshake(edge.addr).await;
    let r = http(
        edge.addr,
        "POST",
        &poll_path(&sid),
        &format!("4{}", "z".repeat(2000)),
    )
    .await;
    assert_eq!(r.status, 413);
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(r.body, r#"{"code":1,"message":"Session ID unknown"}"#);

    core.deliver("/", "still-here", &["user:alice"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut good).await, r#"42["still-here"]"#);
}

#[tokio::test]
async fn polling_upgrades_to_websocket() {
    let (core, edge) = setup().await;
    let (sid, _) = poll_handshake(edge.addr).await;
    let tok = token("alice", &[]);
    let answer = loop {
        http(
            edge.addr,
            "POST",
            &poll_path(&sid),
            &format!("40{{\"token\":\"{tok}\"}}"),
        )
        .await;
        let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
        if !r.body.contains("core unavailable") {
            break r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    socket_sid(&answer);

    let addr = edge.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { http(addr, "GET", &path, "").await });
    let mut ws = ws_open(edge.addr, &format!("&sid={sid}")).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    assert_eq!(
        pending.await.unwrap().body,
        "6",
        "the pending poll is released with a noop"
    );
    ws_send(&mut ws, "5").await;

    core.deliver("/", "via-ws", &["user:alice"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["via-ws"]"#);
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(r.status, 400, "polling is refused once upgraded");
}

#[tokio::test]
async fn graceful_shutdown_tells_why_then_closes_the_transport() {
    let (mut core, mut edge) = setup().await;
    let (mut ws, id) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    edge.shutdown();
    assert_eq!(
        ws_text(&mut ws).await,
        r#"42["herald:disconnect",{"reason":"server shutting down"}]"#
    );
    // No Socket.IO DISCONNECT: the transport just closes, so the client reconnects by itself.
    assert!(
        !matches!(ws_next(&mut ws).await, Some(Message::Text(_))),
        "nothing after the notice but the close"
    );
    let closed = core.next_closed().await;
    assert_eq!(closed.connection_id, id);
    let done = tokio::time::timeout(WAIT, &mut edge.done)
        .await
        .expect("run returns");
    assert!(done.unwrap().is_ok());
}

#[tokio::test]
async fn connect_is_refused_while_the_core_is_unreachable() {
    let unused = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core_addr = unused.local_addr().unwrap();
    drop(unused);
    let edge = TestEdge::start(config(core_addr)).await;
    let mut ws = ws_open(edge.addr, "").await;
    ws_text(&mut ws).await;
    ws_send(
        &mut ws,
        &format!(r#"40{{"token":"{}"}}"#, token("alice", &[])),
    )
    .await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"44{"message":"core unavailable"}"#
    );
}

#[tokio::test]
async fn core_refusal_of_a_join_reaches_the_ack() {
    let (_core, edge) = setup().await;
    let (mut ws, _) = ws_connect(edge.addr, "/", &token("alice", &["*"])).await;
    ws_send(&mut ws, r#"425["join","core-refuses"]"#).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"435[{"error":"refused by core","ok":false}]"#
    );
}

#[tokio::test]
async fn expired_tokens_close_the_socket() {
    let (_core, edge) = setup().await;
    let short = herald_auth::mint_hs256(
        SECRET,
        &herald_auth::MintOptions {
            sub: "alice".into(),
            ttl_secs: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let (mut ws, _) = ws_connect(edge.addr, "/", &short).await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"42["herald:disconnect",{"reason":"token expired"}]"#
    );
    assert_eq!(ws_text(&mut ws).await, "41");
}

#[tokio::test]
async fn authorization_header_is_used_when_connect_has_no_token() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (_core, edge) = setup().await;
    for _ in 0..100 {
        let mut req = format!("ws://{}/socket.io/?EIO=4&transport=websocket", edge.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", token("alice", &[])).parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        ws_text(&mut ws).await;
        ws_send(&mut ws, "40").await;
        let answer = ws_text(&mut ws).await;
        if answer.contains("core unavailable") {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        socket_sid(&answer);
        return;
    }
    panic!("link never came up");
}

#[tokio::test]
async fn http_emit_forwards_to_the_core() {
    let (_core, edge) = setup().await;
    let body = r#"{"namespace":"/chat","targets":["user:alice"],"except":["conn:x"],"event":"ping","args":[{"a":1},"s"]}"#;
    let good =
        format!("Content-Type: application/json\r\nAuthorization: Bearer {SERVICE_TOKEN}\r\n");
    let r = http_with(edge.addr, "POST", "/v1/emit", &good, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["event_id"], "/chat|user:alice|conn:x|ping");
    assert_eq!(v["connections"], 2);
    assert_eq!(v["acks"][0]["args"], serde_json::json!([{"a":1},"s"]));

    let bad = "Content-Type: application/json\r\nAuthorization: Bearer wrong\r\n";
    let r = http_with(edge.addr, "POST", "/v1/emit", bad, body).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = http_with(
        edge.addr,
        "POST",
        "/v1/emit",
        &good,
        r#"{"targets":["*"],"event":""}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = http_with(edge.addr, "POST", "/v1/emit", &good, "not json").await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn slow_consumers_are_disconnected_without_hurting_others() {
    let (mut core, edge) = setup_with(|c| c.engine.outbound_queue = 8).await;
    let (mut slow, slow_id) = ws_connect(edge.addr, "/", &token("slow", &[])).await;
    let (mut fast, _) = ws_connect(edge.addr, "/", &token("fast", &[])).await;
    let big = format!("\"{}\"", "z".repeat(64 * 1024));
    let mut closed = None;
    for _ in 0..2000 {
        core.deliver("/", "flood", &["user:slow"], &[], vec![json(&big)], 0)
            .await;
        while let Ok(m) = core.seen.try_recv() {
            if let Some(link_request::Msg::Closed(c)) = m.msg {
                closed = Some(c);
            }
        }
        if closed.is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let closed = match closed {
        Some(c) => c,
        None => core.next_closed().await,
    };
    assert_eq!(closed.connection_id, slow_id);
    assert_eq!(closed.reason, "slow consumer");

    core.deliver("/", "ok", &["user:fast"], &[], vec![], 0)
        .await;
    assert_eq!(ws_text(&mut fast).await, r#"42["ok"]"#);

    // The slow client, reading at last, finds the reason after the frames that were in flight.
    loop {
        let t = ws_text(&mut slow).await;
        if t.starts_with(r#"42["flood""#) {
            continue;
        }
        assert_eq!(t, r#"42["herald:disconnect",{"reason":"slow consumer"}]"#);
        break;
    }
    assert_eq!(ws_text(&mut slow).await, "41");
}

#[tokio::test]
async fn a_session_that_never_connects_is_closed_after_connect_timeout() {
    let (_core, edge) =
        setup_with(|c| c.connect_timeout = std::time::Duration::from_millis(300)).await;
    let mut ws = ws_open(edge.addr, "").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    // Pings are answered (by ws_next), but no namespace is ever connected.
    while let Some(m) = ws_next(&mut ws).await {
        assert_eq!(m, Message::text("2"), "nothing but pings before the close");
    }
}

#[tokio::test]
async fn a_binary_packet_before_connect_closes_the_session_without_buffering() {
    let (_core, edge) = setup().await;
    let mut ws = ws_open(edge.addr, "").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    ws_send(&mut ws, r#"451-["up",{"_placeholder":true,"num":0}]"#).await;
    assert!(ws_next(&mut ws).await.is_none(), "the session is closed");
}
