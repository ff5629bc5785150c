//! The core's metrics move with their events: emits by result, deliveries queued and dropped, and a
//! direct subscriber that stops reading dropped as slow.

mod common;

use std::time::Duration;

use common::{TOKEN, authed, channel};
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{Arg, EmitRequest, SubscribeRequest, arg};
use herald_server::{Core, CoreConfig};

/// The value of the sample line `series` (name with labels), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn emits_deliveries_and_slow_subscribers_are_counted() {
    let config = CoreConfig {
        service_tokens: vec![TOKEN.into()],
        subscriber_queue: 4,
        ..CoreConfig::default()
    };
    let core = Core::start(config).await.unwrap();
    let metrics = core.metrics();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(core.serve(listener, async {
        let _ = stopped.await;
    }));
    let mut api = HeraldServiceClient::new(channel(&url).await);

    // A subscriber that never reads: its queue (4) and the transport's buffers fill up.
    let sub = api
        .subscribe(authed(SubscribeRequest {
            namespace: "/".into(),
            topics: vec!["room:busy".into()],
            since: Vec::new(),
        }))
        .await
        .unwrap();
    let big = "x".repeat(16 * 1024);
    let ok = r#"herald_emits_total{namespace="/",result="ok"}"#;
    let slow = r#"herald_slow_disconnects_total{kind="subscriber"}"#;
    let dropped = r#"herald_deliveries_total{namespace="/",result="dropped"}"#;
    let queued = r#"herald_deliveries_total{namespace="/",result="queued"}"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut sent = 0.0;
    loop {
        api.emit(authed(EmitRequest {
            namespace: "/".into(),
            targets: vec!["room:busy".into()],
            event: "e".into(),
            args: vec![Arg {
                value: Some(arg::Value::Json(format!("{big:?}"))),
            }],
            ..Default::default()
        }))
        .await
        .unwrap();
        sent += 1.0;
        let text = metrics().await;
        if value(&text, slow) >= 1.0 {
            assert_eq!(value(&text, ok), sent, "{text}");
            assert!(value(&text, dropped) >= 1.0, "{text}");
            assert!(value(&text, queued) >= 1.0, "{text}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscriber was never dropped: {text}"
        );
    }
    drop(sub);

    let bad = api
        .emit(authed(EmitRequest {
            namespace: "/".into(),
            targets: vec!["nowhere".into()],
            event: "e".into(),
            ..Default::default()
        }))
        .await;
    assert!(bad.is_err());
    let text = metrics().await;
    assert_eq!(
        value(
            &text,
            r#"herald_emits_total{namespace="/",result="invalid"}"#
        ),
        1.0,
        "{text}"
    );
    let _ = stop.send(());
}
