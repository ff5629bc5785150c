//! One suite for every `Control`: the memory one of a core that runs alone (no peers, everything
//! local) and the Redis one of a cluster (on the test Redis, under a key prefix of its own per
//! test). Both refuse a node that is not there within the timeout and never list themselves as a
//! peer; on Redis, commands and replies travel between two nodes, and handlers and figures of one
//! are seen by the other.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_server::broker::{Limits, RedisBroker};
use herald_server::cluster::control::RedisControl;
use herald_server::control::{Body, Command, Control, MemoryControl, Reply};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GUARD: Duration = Duration::from_secs(10);
/// A node id no core can claim (ids have 24 bits).
const NOBODY: u32 = u32::MAX - 1;

/// A node: its control and the commands addressed to it.
struct Node {
    control: Arc<dyn Control>,
    commands: mpsc::Receiver<Command>,
    stop: CancellationToken,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Node {
    async fn next_command(&mut self) -> Command {
        tokio::time::timeout(GUARD, self.commands.recv())
            .await
            .expect("a command within the guard")
            .expect("the queue is open")
    }
}

fn memory() -> Node {
    let (_, commands) = mpsc::channel(1);
    Node {
        control: Arc::new(MemoryControl),
        commands,
        stop: CancellationToken::new(),
    }
}

/// A cluster of `n` nodes on the test Redis, under a fresh prefix, each reading its channel.
/// `n` nodes on one Redis: standalone, or the private Redis Cluster.
async fn redis_nodes(n: usize, cluster: bool) -> Vec<Node> {
    let r = if cluster {
        common::test_redis_cluster("control").await
    } else {
        common::test_redis("control").await
    };
    let mut nodes = Vec::new();
    for _ in 0..n {
        let node = r.claim_node_id().await.unwrap();
        let (tx, commands) = mpsc::channel(16);
        let limits = Limits {
            max_events: 10,
            max_age_ms: 60_000,
        };
        let b = RedisBroker::new(r.clone(), node, 16, HashMap::new(), limits, tx);
        let stop = CancellationToken::new();
        let stream = b.subscriber().await.unwrap();
        tokio::spawn(b.clone().run_reader(stream, stop.clone()));
        nodes.push(Node {
            control: Arc::new(RedisControl::new(r.clone(), node, b)),
            commands,
            stop,
        });
    }
    nodes
}

/// Runs a scenario against the memory control and the Redis one.
async fn both<F, Fut>(scenario: F)
where
    F: Fn(Node) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(memory()).await;
    let node = redis_nodes(1, false).await.pop().unwrap();
    scenario(node).await;
    let node = redis_nodes(1, true).await.pop().unwrap();
    scenario(node).await;
}

fn disconnect(conn: &str) -> Body {
    Body::Disconnect {
        ns: "/".into(),
        conns: vec![conn.into()],
        reason: "bye".into(),
    }
}

#[tokio::test]
async fn a_node_that_is_not_there_does_not_answer() {
    both(|n| async move {
        let t0 = Instant::now();
        let r = n
            .control
            .ask(NOBODY, disconnect("c1"), Duration::from_millis(200))
            .await;
        assert!(r.is_err(), "{r:?}");
        assert!(t0.elapsed() < GUARD, "the asker gives up after its timeout");
        assert!(
            n.control
                .peers()
                .await
                .unwrap()
                .iter()
                .all(|p| p.node != n.control.node()),
            "a node is not its own peer"
        );
        // A command nobody waits for needs no reply.
        let told = Command {
            from: NOBODY,
            req: 0,
            body: disconnect("c1"),
        };
        n.control.reply(&told, Reply::default()).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn alone_every_handler_is_local() {
    let n = memory();
    assert_eq!(n.control.node(), 0);
    assert!(n.control.alone());
    n.control.count_handlers("/", "chat", 1).await.unwrap();
    assert!(
        n.control
            .handler_nodes("/", "chat")
            .await
            .unwrap()
            .is_empty(),
        "this process answers for itself"
    );
    assert!(n.control.peers().await.unwrap().is_empty());
    assert!(n.control.tell(7, disconnect("c1")).await.is_err());
}

#[tokio::test]
async fn commands_and_replies_travel_between_nodes() {
    for cluster in [false, true] {
        let mut nodes = redis_nodes(2, cluster).await;
        let mut b = nodes.pop().unwrap();
        let a = nodes.pop().unwrap();
        let (na, nb) = (a.control.node(), b.control.node());
        assert_ne!(na, nb);
        assert!(!a.control.alone());

        let asked = tokio::spawn({
            let control = a.control.clone();
            async move { control.ask(nb, disconnect("c1"), GUARD).await }
        });
        let cmd = b.next_command().await;
        assert_eq!(cmd.from, na);
        assert_eq!(cmd.body, disconnect("c1"));
        assert_ne!(cmd.req, 0, "the asker waits for a reply");
        b.control
            .reply(
                &cmd,
                Reply {
                    count: 3,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let reply = asked.await.unwrap().unwrap();
        assert_eq!(reply.count, 3);

        let ack = Body::Ack {
            ack_ref: 1,
            conn: "c2".into(),
            args: Vec::new(),
        };
        a.control.tell(nb, ack.clone()).await.unwrap();
        let cmd = b.next_command().await;
        assert_eq!((cmd.from, cmd.req, cmd.body), (na, 0, ack));
    }
}

#[tokio::test]
async fn handlers_and_figures_of_a_node_are_seen_by_the_others() {
    for cluster in [false, true] {
        let nodes = redis_nodes(2, cluster).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let na = a.control.node();
        a.control.count_handlers("/", "chat", 2).await.unwrap();
        assert_eq!(b.control.handler_nodes("/", "chat").await.unwrap(), [na]);
        assert!(
            b.control
                .handler_nodes("/", "other")
                .await
                .unwrap()
                .is_empty()
        );
        a.control.count_handlers("/", "chat", -2).await.unwrap();
        assert!(
            b.control
                .handler_nodes("/", "chat")
                .await
                .unwrap()
                .is_empty()
        );
        let peers = b.control.peers().await.unwrap();
        assert_eq!(
            peers.iter().map(|p| p.node).collect::<Vec<_>>(),
            [na],
            "b sees a"
        );
    }
}
