//! One suite for every `Presence`: the memory one of a core that runs alone and the Redis one of a
//! cluster (on the test Redis, under a key prefix of its own per test) must give the same users,
//! rooms, counts and transitions for the same connections. Each subject is driven the way a core
//! drives it: a change goes into the node's local index first, then into presence.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use herald_server::cluster::presence::RedisPresence;
use herald_server::presence::{Changed, MemoryPresence, Presence, RegisterError, SharedIndex};

const NS: &str = "/";

/// A node: its local index and its presence.
struct Node {
    index: SharedIndex,
    presence: Arc<dyn Presence>,
}

impl Node {
    /// Opens a connection the way the core does: the local limit, the index, then presence.
    async fn open(&self, conn: &str, user: Option<&str>, max: usize) -> Result<u64, RegisterError> {
        {
            let mut ix = self.index.write();
            if let Some(u) = user
                && ix.user_connections(NS, u).nth(max - 1).is_some()
            {
                return Err(RegisterError::UserLimit(max));
            }
            ix.insert(conn, NS, user, 1).expect("a new connection id");
        }
        let r = self.presence.register(NS, conn, user, max, None, 0).await;
        if r.is_err() {
            self.index.write().remove(conn);
        }
        r
    }

    /// Joins or leaves a room; returns whether the user came into it or left it entirely.
    async fn membership(&self, conn: &str, room: &str, join: bool) -> bool {
        let local = {
            let mut ix = self.index.write();
            let user = ix.get(conn).and_then(|c| c.user.clone());
            let before = user
                .as_deref()
                .is_some_and(|u| ix.user_in_room(NS, u, room));
            if join {
                ix.join(conn, room).unwrap();
            } else {
                ix.leave(conn, room).unwrap();
            }
            let after = user
                .as_deref()
                .is_some_and(|u| ix.user_in_room(NS, u, room));
            Changed {
                user_transition: before != after,
                seq: 0,
            }
        };
        self.presence
            .membership(NS, conn, room, join, 100, local)
            .await
            .unwrap()
            .unwrap()
            .user_transition
    }

    /// Closes a connection; returns the rooms its user left entirely.
    async fn close(&self, conn: &str) -> Vec<String> {
        let gone = self.index.write().remove(conn).expect("an open connection");
        let mut left = self
            .presence
            .unregister(&gone.conn, std::time::Duration::ZERO)
            .await
            .unwrap()
            .unwrap_or_default()
            .rooms_left;
        left.sort();
        left
    }

    async fn user_conns(&self, user: &str) -> Vec<(String, u32)> {
        let mut v = self.presence.user_conns(NS, user).await.unwrap();
        v.sort();
        v
    }

    async fn room(&self, room: &str) -> (BTreeMap<String, u32>, u32) {
        self.presence.room_presence(NS, room).await.unwrap()
    }
}

fn memory() -> Node {
    let index = SharedIndex::default();
    Node {
        presence: Arc::new(MemoryPresence::new(index.clone())),
        index,
    }
}

/// A cluster of `n` nodes on the test Redis, under a fresh prefix.
/// `n` nodes on one Redis: standalone, or the private Redis Cluster.
async fn redis_nodes(n: usize, cluster: bool) -> Vec<Node> {
    let r = if cluster {
        common::test_redis_cluster("presence").await
    } else {
        common::test_redis("presence").await
    };
    let mut nodes = Vec::new();
    for _ in 0..n {
        let node = r.claim_node_id().await.unwrap();
        nodes.push(Node {
            index: SharedIndex::default(),
            presence: Arc::new(RedisPresence::new(r.clone(), node)),
        });
    }
    nodes
}

/// Runs a scenario against the memory presence and the Redis one.
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

#[tokio::test]
async fn connections_users_and_counts() {
    both(|n| async move {
        let me = n.presence.node();
        n.open("c1", Some("u"), 10).await.unwrap();
        n.open("c2", Some("u"), 10).await.unwrap();
        n.open("c3", None, 10).await.unwrap();
        assert_eq!(
            n.user_conns("u").await,
            [("c1".to_owned(), me), ("c2".to_owned(), me)]
        );
        assert!(n.user_conns("nobody").await.is_empty());
        assert_eq!(n.presence.conn_node(NS, "c3").await.unwrap(), Some(me));
        assert_eq!(n.presence.conn_node(NS, "c9").await.unwrap(), None);
        assert_eq!(
            n.presence.conn_node("/other", "c1").await.unwrap(),
            None,
            "a connection lives in its namespace only"
        );
        let users = ["u".to_owned(), "x".to_owned()];
        assert_eq!(n.presence.user_counts(NS, &users).await.unwrap(), [2, 0]);
        assert!(n.presence.user_counts(NS, &[]).await.unwrap().is_empty());
        let c = n.presence.counts(NS).await.unwrap();
        assert_eq!((c.connections, c.users, c.rooms), (3, 1, 0));
        n.close("c1").await;
        n.close("c3").await;
        assert_eq!(n.presence.user_counts(NS, &users).await.unwrap(), [1, 0]);
        let c = n.presence.counts(NS).await.unwrap();
        assert_eq!((c.connections, c.users, c.rooms), (1, 1, 0));
    })
    .await;
}

#[tokio::test]
async fn rooms_say_when_a_user_comes_and_goes() {
    both(|n| async move {
        n.open("c1", Some("u"), 10).await.unwrap();
        n.open("c2", Some("u"), 10).await.unwrap();
        n.open("c3", Some("v"), 10).await.unwrap();
        assert!(n.membership("c1", "a", true).await, "u comes into a");
        assert!(!n.membership("c2", "a", true).await, "u is in a already");
        assert!(n.membership("c3", "a", true).await, "v comes into a");
        assert!(n.membership("c3", "b", true).await);
        let (users, conns) = n.room("a").await;
        assert_eq!(conns, 3);
        assert_eq!(users, BTreeMap::from([("u".into(), 2), ("v".into(), 1)]));
        assert_eq!(n.presence.counts(NS).await.unwrap().rooms, 2);
        assert!(!n.membership("c1", "a", false).await, "u is still in a");
        assert_eq!(n.close("c2").await, ["a"], "u's last connection in a");
        assert_eq!(n.close("c3").await, ["a", "b"]);
        let (users, conns) = n.room("a").await;
        assert!(users.is_empty());
        assert_eq!(conns, 0);
        assert_eq!(n.presence.counts(NS).await.unwrap().rooms, 0);
    })
    .await;
}

#[tokio::test]
async fn the_per_user_limit_holds() {
    both(|n| async move {
        n.open("c1", Some("u"), 2).await.unwrap();
        n.open("c2", Some("u"), 2).await.unwrap();
        let third = n.open("c3", Some("u"), 2).await;
        assert!(
            matches!(third, Err(RegisterError::UserLimit(2))),
            "{third:?}"
        );
        n.open("c4", Some("v"), 2).await.unwrap();
        n.close("c1").await;
        n.open("c3", Some("u"), 2).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_cluster_sees_every_node_and_counts_once() {
    for cluster in [false, true] {
        let nodes = redis_nodes(2, cluster).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        a.open("c1", Some("u"), 2).await.unwrap();
        b.open("c2", Some("u"), 2).await.unwrap();
        let third = b.open("c3", Some("u"), 2).await;
        assert!(
            matches!(third, Err(RegisterError::UserLimit(2))),
            "the limit is cluster-wide: {third:?}"
        );
        let (na, nb) = (a.presence.node(), b.presence.node());
        let mut expect = vec![("c1".to_owned(), na), ("c2".to_owned(), nb)];
        expect.sort();
        assert_eq!(b.user_conns("u").await, expect);
        assert_eq!(b.presence.conn_node(NS, "c1").await.unwrap(), Some(na));
        assert!(a.membership("c1", "r", true).await);
        assert!(!b.membership("c2", "r", true).await, "u is in r through a");
        assert_eq!(a.room("r").await.1, 2);
        assert_eq!(a.close("c1").await, Vec::<String>::new(), "u is in r on b");
        assert_eq!(b.close("c2").await, ["r"]);
    }
}
