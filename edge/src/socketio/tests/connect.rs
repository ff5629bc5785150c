//! CONNECT against a scripted core: the registration it gets, and what the client is answered
//! when the core applies it, refuses it, fails or cannot be reached.

use std::sync::Arc;

use herald_proto::v1::{Applied, ConnectionClosed, link_request::Msg};
use tokio::sync::Notify;

use super::{client_sends, connect_packet, next_sent, sent_now, session, sio_with, token};
use crate::socketio::core::{CoreError, REQUEST_TIMEOUT};
use crate::socketio::fake_core::{FakeCore, Got, next_got, now};

#[tokio::test]
async fn the_client_gets_40_only_once_the_core_applied_its_registration() {
    let applied = Arc::new(Notify::new());
    let (core, mut got) = FakeCore::new({
        let applied = applied.clone();
        move |msg| match msg {
            Msg::Opened(_) => {
                let applied = applied.clone();
                Box::pin(async move {
                    applied.notified().await;
                    Ok(Applied::default())
                })
            }
            _ => now(Ok(Applied::default())),
        }
    });
    let (sio, s) = (sio_with(core), session());
    client_sends(&sio, &s, &connect_packet(&token("u1", &[]))).await;

    let Got::Request {
        msg: Msg::Opened(opened),
        limit,
    } = next_got(&mut got).await
    else {
        panic!("the core gets the registration");
    };
    assert_eq!(
        (opened.user_id.as_str(), opened.namespace.as_str()),
        ("u1", "/")
    );
    assert!(!opened.connection_id.is_empty());
    assert_eq!(limit, REQUEST_TIMEOUT);
    assert!(
        sent_now(&s).is_none(),
        "nothing for the client while the core has not applied the registration"
    );

    applied.notify_one();
    assert_eq!(
        next_sent(&s).await,
        format!(r#"40{{"sid":"{}"}}"#, opened.connection_id)
    );
    assert!(s.has_socket("/"));
    assert!(sio.index.read().get(&opened.connection_id).is_some());
    assert!(got.try_recv().is_err(), "nothing else reached the core");
}

#[tokio::test]
async fn a_registration_the_core_does_not_apply_gets_44_with_its_error_and_is_forgotten() {
    let failures = [
        (
            CoreError::Refused("too many connections for user u1".into()),
            "too many connections for user u1",
        ),
        (CoreError::Unavailable, "core unavailable"),
        (CoreError::Timeout, "core did not answer in time"),
    ];
    for (error, message) in failures {
        let (core, mut got) = FakeCore::new(move |_| now(Err(error.clone())));
        let (sio, s) = (sio_with(core), session());
        client_sends(&sio, &s, &connect_packet(&token("u1", &[]))).await;
        assert_eq!(
            next_sent(&s).await,
            format!(r#"44{{"message":"{message}"}}"#)
        );
        let Got::Request {
            msg: Msg::Opened(opened),
            ..
        } = next_got(&mut got).await
        else {
            panic!("the core gets the registration");
        };
        // The core may have registered it before failing: it is told to forget it.
        let Got::Owed(Msg::Closed(closed)) = next_got(&mut got).await else {
            panic!("the core is told the connection is gone");
        };
        assert_eq!(
            closed,
            ConnectionClosed {
                connection_id: opened.connection_id.clone(),
                reason: "connect failed".into(),
                recoverable: false,
            }
        );
        assert!(!s.has_socket("/"), "{message}: no socket");
        assert!(sio.index.read().get(&opened.connection_id).is_none());
        assert!(!s.is_closed(), "{message}: the session stays open");
    }
}

#[tokio::test]
async fn an_unreachable_core_gets_44_core_unavailable_and_the_session_stays_usable() {
    let (core, mut got) = FakeCore::unavailable();
    let (sio, s) = (sio_with(core), session());
    let connect = connect_packet(&token("u1", &[]));
    for _ in 0..2 {
        client_sends(&sio, &s, &connect).await;
        assert_eq!(next_sent(&s).await, r#"44{"message":"core unavailable"}"#);
        assert!(!s.has_socket("/"));
        assert!(
            !s.is_closed(),
            "refused as any CONNECT: the session stays open"
        );
    }
    assert!(got.try_recv().is_err(), "nothing was sent to the core");
}
