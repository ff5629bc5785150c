//! A connected socket's traffic against a scripted core: forwarded events and their acks, the
//! client's acks of server events, relays, and the close notices the core gets.

use std::sync::Arc;

use herald_proto::v1::{Applied, ConnectionClosed, Delivery, Event, arg, link_request::Msg};
use tokio::sync::Notify;

use super::{client_sends, connected, next_sent, session, sio_with};
use crate::socketio::core::{CoreError, FORWARD_TIMEOUT, REQUEST_TIMEOUT};
use crate::socketio::fake_core::{FakeCore, Got, next_got, now};
use crate::socketio::fanout::{Batch, deliver};
use crate::socketio::json_arg;
use crate::socketio::session::SessionExt;

fn json(text: &str) -> herald_proto::v1::Arg {
    json_arg(&serde_json::from_str(text).unwrap())
}

/// The text of a JSON arg.
fn text(a: &herald_proto::v1::Arg) -> &str {
    match &a.value {
        Some(arg::Value::Json(j)) => j,
        other => panic!("a JSON arg, not {other:?}"),
    }
}

#[tokio::test]
async fn a_forwarded_event_is_acked_with_the_handlers_reply_without_holding_up_the_next() {
    let slow_done = Arc::new(Notify::new());
    let (core, mut got) = FakeCore::new({
        let slow_done = slow_done.clone();
        move |msg| match msg {
            Msg::Forward(f) if f.event == "slow" => {
                let slow_done = slow_done.clone();
                Box::pin(async move {
                    slow_done.notified().await;
                    Ok(Applied {
                        args: vec![json(r#""slow done""#)],
                        ..Default::default()
                    })
                })
            }
            Msg::Forward(_) => now(Ok(Applied {
                args: vec![json(r#"{"n":2}"#), json("true")],
                ..Default::default()
            })),
            _ => now(Ok(Applied::default())),
        }
    });
    let (sio, s) = (sio_with(core), session());
    let id = connected(&sio, &s, &mut got, "u1", &[]).await;

    client_sends(&sio, &s, r#"21["slow",{"a":1},"x"]"#).await;
    let Got::Request {
        msg: Msg::Forward(slow),
        limit,
    } = next_got(&mut got).await
    else {
        panic!("the core gets the forward");
    };
    assert_eq!(limit, FORWARD_TIMEOUT);
    assert_eq!(
        (slow.event.as_str(), slow.namespace.as_str()),
        ("slow", "/")
    );
    assert_eq!(
        (slow.connection_id.as_str(), slow.user_id.as_str()),
        (id.as_str(), "u1")
    );
    let args: Vec<&str> = slow.args.iter().map(text).collect();
    assert_eq!(args, [r#"{"a":1}"#, r#""x""#]);

    // The slow handler has not answered: the next event goes out and is acked meanwhile.
    client_sends(&sio, &s, r#"22["fast"]"#).await;
    let Got::Request {
        msg: Msg::Forward(fast),
        ..
    } = next_got(&mut got).await
    else {
        panic!("the core gets the second forward");
    };
    assert_eq!(fast.event, "fast");
    assert!(fast.args.is_empty());
    assert_eq!(next_sent(&s).await, r#"432[{"n":2},true]"#);

    slow_done.notify_one();
    assert_eq!(next_sent(&s).await, r#"431["slow done"]"#);
}

#[tokio::test]
async fn a_failed_forward_is_acked_with_the_error() {
    let (core, mut got) = FakeCore::new(|msg| match msg {
        Msg::Forward(_) => now(Err(CoreError::Refused("no handler".into()))),
        _ => now(Ok(Applied::default())),
    });
    let (sio, s) = (sio_with(core), session());
    connected(&sio, &s, &mut got, "u1", &[]).await;
    client_sends(&sio, &s, r#"27["ask"]"#).await;
    assert!(matches!(
        next_got(&mut got).await,
        Got::Request {
            msg: Msg::Forward(_),
            ..
        }
    ));
    assert_eq!(next_sent(&s).await, r#"437[{"error":"no handler"}]"#);
}

#[tokio::test]
async fn the_clients_ack_of_a_server_event_reaches_the_core_as_owed() {
    let (core, mut got) = FakeCore::applying();
    let (sio, s) = (sio_with(core), session());
    let id = connected(&sio, &s, &mut got, "u1", &[]).await;

    let delivery = Delivery {
        event: Some(Event {
            namespace: "/".into(),
            targets: vec![format!("conn:{id}")],
            name: "ping".into(),
            args: vec![json("1")],
            seq: 10,
            ..Default::default()
        }),
        ack_ref: 77,
    };
    deliver(&sio, delivery, &mut Batch::new(false));
    assert_eq!(next_sent(&s).await, r#"420["ping",1]"#);

    client_sends(&sio, &s, r#"30["pong",{"ok":true}]"#).await;
    let Got::Owed(Msg::Ack(ack)) = next_got(&mut got).await else {
        panic!("the client's ack is owed to the core");
    };
    assert_eq!((ack.ack_ref, ack.connection_id.as_str()), (77, id.as_str()));
    let args: Vec<&str> = ack.args.iter().map(text).collect();
    assert_eq!(args, [r#""pong""#, r#"{"ok":true}"#]);

    // An ack id answers once; an unknown one reaches nothing.
    client_sends(&sio, &s, r#"30["again"]"#).await;
    client_sends(&sio, &s, r#"39[]"#).await;
    assert!(got.try_recv().is_err());
}

#[tokio::test]
async fn closing_tells_the_core_with_the_reason_and_whether_the_session_is_kept() {
    let cases = [
        ("transport close", true),
        ("client namespace disconnect", false),
    ];
    for (reason, recoverable) in cases {
        let (core, mut got) = FakeCore::applying();
        let (sio, s) = (sio_with(core), session());
        let id = connected(&sio, &s, &mut got, "u1", &[]).await;
        if reason == "transport close" {
            s.close(&sio, herald_engine::Close::TransportClose.into());
            assert!(s.is_closing());
        } else {
            client_sends(&sio, &s, "1").await;
            assert!(!s.has_socket("/"));
        }
        let Got::Owed(Msg::Closed(closed)) = next_got(&mut got).await else {
            panic!("the core is told the socket is gone");
        };
        assert_eq!(
            closed,
            ConnectionClosed {
                connection_id: id.clone(),
                reason: reason.into(),
                recoverable,
            }
        );
        assert!(sio.index.read().get(&id).is_none());
    }
}

#[tokio::test]
async fn a_relay_without_an_ack_goes_to_the_core_as_a_relay_and_with_one_as_a_request() {
    let (core, mut got) = FakeCore::applying();
    let (sio, s) = (sio_with(core), session());
    let id = connected(&sio, &s, &mut got, "u1", &["r1"]).await;

    client_sends(&sio, &s, r#"21["join","r1"]"#).await;
    let Got::Request {
        msg: Msg::Join(join),
        limit,
    } = next_got(&mut got).await
    else {
        panic!("the core gets the join");
    };
    assert_eq!(
        (join.connection_id.as_str(), join.room.as_str()),
        (id.as_str(), "r1")
    );
    assert_eq!(limit, REQUEST_TIMEOUT);
    assert_eq!(next_sent(&s).await, r#"431[{"ok":true}]"#);

    client_sends(&sio, &s, r#"2["typing",{"room":"r1"}]"#).await;
    let Got::Relay(Msg::Relay(relay)) = next_got(&mut got).await else {
        panic!("a relay without an ack is sent without waiting");
    };
    assert_eq!(
        (
            relay.room.as_str(),
            relay.event.as_str(),
            relay.connection_id.as_str()
        ),
        ("r1", "typing", id.as_str())
    );
    assert!(relay.delivered_locally);

    client_sends(&sio, &s, r#"22["typing",{"room":"r1"}]"#).await;
    assert!(matches!(
        next_got(&mut got).await,
        Got::Request {
            msg: Msg::Relay(_),
            ..
        }
    ));
    assert_eq!(next_sent(&s).await, r#"432[{"ok":true}]"#);
}
