//! Routes one client event by the namespace's policy, in the contract's order: join/leave (and
//! aliases), relay, forward, then the unknown-events policy.

use std::sync::Arc;

use herald_codec::event::Arg;
use serde_json::json;

use crate::config::UnknownEvents;
use crate::edge::Edge;
use crate::socketio::session::Session;
use crate::socketio::{forward, ok_body, relay, rooms, send_ack_json};

/// Handles a client EVENT of a connected socket; `ack` is the client's ack id, if it wants one.
pub(crate) async fn on_event(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    ns: &str,
    ack: Option<u64>,
    name: &str,
    args: Vec<Arg>,
) {
    let Some(cfg) = edge.config.namespace(ns) else {
        return;
    };
    if let Some(op) = rooms::room_op(cfg, name) {
        let result = rooms::room_event(edge, session, cfg, op, args).await;
        send_ack_json(edge, session, ns, ack, &ok_body(&result));
    } else if cfg.relay.iter().any(|r| r == name) {
        let result = relay::relay(edge, session, cfg, name, args, ack.is_some()).await;
        send_ack_json(edge, session, ns, ack, &ok_body(&result));
    } else if cfg.forward.iter().any(|f| f == name) {
        forward::forward_event(edge, session, ns, name, args, ack);
    } else {
        match cfg.unknown_events {
            UnknownEvents::Error => {
                let body = json!({ "error": format!("unknown event {name}") });
                send_ack_json(edge, session, ns, ack, &body);
            }
            UnknownEvents::Ignore => {}
        }
        tracing::debug!(ns, name, "unknown client event");
    }
}
