//! Connection-state recovery against a fake core: the pid of a fresh session, offsets on recoverable
//! events, which close reasons keep the session, the restore flow (lookup, rooms authorized again,
//! resume, replay, held-back live events without duplicates) and bad pids/offsets.

mod common;

use common::*;
use herald_edge::EdgeConfig;
use herald_proto::v1::{
    ConnectionClosed, ConnectionOpened, DisconnectCommand, LinkRequest, SessionLookup,
    link_request, link_response,
};
use serde_json::{Value, json as j};
use tokio_tungstenite::tungstenite::Message;

fn opened(m: &link_request::Msg) -> Option<ConnectionOpened> {
    match m {
        link_request::Msg::Opened(o) => Some(o.clone()),
        _ => None,
    }
}

fn closed(m: &link_request::Msg) -> Option<ConnectionClosed> {
    match m {
        link_request::Msg::Closed(c) => Some(c.clone()),
        _ => None,
    }
}

fn lookup_or_opened(m: &LinkRequest) -> bool {
    matches!(
        m.msg,
        Some(link_request::Msg::Lookup(_) | link_request::Msg::Opened(_))
    )
}

/// The JSON of a `40{...}` CONNECT reply.
fn connect_reply(answer: &str) -> Value {
    assert!(answer.starts_with("40"), "{answer}");
    serde_json::from_str(&answer[answer.find('{').unwrap()..]).unwrap()
}

fn resume_auth(token: &str, pid: &str, offset: &str) -> String {
    j!({ "token": token, "pid": pid, "offset": offset }).to_string()
}

/// Recovery is opt-in per namespace, as in Socket.IO.
fn recovery_on(c: &mut EdgeConfig) {
    with_root(c, |n| n.connection_state_recovery = true);
}

#[tokio::test]
async fn a_fresh_session_gets_a_pid_and_recoverable_events_their_offset() {
    let (mut core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &[]);
    let (mut ws, answer) =
        ws_connect_raw(edge.addr, "/", &format!("{{\"token\":\"{tok}\"}}")).await;
    let reply = connect_reply(&answer);
    let pid = reply["pid"].as_str().expect("pid in the CONNECT reply");
    assert_eq!(pid.len(), 22, "16 random bytes, base64url");
    let o = core.next_matching(opened).await;
    assert_eq!(o.pid, pid, "the core learns the pid");
    assert_eq!(o.connection_id, reply["sid"].as_str().unwrap());
    assert!(o.resume_offset.is_empty());

    // A second socket of the same user: the same bytes reach both.
    let (mut ws2, answer2) =
        ws_connect_raw(edge.addr, "/", &format!("{{\"token\":\"{tok}\"}}")).await;
    assert_ne!(
        connect_reply(&answer2)["pid"],
        pid,
        "every session its own pid"
    );

    let ev = event("/", "news", &["user:alice"], vec![json(r#"{"a":1}"#)], 7);
    core.deliver_event(ev, 0).await;
    assert_eq!(ws_text(&mut ws).await, r#"42["news",{"a":1},"ep:7"]"#);
    assert_eq!(ws_text(&mut ws2).await, r#"42["news",{"a":1},"ep:7"]"#);

    // Volatile: no offset. Ack requested: no offset.
    core.deliver_event(event("/", "typing", &["user:alice"], vec![json("1")], 0), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["typing",1]"#);
    core.deliver_event(event("/", "ask", &["user:alice"], vec![json("2")], 8), 5)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"420["ask",2]"#);

    // Binary args: the offset is a JSON argument after the placeholder.
    core.deliver_event(
        event("/", "bin", &["user:alice"], vec![binary(&[1, 2])], 9),
        0,
    )
    .await;
    assert_eq!(
        ws_text(&mut ws).await,
        r#"451-["bin",{"_placeholder":true,"num":0},"ep:9"]"#
    );
    assert_eq!(ws_next(&mut ws).await, Some(Message::binary(vec![1u8, 2])));
}

#[tokio::test]
async fn recovery_off_means_no_pid_and_no_offset() {
    let (mut core, edge) =
        setup_with(|c: &mut EdgeConfig| with_root(c, |n| n.connection_state_recovery = false))
            .await;
    let tok = token("alice", &[]);
    let (mut ws, answer) =
        ws_connect_raw(edge.addr, "/", &format!("{{\"token\":\"{tok}\"}}")).await;
    assert!(connect_reply(&answer).get("pid").is_none(), "{answer}");
    assert!(core.next_matching(opened).await.pid.is_empty());
    core.deliver_event(event("/", "news", &["user:alice"], vec![json("1")], 7), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["news",1]"#);

    // A pid + offset is ignored: a fresh session, no lookup.
    core.save_session("P1", "alice", "old", &[], "");
    let (_ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P1", "ep:1")).await;
    assert_ne!(socket_sid(&answer), "old");
    let m = core.next_request(lookup_or_opened).await;
    assert!(matches!(m.msg, Some(link_request::Msg::Opened(_))), "{m:?}");
}

#[tokio::test]
async fn lost_transports_are_recoverable_leaving_is_not() {
    let (mut core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &[]);

    // The websocket goes away (closed, or just gone): recoverable.
    let (mut ws, sid) = ws_connect(edge.addr, "/", &tok).await;
    ws.close(None).await.unwrap();
    let c = core.next_matching(closed).await;
    assert_eq!(
        (c.connection_id.as_str(), c.reason.as_str()),
        (sid.as_str(), "transport close")
    );
    assert!(c.recoverable);
    let (ws, sid) = ws_connect(edge.addr, "/", &tok).await;
    drop(ws);
    let c = core.next_matching(closed).await;
    assert_eq!(c.connection_id, sid);
    assert!(c.recoverable, "{c:?}");

    // The client leaves the namespace: not recoverable.
    let (mut ws, sid) = ws_connect(edge.addr, "/", &tok).await;
    ws_send(&mut ws, "41").await;
    let c = core.next_matching(closed).await;
    assert_eq!(c.connection_id, sid);
    assert!(!c.recoverable, "{c:?}");

    // The client closes its engine on purpose: not recoverable.
    let (mut ws, sid) = ws_connect(edge.addr, "/", &tok).await;
    ws_send(&mut ws, "1").await;
    let c = core.next_matching(closed).await;
    assert_eq!(c.connection_id, sid);
    assert!(!c.recoverable, "{c:?}");

    // Kicked: not recoverable.
    let (_ws, sid) = ws_connect(edge.addr, "/", &tok).await;
    core.send(link_response::Msg::Disconnect(DisconnectCommand {
        connection_id: sid.clone(),
        reason: "kicked".into(),
        ..Default::default()
    }))
    .await;
    let c = core.next_matching(closed).await;
    assert_eq!(c.connection_id, sid);
    assert!(!c.recoverable, "{c:?}");
}

#[tokio::test]
async fn shutdown_keeps_sessions() {
    let (mut core, mut edge) = setup_with(recovery_on).await;
    let (_ws, sid) = ws_connect(edge.addr, "/", &token("alice", &[])).await;
    edge.shutdown();
    let c = core.next_matching(closed).await;
    assert_eq!(c.connection_id, sid);
    assert_eq!(c.reason, "server shutting down");
    assert!(c.recoverable);
}

#[tokio::test]
async fn a_session_is_restored_with_its_rooms_replay_and_held_back_live_events() {
    let (mut core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &["r1", "r2"]);
    core.save_session("P1", "alice", "old-conn", &["r1", "r2", "secret"], "");
    core.script_resume(
        "old-conn",
        ResumeScript {
            live_first: vec![
                event("/", "m", &["user:alice"], vec![json("12")], 12),
                event("/", "m", &["room:r1"], vec![json("13")], 13),
                event("/", "typing", &["room:r2"], vec![json("\"t\"")], 0),
                event("/", "m", &["room:secret"], vec![json("\"no\"")], 14),
            ],
            replay: vec![
                event("/", "m", &["user:alice"], vec![json("11")], 11),
                event("/", "m", &["room:r2"], vec![json("12")], 12),
            ],
            error: None,
            floor_seq: 0,
        },
    );
    let (mut ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P1", "ep:10")).await;
    assert_eq!(answer, r#"40{"sid":"old-conn","pid":"P1"}"#);

    let l: SessionLookup = core
        .next_matching(|m| match m {
            link_request::Msg::Lookup(l) => Some(l.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (
            l.pid.as_str(),
            l.namespace.as_str(),
            l.user_id.as_str(),
            l.offset.as_str()
        ),
        ("P1", "/", "alice", "ep:10")
    );
    let o = core.next_matching(opened).await;
    assert_eq!(o.connection_id, "old-conn");
    assert_eq!(o.pid, "P1");
    assert_eq!(o.resume_offset, "ep:10");
    assert_eq!(
        o.rooms,
        vec!["r1".to_owned(), "r2".to_owned()],
        "secret is no longer allowed"
    );

    // Replay first, then the held-back live events minus what the replay had.
    assert_eq!(ws_text(&mut ws).await, r#"42["m",11,"ep:11"]"#);
    assert_eq!(ws_text(&mut ws).await, r#"42["m",12,"ep:12"]"#);
    assert_eq!(ws_text(&mut ws).await, r#"42["m",13,"ep:13"]"#);
    assert_eq!(ws_text(&mut ws).await, r#"42["typing","t"]"#);

    // Live again, in its restored rooms only.
    core.deliver_event(event("/", "m", &["room:secret"], vec![json("0")], 20), 0)
        .await;
    core.deliver_event(event("/", "m", &["room:r1"], vec![json("21")], 21), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["m",21,"ep:21"]"#);
}

#[tokio::test]
async fn a_long_replay_waits_for_room_in_a_small_queue() {
    let (core, edge) = setup_with(|c| {
        c.engine.outbound_queue = 16;
        recovery_on(c);
    })
    .await;
    let tok = token("alice", &[]);
    core.save_session("P2", "alice", "old-2", &[], "");
    let replay = (1..=300)
        .map(|i| event("/", "m", &["user:alice"], vec![json(&i.to_string())], i))
        .collect();
    let live = (300..=310)
        .map(|i| event("/", "m", &["user:alice"], vec![json(&i.to_string())], i))
        .collect();
    core.script_resume(
        "old-2",
        ResumeScript {
            live_first: live,
            replay,
            error: None,
            floor_seq: 0,
        },
    );
    let (mut ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P2", "ep:0")).await;
    assert_eq!(socket_sid(&answer), "old-2");
    for i in 1..=310 {
        assert_eq!(ws_text(&mut ws).await, format!(r#"42["m",{i},"ep:{i}"]"#));
    }
}

#[tokio::test]
async fn too_many_held_back_events_close_the_session() {
    let (mut core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &[]);
    core.save_session("P3", "alice", "old-3", &[], "");
    let live = (1..=4200)
        .map(|i| event("/", "m", &["user:alice"], vec![json("1")], i))
        .collect();
    core.script_resume(
        "old-3",
        ResumeScript {
            live_first: live,
            replay: Vec::new(),
            error: None,
            floor_seq: 0,
        },
    );
    let (_ws, _answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P3", "ep:0")).await;
    let c = core.next_matching(closed).await;
    assert_eq!(c.connection_id, "old-3");
    assert_eq!(c.reason, "slow consumer");
    assert!(!c.recoverable);
}

#[tokio::test]
async fn handlers_authorize_restored_rooms_again() {
    let (mut core, edge) = setup_with(|c| {
        with_root(c, |n| {
            n.join_handler = true;
            n.connection_state_recovery = true;
        })
    })
    .await;
    let tok = token("alice", &["mine"]);
    core.save_session("P4", "alice", "old-4", &["mine", "ok:a", "nope"], "");
    let (_ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P4", "ep:3")).await;
    assert_eq!(socket_sid(&answer), "old-4");
    let o = core.next_matching(opened).await;
    let mut rooms = o.rooms.clone();
    rooms.sort();
    assert_eq!(rooms, vec!["mine".to_owned(), "ok:a".to_owned()]);

    // $connect on restore: its rooms and the claim decide; its data replaces the saved data.
    let (mut core, edge) = setup_with(|c| {
        with_root(c, |n| {
            n.connect_handler = true;
            n.connection_state_recovery = true;
        })
    })
    .await;
    core.save_session(
        "P5",
        "alice",
        "old-5",
        &["from-connect", "mine", "gone"],
        r#"{"old":1}"#,
    );
    let (_ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P5", "ep:3")).await;
    assert_eq!(socket_sid(&answer), "old-5");
    let o = core.next_matching(opened).await;
    let mut rooms = o.rooms.clone();
    rooms.sort();
    assert_eq!(rooms, vec!["from-connect".to_owned(), "mine".to_owned()]);
    assert_eq!(o.data_json, r#"{"tier":"gold"}"#);

    // A $connect refusal on restore is a connect_error.
    let bad = token("intruder", &[]);
    core.save_session("P6", "intruder", "old-6", &[], "");
    let (_ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&bad, "P6", "ep:3")).await;
    assert_eq!(answer, r#"44{"message":"not welcome"}"#);
}

#[tokio::test]
async fn forged_or_malformed_pids_get_a_fresh_session() {
    let (mut core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &[]);
    core.save_session("BOBS", "bob", "bob-conn", &["bob-room"], "");

    // Unknown pid, and another user's pid: looked up, not found, fresh session.
    for pid in ["FORGED", "BOBS"] {
        let (_ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, pid, "ep:1")).await;
        let reply = connect_reply(&answer);
        assert_ne!(reply["sid"], "bob-conn");
        assert_ne!(reply["pid"], pid);
        assert_eq!(reply["pid"].as_str().unwrap().len(), 22);
        let m = core.next_request(lookup_or_opened).await;
        assert!(matches!(m.msg, Some(link_request::Msg::Lookup(_))), "{m:?}");
        let o = core.next_matching(opened).await;
        assert!(o.resume_offset.is_empty() && o.rooms.is_empty(), "{o:?}");
        assert_eq!(o.connection_id, reply["sid"].as_str().unwrap());
    }

    // Not strings, too long, a bad offset: no lookup at all.
    let long = "x".repeat(100);
    for auth in [
        j!({"token": tok, "pid": 5, "offset": "ep:1"}),
        j!({"token": tok, "pid": "P", "offset": 1}),
        j!({"token": tok, "pid": {"a": 1}, "offset": "ep:1"}),
        j!({"token": tok, "pid": long, "offset": "ep:1"}),
        j!({"token": tok, "pid": "P", "offset": "garbage"}),
        j!({"token": tok, "pid": "P"}),
    ] {
        let (_ws, answer) = ws_connect_raw(edge.addr, "/", &auth.to_string()).await;
        assert!(connect_reply(&answer)["pid"].is_string(), "{answer}");
        let m = core.next_request(lookup_or_opened).await;
        assert!(
            matches!(m.msg, Some(link_request::Msg::Opened(_))),
            "{auth}: {m:?}"
        );
    }

    // A refused resume: the core's registration is closed for good, then a fresh session.
    core.save_session("P7", "alice", "old-7", &[], "");
    core.script_resume(
        "old-7",
        ResumeScript {
            error: Some("not recoverable: offset too old".into()),
            ..Default::default()
        },
    );
    let (mut ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P7", "ep:1")).await;
    let sid = socket_sid(&answer);
    assert_ne!(sid, "old-7");
    let c = core
        .next_matching(|m| closed(m).filter(|c| c.connection_id == "old-7"))
        .await;
    assert!(!c.recoverable);
    let o = core.next_matching(opened).await;
    assert_eq!(o.connection_id, sid);
    // The fresh socket works.
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("1")], 30), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["m",1,"ep:30"]"#);
    assert!(!edge.done.is_finished(), "the edge keeps serving");
}

#[tokio::test]
async fn a_polling_client_is_restored_too() {
    let (core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &[]);
    core.save_session("P8", "alice", "old-8", &[], "");
    core.script_resume(
        "old-8",
        ResumeScript {
            replay: vec![event("/", "m", &["user:alice"], vec![json("1")], 4)],
            ..Default::default()
        },
    );
    let (sid, _) = poll_handshake(edge.addr).await;
    let auth = resume_auth(&tok, "P8", "ep:3");
    let r = http(edge.addr, "POST", &poll_path(&sid), &format!("40{auth}")).await;
    assert_eq!(r.status, 200);
    let mut body = String::new();
    while !body.contains("ep:4") {
        let r = http(edge.addr, "GET", &poll_path(&sid), "").await;
        assert_eq!(r.status, 200, "{}", r.body);
        if !body.is_empty() {
            body.push('\u{1e}');
        }
        body.push_str(&r.body);
    }
    assert_eq!(
        body,
        "40{\"sid\":\"old-8\",\"pid\":\"P8\"}\u{1e}42[\"m\",1,\"ep:4\"]"
    );
}

#[tokio::test]
async fn a_live_copy_of_a_replayed_event_after_the_restore_is_not_delivered_again() {
    let (core, edge) = setup_with(recovery_on).await;
    let tok = token("alice", &[]);
    core.save_session("P9", "alice", "old-9", &[], "");
    core.script_resume(
        "old-9",
        ResumeScript {
            replay: vec![
                event("/", "m", &["user:alice"], vec![json("5")], 5),
                event("/", "m", &["user:alice"], vec![json("6")], 6),
            ],
            ..Default::default()
        },
    );
    let (mut ws, answer) = ws_connect_raw(edge.addr, "/", &resume_auth(&tok, "P9", "ep:4")).await;
    assert_eq!(socket_sid(&answer), "old-9");
    assert_eq!(ws_text(&mut ws).await, r#"42["m",5,"ep:5"]"#);
    assert_eq!(ws_text(&mut ws).await, r#"42["m",6,"ep:6"]"#);
    // The restore is over; the live copy of event 6 (dispatched after the core read the replay)
    // arrives late, then a new one.
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("6")], 6), 0)
        .await;
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("7")], 7), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["m",7,"ep:7"]"#, "6 only once");
}

#[tokio::test]
async fn a_new_socket_gets_only_events_accepted_after_it_registered() {
    let (core, edge) = setup().await;
    let tok = token("alice", &[]);
    // The core delivers an event accepted before the registration (9) and one after (11), then
    // answers with the registration point.
    core.script_open(
        "alice",
        OpenScript {
            live_first: vec![
                event("/", "m", &["user:alice"], vec![json("9")], 9),
                event("/", "m", &["user:alice"], vec![json("11")], 11),
            ],
            floor_seq: 10,
        },
    );
    let (mut ws, answer) =
        ws_connect_raw(edge.addr, "/", &format!("{{\"token\":\"{tok}\"}}")).await;
    assert!(
        answer.starts_with("40"),
        "the CONNECT reply first: {answer}"
    );
    assert_eq!(ws_text(&mut ws).await, r#"42["m",11]"#);
    // Late and below the floor: dropped; above it: delivered. Relays (seq 0) always pass.
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("8")], 8), 0)
        .await;
    core.deliver_event(event("/", "typing", &["user:alice"], vec![json("0")], 0), 0)
        .await;
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("12")], 12), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["typing",0]"#);
    assert_eq!(ws_text(&mut ws).await, r#"42["m",12]"#);
    // Not in order any more: at or below what the socket got, dropped.
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("12")], 12), 0)
        .await;
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("13")], 13), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["m",13]"#);
}

#[tokio::test]
async fn after_a_relink_sockets_are_registered_again_and_replayed_or_told() {
    let (mut core, edge) = setup_with(recovery_on).await;
    let (mut ws, answer) = ws_connect_raw(
        edge.addr,
        "/",
        &format!("{{\"token\":\"{}\"}}", token("alice", &[])),
    )
    .await;
    let id = socket_sid(&answer);
    let (_bob, bob_answer) = ws_connect_raw(
        edge.addr,
        "/",
        &format!("{{\"token\":\"{}\"}}", token("bob", &[])),
    )
    .await;
    let bob = socket_sid(&bob_answer);
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("7")], 7), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["m",7,"ep:7"]"#);

    // The link breaks; the core replays what alice missed meanwhile.
    core.script_resume(
        &id,
        ResumeScript {
            replay: vec![event("/", "m", &["user:alice"], vec![json("8")], 8)],
            ..Default::default()
        },
    );
    core.break_link().await;
    core.next_matching(|m| matches!(m, link_request::Msg::Hello(_)).then_some(()))
        .await;
    let mut again = Vec::new();
    while again.len() < 2 {
        let o = core.next_matching(opened).await;
        if o.connection_id == id || o.connection_id == bob {
            again.push(o);
        }
    }
    again.sort_by_key(|o| o.connection_id != id);
    assert_eq!(again[0].resume_offset, "ep:7", "alice's last offset");
    assert_eq!(
        again[1].resume_offset, "",
        "bob never got a recoverable event"
    );
    assert_eq!(ws_text(&mut ws).await, r#"42["m",8,"ep:8"]"#);
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("8")], 8), 0)
        .await;
    core.deliver_event(event("/", "m", &["user:alice"], vec![json("9")], 9), 0)
        .await;
    assert_eq!(ws_text(&mut ws).await, r#"42["m",9,"ep:9"]"#, "8 once");

    // Again, and this time the core cannot replay: alice is told, then her transport closes and
    // her session is not kept.
    core.script_resume(
        &id,
        ResumeScript {
            error: Some("not recoverable: epoch changed".into()),
            ..Default::default()
        },
    );
    core.break_link().await;
    core.next_matching(|m| matches!(m, link_request::Msg::Hello(_)).then_some(()))
        .await;
    let o = core
        .next_matching(|m| opened(m).filter(|o| o.connection_id == id))
        .await;
    assert_eq!(o.resume_offset, "ep:9");
    assert_eq!(
        ws_text(&mut ws).await,
        r#"42["herald:disconnect",{"reason":"missed events cannot be replayed (core restarted)"}]"#
    );
    assert_eq!(ws_next(&mut ws).await, None, "the transport closes");
    let c = core
        .next_matching(|m| closed(m).filter(|c| c.connection_id == id))
        .await;
    assert!(!c.recoverable, "{c:?}");
}
