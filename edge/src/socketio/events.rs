//! Routes one client event by the namespace's policy, in the contract's order: join/leave (and
//! aliases), relay, forward, then the unknown-events policy.

use std::sync::Arc;

use herald_codec::event::Arg;
use serde_json::json;

use crate::config::UnknownEvents;
use crate::socketio::session::Session;
use crate::socketio::state::Sio;
use crate::socketio::{forward, ok_body, relay, rooms, send_ack_json};

/// Handles a client EVENT of a connected socket; `ack` is the client's ack id, if it wants one.
pub(crate) async fn on_event(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    ns: &str,
    ack: Option<u64>,
    name: &str,
    args: Vec<Arg>,
) {
    let Some(cfg) = sio.config.namespace(ns) else {
        return;
    };
    if let Some(op) = rooms::room_op(cfg, name) {
        let result = rooms::room_event(sio, session, cfg, op, args).await;
        send_ack_json(sio, session, ns, ack, &ok_body(&result));
    } else if cfg.relay.iter().any(|r| r == name) {
        let result = relay::relay(sio, session, cfg, name, args, ack.is_some()).await;
        send_ack_json(sio, session, ns, ack, &ok_body(&result));
    } else if cfg.forward.iter().any(|f| f == name) {
        forward::forward_event(sio, session, ns, name, args, ack);
    } else {
        match cfg.unknown_events {
            UnknownEvents::Error => {
                let body = json!({ "error": format!("unknown event {name}") });
                send_ack_json(sio, session, ns, ack, &body);
            }
            UnknownEvents::Ignore => {}
        }
        tracing::debug!(ns, name, "unknown client event");
    }
}
