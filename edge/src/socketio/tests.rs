//! The Socket.IO layer on an engine session, without transports or a listener: packets go in
//! through the layer's entry points, what the client would read is taken from the session's queue,
//! and what the core gets (and answers) is a scripted core's (see [`super::fake_core`]).

mod client_events;
mod connect;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_auth::{AuthConfig, MintOptions, Verifier, mint_hs256};
use herald_engine::Outgoing;
use tokio::sync::mpsc;

use crate::config::{EdgeConfig, NamespaceConfig};
use crate::socketio::core::{Core, REQUEST_TIMEOUT};
use crate::socketio::fake_core::{FakeCore, Got, next_got};
use crate::socketio::session::{Session, SioData};
use crate::socketio::state::Sio;
use herald_engine::Transport;
use herald_proto::v1::link_request::Msg;

/// The verifier's HS256 secret.
const SECRET: &str = "secret";

fn config() -> EdgeConfig {
    let verifier = Verifier::new(&AuthConfig {
        hs256_secret: Some(SECRET.into()),
        ..Default::default()
    })
    .unwrap();
    let mut config = EdgeConfig::new("http://127.0.0.1:9", "token", verifier);
    let mut ns = NamespaceConfig::new("/");
    ns.forward = vec!["ask".into(), "slow".into(), "fast".into()];
    ns.relay = vec!["typing".into()];
    config.namespaces = vec![ns];
    config.normalize();
    config
}

/// The layer with a core out of reach (what it is sent is not read).
fn sio() -> Arc<Sio> {
    sio_with(FakeCore::unavailable().0)
}

/// The layer talking to `core`.
fn sio_with(core: Arc<dyn Core>) -> Arc<Sio> {
    Arc::new(Sio::new(config(), core))
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

/// A token of user `sub` that may join `rooms`.
fn token(sub: &str, rooms: &[&str]) -> String {
    let opts = MintOptions {
        sub: sub.into(),
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    };
    mint_hs256(SECRET, &opts).unwrap()
}

/// The CONNECT to `/` of a client with `token`.
fn connect_packet(token: &str) -> String {
    format!(r#"0{{"token":"{token}"}}"#)
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

/// Hands the layer a packet from the client, which must not hold up the reader: whatever waits on
/// the core runs in the session's lane or a task of its own.
async fn client_sends(sio: &Arc<Sio>, s: &Arc<Session>, text: &str) {
    tokio::time::timeout(Duration::from_secs(10), super::on_message(sio, s, text))
        .await
        .expect("the reader is not held up by the core")
        .expect("a valid packet");
}

/// What the client could read now.
fn sent_now(s: &Session) -> Option<Outgoing> {
    s.try_reader().unwrap().try_recv()
}

/// Connects user `sub` (who may join `rooms`) to `/` through a core that applies the registration
/// at once; returns the connection id.
async fn connected(
    sio: &Arc<Sio>,
    s: &Arc<Session>,
    got: &mut mpsc::Receiver<Got>,
    sub: &str,
    rooms: &[&str],
) -> String {
    client_sends(sio, s, &connect_packet(&token(sub, rooms))).await;
    let Got::Request {
        msg: Msg::Opened(opened),
        limit,
    } = next_got(got).await
    else {
        panic!("the core gets the registration first");
    };
    assert_eq!(limit, REQUEST_TIMEOUT);
    assert_eq!(
        next_sent(s).await,
        format!(r#"40{{"sid":"{}"}}"#, opened.connection_id)
    );
    opened.connection_id
}

#[tokio::test]
async fn connect_to_an_unknown_namespace_gets_connect_error_44() {
    let (sio, s) = (sio(), session());
    super::on_message(&sio, &s, "0/random,").await.unwrap();
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
    let sio = sio();
    // Engine.IO message data: the Socket.IO packet without the Engine.IO `4`.
    for text in [r#"2["disconnect"]"#, r#"2["newListener",1]"#, "3[1]"] {
        let s = session();
        assert!(
            super::on_message(&sio, &s, text).await.is_err(),
            "{text} must be refused"
        );
    }
}

#[tokio::test]
async fn a_binary_message_without_a_binary_packet_before_it_is_a_protocol_error() {
    let (sio, s) = (sio(), session());
    let e = super::on_binary(&sio, &s, Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "unexpected binary message");
}
