//! A cluster's sessions for recovery, driven the way two cores drive them: the core that held a
//! connection registers it (its session kept from then on), joins it to rooms and unregisters it
//! when it goes; the other core takes the session when the client comes back through it. Whatever
//! the order of the two, the taken session has the connection's rooms, and a session is taken
//! once.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use herald_index::Conn;
use herald_server::broker::{Broker, LIVE_SESSION, Limits, RedisBroker, SessionRecord};
use herald_server::cluster::Redis;
use herald_server::cluster::presence::RedisPresence;
use herald_server::presence::{Changed, Presence};
use tokio::sync::mpsc;

const NS: &str = "/";
const WINDOW: Duration = Duration::from_secs(60);

/// A core of the cluster, as far as sessions go: its presence and its broker.
struct Core {
    presence: RedisPresence,
    broker: Arc<RedisBroker>,
}

async fn core(r: &Arc<Redis>) -> Core {
    let node = r.claim_node_id().await.unwrap();
    let (ctl, _) = mpsc::channel(16);
    let limits = Limits {
        max_events: 100,
        max_age_ms: 60_000,
    };
    Core {
        presence: RedisPresence::new(r.clone(), node),
        broker: RedisBroker::new(r.clone(), node, 64, HashMap::new(), limits, ctl),
    }
}

/// Two cores on one Redis: standalone, or the private Redis Cluster.
async fn two_cores(cluster: bool) -> (Core, Core) {
    let r = if cluster {
        common::test_redis_cluster("sessions").await
    } else {
        common::test_redis("sessions").await
    };
    (core(&r).await, core(&r).await)
}

fn live(conn: &str) -> SessionRecord {
    SessionRecord {
        connection_id: conn.into(),
        namespace: NS.into(),
        user_id: "u1".into(),
        rooms: Vec::new(),
        data_json: "{}".into(),
        expires_ms: LIVE_SESSION,
        granted_rooms: Vec::new(),
    }
}

fn gone(conn: &str) -> Conn<u64> {
    let mut ix = herald_index::Index::default();
    ix.insert(conn, NS, Some("u1"), 1).unwrap();
    ix.remove(conn).unwrap().conn
}

impl Core {
    /// Registers `conn` with session `pid`, in room `a` by a backend's Join and `b` by its own.
    async fn open_in_rooms(&self, conn: &str, pid: &str) {
        let rec = live(conn);
        self.presence
            .register(NS, conn, Some("u1"), 0, Some((pid, &rec)), 0)
            .await
            .unwrap();
        let local = Changed {
            user_transition: true,
            seq: 0,
        };
        for room in ["a", "b"] {
            self.presence
                .membership(NS, conn, room, true, 100, local)
                .await
                .unwrap()
                .unwrap();
        }
        self.presence
            .grant(NS, conn, &["a".to_owned()], true)
            .await
            .unwrap();
    }

    async fn take(&self, pid: &str) -> Option<SessionRecord> {
        let mut rec = self.broker.take_session(NS, pid).await.unwrap()?;
        rec.rooms.sort();
        Some(rec)
    }
}

async fn scenarios(cluster: bool) {
    // The client comes back elsewhere just after its core removed the connection: the session
    // is there with the rooms, although the core has not done anything else for it yet.
    let (old, new) = two_cores(cluster).await;
    old.open_in_rooms("c1", "p1").await;
    let departed = old.presence.unregister(&gone("c1"), WINDOW).await.unwrap();
    assert!(departed.is_some(), "the core held the connection");
    let rec = new.take("p1").await.expect("the session is kept");
    assert_eq!(rec.connection_id, "c1");
    assert_eq!(rec.rooms, ["a", "b"]);
    assert_eq!(rec.granted_rooms, ["a"]);
    assert!(new.take("p1").await.is_none(), "a session is taken once");

    // The client comes back before its core saw it go: the live connection's rooms; the core's
    // removal afterwards brings no session back.
    old.open_in_rooms("c2", "p2").await;
    let rec = new.take("p2").await.expect("the live session");
    assert_eq!(rec.rooms, ["a", "b"]);
    assert_eq!(rec.granted_rooms, ["a"]);
    old.presence.unregister(&gone("c2"), WINDOW).await.unwrap();
    assert!(new.take("p2").await.is_none(), "no session comes back");

    // The resumed connection registered on the new core before the old one removed it: the old
    // core's removal leaves the new registration's session alone.
    old.open_in_rooms("c3", "p3").await;
    new.take("p3").await.expect("the live session");
    new.open_in_rooms("c3", "p3").await;
    let departed = old.presence.unregister(&gone("c3"), WINDOW).await.unwrap();
    assert!(departed.is_none(), "the connection is the new core's now");
    let rec = new
        .take("p3")
        .await
        .expect("the new registration's session");
    assert_eq!(rec.rooms, ["a", "b"]);

    // A connection that ended for good leaves no session.
    old.open_in_rooms("c4", "p4").await;
    old.presence
        .unregister(&gone("c4"), Duration::ZERO)
        .await
        .unwrap();
    assert!(new.take("p4").await.is_none());
}

#[tokio::test]
async fn a_session_is_taken_with_its_rooms_whenever_its_connection_goes() {
    scenarios(false).await;
    scenarios(true).await;
}
