//! Operations: the order of the last frames over long-polling (shutdown, kick) and `/metrics`.

mod common;

use common::*;
use herald_proto::v1::{DisconnectCommand, link_response};

#[tokio::test]
async fn polling_shutdown_sends_the_reason_before_the_close_packet() {
    let (_core, mut edge) = setup().await;
    let (sid, answer) = poll_connect(edge.addr, "/", &token("alice", &[])).await;
    socket_sid(&answer);
    let addr = edge.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { http(addr, "GET", &path, "").await });
    // Whether this GET is pending at shutdown or arrives just after, it gets the same frames.
    edge.shutdown();
    let r = pending.await.unwrap();
    assert_eq!(
        r.body, "42[\"herald:disconnect\",{\"reason\":\"server shutting down\"}]",
        "the reason, no Socket.IO DISCONNECT (a restart: the client reconnects) and no close packet yet"
    );
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "1"),
        "close comes in a poll of its own"
    );
    let done = tokio::time::timeout(WAIT, &mut edge.done)
        .await
        .expect("run returns");
    assert!(done.unwrap().is_ok());
}

#[tokio::test]
async fn polling_kick_has_no_close_packet_in_the_same_payload() {
    let (core, edge) = setup().await;
    let (sid, answer) = poll_connect(edge.addr, "/", &token("alice", &[])).await;
    let id = socket_sid(&answer);
    core.send(link_response::Msg::Disconnect(DisconnectCommand {
        namespace: "/".into(),
        connection_id: id,
        reason: "kicked".into(),
        ..Default::default()
    }))
    .await;
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(
        r.body,
        "42[\"herald:disconnect\",{\"reason\":\"kicked\"}]\u{1e}41"
    );
    // The client then closes the engine.io session itself.
    let r = http(edge.addr, "POST", &poll_path(&sid), "1").await;
    assert_eq!(r.status, 200);
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(r.body, r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test]
async fn slow_polling_consumer_gets_its_reason_then_close() {
    let (core, edge) = setup_with(|c| c.engine.outbound_queue = 8).await;
    let (sid, answer) = poll_connect(edge.addr, "/", &token("slow", &[])).await;
    socket_sid(&answer);
    for _ in 0..20 {
        core.deliver("/", "flood", &["user:slow"], &[], vec![], 0)
            .await;
    }
    // The 9th delivery overflowed the queue; the next GET has the reason and DISCONNECT only.
    let mut body = String::new();
    for _ in 0..100 {
        body = http(edge.addr, "GET", &poll_path(&sid), "").await.body;
        if body.contains("herald:disconnect") || body == "1" {
            break;
        }
    }
    assert_eq!(
        body,
        "42[\"herald:disconnect\",{\"reason\":\"slow consumer\"}]\u{1e}41"
    );
    let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
    assert_eq!(r.body, "1");
    let metrics = http(edge.addr, "GET", "/metrics", "").await.body;
    assert!(
        metrics.contains("\nherald_edge_slow_consumer_disconnects_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_show_edge_and_core_numbers() {
    let (_core, edge) = setup().await;
    let (_ws, _) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    let r = http(edge.addr, "GET", "/metrics", "").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        r.headers
    );
    let sessions: u64 = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("herald_edge_sessions "))
        .expect("sessions gauge")
        .parse()
        .unwrap();
    assert!(sessions >= 1, "{}", r.body);
    for line in [
        "herald_edge_sockets{namespace=\"/\"} 1",
        "herald_edge_sockets{namespace=\"/anon\"} 0",
        "herald_edge_link_up 1",
        "herald_core_up 1",
        "herald_connections{namespace=\"/\"} 3",
        "herald_users{namespace=\"/\"} 2",
        "herald_rooms{namespace=\"/\"} 1",
        "herald_edges 1",
        "# TYPE herald_edge_frames_sent_total counter",
    ] {
        assert!(
            r.body.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            r.body
        );
    }
}

#[tokio::test]
async fn metrics_without_a_core_still_serve_the_edge_part() {
    let unused = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core_addr = unused.local_addr().unwrap();
    drop(unused);
    let edge = TestEdge::start(config(core_addr)).await;
    let r = http(edge.addr, "GET", "/metrics", "").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.lines().any(|l| l == "herald_core_up 0"),
        "{}",
        r.body
    );
    assert!(
        r.body.lines().any(|l| l == "herald_edge_link_up 0"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("herald_connections"), "{}", r.body);
}
