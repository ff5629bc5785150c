//! Shared test harness: a core on port 0, a fake edge speaking the Link stream, the test Redis.
#![allow(dead_code)]

use std::time::Duration;

use herald_proto::v1::edge_service_client::EdgeServiceClient;
use herald_proto::v1::{
    ConnectionOpened, LinkHello, LinkRequest, LinkResponse, RoomChange, link_request, link_response,
};
use herald_server::CoreConfig;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::transport::Channel;

mod redis_cluster;
pub use redis_cluster::redis_cluster_url;

pub const TOKEN: &str = "test-token";
pub const GUARD: Duration = Duration::from_secs(10);

/// A connection to the test Redis (`HERALD_TEST_REDIS_URL`) under a fresh key prefix starting
/// with `name`, so that tests never see each other's keys.
pub async fn test_redis(name: &str) -> std::sync::Arc<herald_server::cluster::Redis> {
    let url = std::env::var("HERALD_TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let mut cfg = herald_server::cluster::ClusterConfig::new(url);
    cfg.prefix = format!("herald-{name}-{:016x}", rand::random::<u64>());
    herald_server::cluster::Redis::connect(cfg)
        .await
        .expect("the test Redis is reachable")
}

/// Like [`test_redis`], in Redis Cluster mode on this test binary's private Redis Cluster.
pub async fn test_redis_cluster(name: &str) -> std::sync::Arc<herald_server::cluster::Redis> {
    let url = tokio::task::spawn_blocking(redis_cluster_url)
        .await
        .expect("the cluster starts");
    let mut cfg = herald_server::cluster::ClusterConfig::new(url);
    cfg.cluster = true;
    cfg.prefix = format!("herald-{name}-{:016x}", rand::random::<u64>());
    herald_server::cluster::Redis::connect(cfg)
        .await
        .expect("the private Redis Cluster is reachable")
}

pub struct Core {
    pub url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start() -> Core {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut CoreConfig)) -> Core {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut config = CoreConfig {
        service_tokens: vec![TOKEN.into()],
        namespaces: vec!["/".into(), "/chat".into()],
        ..CoreConfig::default()
    };
    tweak(&mut config);
    tokio::spawn(herald_server::run(listener, config, async {
        let _ = rx.await;
    }));
    Core { url, _stop: tx }
}

pub fn authed<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A fake edge: sends link requests, reads link responses.
pub struct FakeEdge {
    pub tx: mpsc::Sender<LinkRequest>,
    pub rx: tonic::Streaming<LinkResponse>,
    next: u64,
    /// Deliveries that arrived while waiting for an Applied (a relay is delivered before its answer).
    early: std::collections::VecDeque<herald_proto::v1::Delivery>,
}

impl FakeEdge {
    pub async fn link(url: &str) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let mut client = EdgeServiceClient::new(channel(url).await);
        tx.send(LinkRequest {
            request_id: 0,
            msg: Some(link_request::Msg::Hello(LinkHello {
                edge_name: "fake".into(),
            })),
        })
        .await
        .unwrap();
        let rx = client
            .link(authed(ReceiverStream::new(rx)))
            .await
            .unwrap()
            .into_inner();
        let mut edge = FakeEdge {
            tx,
            rx,
            next: 1,
            early: std::collections::VecDeque::new(),
        };
        match edge.recv().await {
            link_response::Msg::Welcome(_) => {}
            other => panic!("expected welcome, got {other:?}"),
        }
        edge
    }

    pub async fn recv(&mut self) -> link_response::Msg {
        let m = tokio::time::timeout(GUARD, self.rx.message())
            .await
            .expect("link response in time")
            .unwrap()
            .expect("link open");
        m.msg.unwrap()
    }

    /// Sends a request and waits for its Applied.
    pub async fn apply(&mut self, msg: link_request::Msg) -> String {
        let id = self.next;
        self.next += 1;
        self.tx
            .send(LinkRequest {
                request_id: id,
                msg: Some(msg),
            })
            .await
            .unwrap();
        loop {
            match self.recv().await {
                link_response::Msg::Applied(a) => {
                    assert_eq!(a.request_id, id);
                    return a.error;
                }
                link_response::Msg::Delivery(d) => self.early.push_back(d),
                other => panic!("expected applied, got {other:?}"),
            }
        }
    }

    pub async fn open(&mut self, conn: &str, user: &str) {
        let err = self
            .apply(link_request::Msg::Opened(ConnectionOpened {
                connection_id: conn.into(),
                namespace: "/".into(),
                user_id: user.into(),
                ..Default::default()
            }))
            .await;
        assert_eq!(err, "");
    }

    pub async fn join(&mut self, conn: &str, room: &str) -> String {
        self.apply(link_request::Msg::Join(RoomChange {
            connection_id: conn.into(),
            room: room.into(),
        }))
        .await
    }

    pub async fn delivery(&mut self) -> herald_proto::v1::Delivery {
        if let Some(d) = self.early.pop_front() {
            return d;
        }
        match self.recv().await {
            link_response::Msg::Delivery(d) => d,
            other => panic!("expected delivery, got {other:?}"),
        }
    }
}
