//! The Socket.IO layer on an engine session, without transports, a listener or a core: packets
//! go in through the layer's entry points and what the client would read is taken from the
//! session's queue.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_auth::{AuthConfig, Verifier};
use herald_engine::Outgoing;

use crate::config::EdgeConfig;
use crate::edge::Edge;
use crate::socketio::session::{Session, SioData, Transport};

fn edge() -> Arc<Edge> {
    let verifier = Verifier::new(&AuthConfig {
        hs256_secret: Some("secret".into()),
        ..Default::default()
    })
    .unwrap();
    // Nothing here reaches the core: the link is never started.
    let mut config = EdgeConfig::new("http://127.0.0.1:9", "token", verifier);
    config.normalize();
    Arc::new(Edge::new(config).unwrap())
}

fn session() -> Arc<Session> {
    Arc::new(Session::new(
        Arc::from("sid"),
        16,
        Transport::Websocket,
        Arc::default(),
        SioData::new(None),
    ))
}

/// The next text frame for the client (a CONNECT is handled in the session's lane, by a task
/// of its own), waiting for it with a generous deadline.
async fn next_sent(s: &Session) -> String {
    let mut rx = s.try_reader().unwrap();
    loop {
        let f = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a frame for the client");
        if let Outgoing::Text(t) = f {
            return t.as_str().to_owned();
        }
    }
}

#[tokio::test]
async fn connect_to_an_unknown_namespace_gets_connect_error_44() {
    let (edge, s) = (edge(), session());
    super::on_message(&edge, &s, "0/random,").await.unwrap();
    assert_eq!(
        next_sent(&s).await,
        r#"44/random,{"message":"Invalid namespace"}"#,
        "refused as the reference server does, the session stays open"
    );
    assert!(!s.is_closed());
    assert!(!s.has_socket("/random"));
}

#[tokio::test]
async fn reserved_event_names_and_acks_without_id_from_a_client_are_protocol_errors() {
    let edge = edge();
    // Engine.IO message data: the Socket.IO packet without the Engine.IO `4`.
    for text in [r#"2["disconnect"]"#, r#"2["newListener",1]"#, "3[1]"] {
        let s = session();
        assert!(
            super::on_message(&edge, &s, text).await.is_err(),
            "{text} must be refused"
        );
    }
}

#[tokio::test]
async fn a_binary_message_without_a_binary_packet_before_it_is_a_protocol_error() {
    let (edge, s) = (edge(), session());
    let e = super::on_binary(&edge, &s, Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "unexpected binary message");
}
