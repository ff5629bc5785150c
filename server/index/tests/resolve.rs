//! Target resolution: each matching connection once, exclusions applied, namespaces apart.

use herald_index::{Index, Topic};

fn t(s: &str) -> Topic<'_> {
    Topic::parse(s).unwrap()
}

fn resolved(ix: &Index<u32>, ns: &str, targets: &[&str], except: &[&str]) -> Vec<String> {
    let targets: Vec<Topic> = targets.iter().map(|s| t(s)).collect();
    let except: Vec<Topic> = except.iter().map(|s| t(s)).collect();
    let mut out = Vec::new();
    let n = ix.resolve(ns, &targets, &except, |c| out.push(c.id.to_string()));
    assert_eq!(n, out.len());
    out.sort();
    out
}

fn sample() -> Index<u32> {
    let mut ix = Index::new();
    ix.insert("a1", "/", Some("alice"), 1).unwrap();
    ix.insert("a2", "/", Some("alice"), 2).unwrap();
    ix.insert("b1", "/", Some("bob"), 1).unwrap();
    ix.insert("x1", "/", None, 2).unwrap();
    ix.insert("c1", "/chat", Some("alice"), 1).unwrap();
    ix.join("a1", "lobby").unwrap();
    ix.join("b1", "lobby").unwrap();
    ix.join("c1", "lobby").unwrap();
    ix
}

#[test]
fn user_topic_reaches_every_device_of_that_user_only() {
    let ix = sample();
    assert_eq!(resolved(&ix, "/", &["user:alice"], &[]), ["a1", "a2"]);
    assert_eq!(resolved(&ix, "/chat", &["user:alice"], &[]), ["c1"]);
    assert!(resolved(&ix, "/", &["user:nobody"], &[]).is_empty());
}

#[test]
fn several_matching_targets_deliver_once() {
    let ix = sample();
    assert_eq!(
        resolved(&ix, "/", &["user:alice", "room:lobby", "conn:a1"], &[]),
        ["a1", "a2", "b1"]
    );
}

#[test]
fn exclusions_by_conn_user_and_room() {
    let ix = sample();
    assert_eq!(resolved(&ix, "/", &["*"], &["conn:a1"]), ["a2", "b1", "x1"]);
    assert_eq!(resolved(&ix, "/", &["*"], &["user:alice"]), ["b1", "x1"]);
    assert_eq!(resolved(&ix, "/", &["*"], &["room:lobby"]), ["a2", "x1"]);
    assert!(resolved(&ix, "/", &["room:lobby"], &["*"]).is_empty());
}

#[test]
fn conn_target_stays_in_its_namespace() {
    let ix = sample();
    assert!(resolved(&ix, "/", &["conn:c1"], &[]).is_empty());
    assert_eq!(resolved(&ix, "/chat", &["conn:c1"], &[]), ["c1"]);
}

#[test]
fn remove_updates_topics_and_presence() {
    let mut ix = sample();
    let r = ix.remove("a1").unwrap();
    assert!(!r.user_offline, "alice still has a2");
    assert!(ix.is_online("/", "alice"));
    assert_eq!(resolved(&ix, "/", &["room:lobby"], &[]), ["b1"]);
    let r = ix.remove("a2").unwrap();
    assert!(r.user_offline);
    assert!(!ix.is_online("/", "alice"));
    assert!(ix.is_online("/chat", "alice"));
    assert!(ix.remove("a2").is_none());
    assert_eq!(ix.counts("/"), (2, 1, 1));
}

#[test]
fn join_leave_and_errors() {
    let mut ix = sample();
    assert_eq!(ix.join("a1", "lobby"), Ok(false));
    assert_eq!(ix.leave("a1", "lobby"), Ok(true));
    assert_eq!(ix.leave("a1", "lobby"), Ok(false));
    assert!(ix.join("zz", "lobby").is_err());
    assert!(ix.insert("a1", "/", None, 0).is_err());
    assert_eq!(ix.room_members("/", "lobby").count(), 1);
}

#[test]
fn remove_where_drops_one_links_connections() {
    let mut ix = sample();
    let gone = ix.remove_where(|v| *v == 2);
    assert_eq!(gone.len(), 2);
    assert_eq!(resolved(&ix, "/", &["*"], &[]), ["a1", "b1"]);
    assert_eq!(ix.user_connections("/", "alice").count(), 1);
}
