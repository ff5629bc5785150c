//! Backend handlers registered over `Handle`: who takes which client events,
//! round-robin among them, the calls waiting for their replies, and the node's
//! count of them in the cluster.

use std::collections::HashMap;
use std::time::Duration;

use herald_proto::v1::{Arg, ClientEvent, HandleResponse, handle_response};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tonic::Status;

use crate::feed::{Feed, FeedError};

type Key = (String, String);
type Reply = Result<Vec<Arg>, String>;

struct Handler {
    feed: Feed<HandleResponse>,
    keys: Vec<Key>,
}

struct Call {
    handler: u64,
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
struct State {
    by_key: HashMap<Key, Vec<u64>>,
    next: HashMap<Key, usize>,
    handlers: HashMap<u64, Handler>,
    calls: HashMap<u64, Call>,
    next_call: u64,
}

/// Every registered handler and every call in flight.
#[derive(Default)]
pub struct Handlers {
    state: Mutex<State>,
}

impl Handlers {
    pub fn register(
        &self,
        id: u64,
        namespace: &str,
        events: &[String],
        feed: Feed<HandleResponse>,
    ) {
        let mut s = self.state.lock();
        let keys: Vec<Key> = events
            .iter()
            .map(|e| (namespace.to_owned(), e.clone()))
            .collect();
        for k in &keys {
            s.by_key.entry(k.clone()).or_default().push(id);
        }
        s.handlers.insert(id, Handler { feed, keys });
    }

    /// Forgets a handler; its calls in flight fail with "handler disconnected". Returns the keys
    /// it took (none if it was already gone).
    pub fn remove(&self, id: u64) -> Vec<Key> {
        let mut s = self.state.lock();
        let mut removed = Vec::new();
        if let Some(h) = s.handlers.remove(&id) {
            removed.clone_from(&h.keys);
            for k in h.keys {
                if let Some(v) = s.by_key.get_mut(&k) {
                    v.retain(|x| *x != id);
                    if v.is_empty() {
                        s.by_key.remove(&k);
                    }
                }
            }
        }
        let orphaned: Vec<u64> = s
            .calls
            .iter()
            .filter(|(_, c)| c.handler == id)
            .map(|(k, _)| *k)
            .collect();
        for call in orphaned {
            if let Some(c) = s.calls.remove(&call) {
                let _ = c.reply.send(Err("handler disconnected".into()));
            }
        }
        removed
    }

    pub fn count(&self) -> usize {
        self.state.lock().handlers.len()
    }

    /// Every (namespace, event) with how many handlers take it.
    pub fn keys(&self) -> Vec<(String, String, usize)> {
        self.state
            .lock()
            .by_key
            .iter()
            .map(|((ns, ev), ids)| (ns.clone(), ev.clone(), ids.len()))
            .collect()
    }

    /// Gives `ev` to one handler of its namespace and event and waits for the reply.
    pub async fn call(&self, mut ev: ClientEvent, timeout: Duration) -> Reply {
        let (tx, rx) = oneshot::channel();
        let call_id = {
            let mut s = self.state.lock();
            s.next_call += 1;
            let call_id = s.next_call;
            ev.call_id = call_id;
            let handler = pick_and_send(&mut s, ev)?;
            s.calls.insert(call_id, Call { handler, reply: tx });
            call_id
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err("handler disconnected".into()),
            Err(_) => {
                self.state.lock().calls.remove(&call_id);
                Err(format!("handler timeout after {} ms", timeout.as_millis()))
            }
        }
    }

    /// Gives `ev` to one handler without waiting for a reply ($disconnect).
    pub fn tell(&self, mut ev: ClientEvent) {
        ev.call_id = 0;
        let mut s = self.state.lock();
        if let Err(e) = pick_and_send(&mut s, ev) {
            tracing::debug!(error = %e, "event not handed to a handler");
        }
    }

    /// A handler answered; replies to unknown or late calls are ignored.
    pub fn reply(&self, handler: u64, call_id: u64, reply: Reply) -> bool {
        let mut s = self.state.lock();
        match s.calls.get(&call_id) {
            Some(c) if c.handler == handler => {
                if let Some(c) = s.calls.remove(&call_id) {
                    let _ = c.reply.send(reply);
                }
                true
            }
            _ => false,
        }
    }
}

/// Round-robin over the handlers of the event's key; skips full or closed ones.
fn pick_and_send(s: &mut State, ev: ClientEvent) -> Result<u64, String> {
    let key = (ev.namespace.clone(), ev.event.clone());
    let Some(ids) = s.by_key.get(&key).cloned() else {
        return Err(format!("no handler for {}", ev.event));
    };
    let start = s.next.get(&key).copied().unwrap_or(0);
    let mut msg = Some(ev);
    for i in 0..ids.len() {
        let id = ids[(start + i) % ids.len()];
        let Some(h) = s.handlers.get(&id) else {
            continue;
        };
        let Some(ev) = msg.take() else { break };
        let item = HandleResponse {
            msg: Some(handle_response::Msg::Event(ev)),
        };
        match h.feed.try_send(item) {
            Ok(()) => {
                s.next.insert(key, (start + i + 1) % ids.len());
                return Ok(id);
            }
            Err(FeedError::Full) => {
                h.feed.close(Status::resource_exhausted(
                    "handler is not reading its stream",
                ));
                return Err("handler overloaded".into());
            }
            Err(FeedError::Closed) => {
                return Err("handler disconnected".into());
            }
        }
    }
    Err(format!("no handler for {}", key.1))
}

impl super::Node {
    /// Registers a handler of these events of a namespace, here and in the cluster.
    pub async fn register_handler(
        &self,
        id: u64,
        ns: &str,
        events: &[String],
        feed: Feed<HandleResponse>,
    ) {
        self.handlers.register(id, ns, events, feed);
        self.count_handler_keys(ns, events, 1).await;
    }

    /// Forgets a handler (once, whichever end noticed first), here and in the cluster.
    pub async fn handler_gone(&self, id: u64) {
        for (ns, event) in self.handlers.remove(id) {
            self.count_handler_keys(&ns, std::slice::from_ref(&event), -1)
                .await;
        }
    }

    /// Tells the cluster this node has `delta` more handlers of these events.
    async fn count_handler_keys(&self, ns: &str, events: &[String], delta: i64) {
        for event in events {
            if let Err(e) = self.control.count_handlers(ns, event, delta).await {
                tracing::warn!(event, error = %e, "handler not registered in the cluster");
            }
        }
    }
}
