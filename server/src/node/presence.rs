//! Presence events: a room hears that a user came or went, when its namespace asks for it.

use herald_proto::v1::{Arg, DeliveryClass, EmitRequest, arg};
use serde_json::json;

use super::Node;

impl Node {
    /// Tells a room that `user` joined or left it, when the namespace asks for it.
    pub fn presence_event(&self, ns: &str, room: &str, user: &str, status: &str) {
        if !self.config.policy(ns).presence_events {
            return;
        }
        let body = json!({ "room": room, "user_id": user, "status": status });
        let req = EmitRequest {
            namespace: ns.to_owned(),
            targets: vec![format!("room:{room}")],
            except: vec![format!("user:{user}")],
            event: "presence".into(),
            args: vec![Arg {
                value: Some(arg::Value::Json(body.to_string())),
            }],
            delivery: DeliveryClass::Volatile.into(),
            ..Default::default()
        };
        if self.internal.try_send(req).is_err() {
            tracing::warn!(
                ns,
                room,
                user,
                "presence event dropped: internal queue full"
            );
        }
    }
}
