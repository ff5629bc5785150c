//! `core.max_event_bytes` is the one limit of an Emit's size, below and above gRPC's usual 4 MiB
//! message limit: what fits is accepted, what does not gets RESOURCE_EXHAUSTED naming the limit.

mod common;

use common::{authed, channel, start_with};
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{Arg, EmitRequest, arg};
use tonic::Code;

const MIB: usize = 1024 * 1024;

fn blob(len: usize) -> EmitRequest {
    EmitRequest {
        targets: vec!["room:big".into()],
        event: "big".into(),
        args: vec![Arg {
            value: Some(arg::Value::Binary(vec![7u8; len].into())),
        }],
        ..Default::default()
    }
}

async fn client(url: &str) -> HeraldServiceClient<tonic::transport::Channel> {
    HeraldServiceClient::new(channel(url).await).max_encoding_message_size(usize::MAX)
}

#[tokio::test]
async fn a_limit_above_four_mebibytes_is_the_real_limit() {
    let limit = 6 * MIB;
    let core = start_with(|c| c.max_event_bytes = limit).await;
    let mut api = client(&core.url).await;
    api.emit(authed(blob(5 * MIB)))
        .await
        .expect("5 MiB fits a 6 MiB limit");
    api.emit(authed(blob(limit)))
        .await
        .expect("exactly the limit fits");
    let e = api.emit(authed(blob(limit + 1))).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains(&limit.to_string()), "{e:?}");
}

#[tokio::test]
async fn anything_over_the_limit_is_resource_exhausted_naming_it() {
    let limit = 1_000_000;
    let core = start_with(|c| c.max_event_bytes = limit).await;
    let mut api = client(&core.url).await;
    for len in [limit + 1, 3 * MIB, 5 * MIB, 9 * MIB] {
        let e = api.emit(authed(blob(len))).await.unwrap_err();
        assert_eq!(e.code(), Code::ResourceExhausted, "{len} bytes: {e:?}");
        assert!(
            e.message().contains(&limit.to_string()),
            "{len} bytes: {e:?}"
        );
    }
}
